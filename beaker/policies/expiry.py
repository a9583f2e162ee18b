"""Expiry policies: when a freshly written entry stops being fresh.

A policy maps the write time and an optional per-call TTL to an absolute deadline (seconds
since the epoch, from the cache's clock) or ``None`` for "never".
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs


@runtime_checkable
class ExpiryPolicy(Protocol):
    """Decides an entry's deadline when it is written."""

    def expires_at(self, now: float, ttl: float | None) -> float | None:
        """Return the deadline for an entry written at ``now``.

        Args:
            now: the write time, seconds since the epoch.
            ttl: a per-call override in seconds (``cache.set(..., ttl=...)``), or ``None``.
        """


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


@attrs.frozen
class NoExpiry:
    """Entries stay fresh until deleted, unless a call passes its own ``ttl``."""

    def expires_at(self, now: float, ttl: float | None) -> float | None:
        return None if ttl is None else now + ttl


@attrs.frozen
class TTL:
    """Entries stay fresh for ``seconds`` after they are written (Beaker's ``expire``).

    Args:
        seconds: lifetime in seconds (``int`` or ``float``, > 0); a per-call ``ttl`` wins.

    Raises:
        ValueError: ``seconds`` is not a positive number.
    """

    seconds: float = attrs.field(validator=_positive)

    def expires_at(self, now: float, ttl: float | None) -> float | None:
        return now + (self.seconds if ttl is None else ttl)
