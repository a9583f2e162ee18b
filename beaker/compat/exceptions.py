"""Beaker's exception names (``beaker.exceptions``), tied into our single error tree.

``BeakerException`` *is* :class:`beaker.errors.BeakerError`, so an application's
``except BeakerException`` catches every error this package raises. The configuration errors
the compat layer raises are :class:`~beaker.errors.ConfigError` subclasses that are also the
class Beaker raised in the same situation (``TypeError`` for an unknown cache type,
``InvalidCacheBackendError`` for a backend that cannot be used, ``MissingCacheParameter`` for
a missing ``url``/``data_dir``), so existing ``except`` clauses keep working.

Imports only :mod:`beaker.errors`.
"""

from __future__ import annotations

from beaker.errors import BeakerError, ConfigError, LockError

__all__ = [
    "BackendNotProvided",
    "BeakerException",
    "BeakerWarning",
    "CreationAbortedError",
    "InvalidCacheBackendError",
    "InvalidCryptoBackendError",
    "LockError",
    "MissingCacheParameter",
    "MissingOption",
    "RegionNotConfigured",
    "UnknownBackendType",
]

#: Beaker's root exception: the same class as :class:`beaker.errors.BeakerError`.
BeakerException = BeakerError


class BeakerWarning(RuntimeWarning):
    """Issued at runtime (Beaker's warning class, e.g. for an invalidated corrupt session)."""


class CreationAbortedError(Exception):
    """Kept for imports only; Beaker deprecated it and nothing raises it."""


class InvalidCacheBackendError(BeakerError, ImportError):
    """A cache/session backend type cannot be used (Beaker's name)."""


class MissingCacheParameter(BeakerError):
    """A backend type needs an option that was not given (Beaker's name)."""


class InvalidCryptoBackendError(BeakerError):
    """Kept for imports; encryption always uses ``cryptography`` here."""


class UnknownBackendType(ConfigError, TypeError):
    """``type`` names no backend we know; a ``TypeError`` as in Beaker.

    Attributes: as :class:`~beaker.errors.ConfigError` (``option``, ``value``, ``expected``
    lists the known type names).
    """


class BackendNotProvided(ConfigError, InvalidCacheBackendError):
    """``type`` names a Beaker backend this package does not provide (``ext:mongodb``,
    ``ext:google``)."""


class MissingOption(ConfigError, MissingCacheParameter):
    """A backend type needs an option that is absent (``url`` for network types,
    ``data_dir`` for ``file``/``dbm``)."""


class RegionNotConfigured(ConfigError, LookupError):
    """A cache region was used that is not in ``beaker.cache.cache_regions``; a
    ``BeakerException`` as in Beaker."""
