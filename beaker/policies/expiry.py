"""Expiry policies: when a freshly written entry stops being fresh.

A policy maps the write time and an optional per-call TTL to an absolute deadline (seconds
since the epoch, from the cache's clock) or ``None`` for "never".
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from beaker.validators import seconds as _seconds_validator


@runtime_checkable
class ExpiryPolicy(Protocol):
    """Decides an entry's deadline when it is written."""

    def expires_at(self, now: float, ttl: float | None) -> float | None:
        """Return the deadline for an entry written at ``now``.

        Args:
            now: the write time, seconds since the epoch.
            ttl: a per-call override in seconds (``cache.set(..., ttl=...)``), or ``None``.
        """


@attrs.frozen
class NoExpiry:
    """Entries stay fresh until deleted, unless a call passes its own ``ttl``."""

    def expires_at(self, now: float, ttl: float | None) -> float | None:
        return None if ttl is None else now + ttl


@attrs.frozen
class TTL:
    """Entries stay fresh for ``seconds`` after they are written (Beaker's ``expire``).

    Args:
        seconds: lifetime in seconds (``int`` or ``float``, > 0 and finite, at most
            :data:`beaker.validators.MAX_SECONDS`); a per-call ``ttl`` wins.

    Raises:
        ConfigError: (a ``ValueError``) ``seconds`` is not such a number (NaN, inf and
            overflowing values included).
    """

    seconds: float = attrs.field(validator=_seconds_validator(positive=True))

    def expires_at(self, now: float, ttl: float | None) -> float | None:
        return now + (self.seconds if ttl is None else ttl)
