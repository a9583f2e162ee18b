"""Expiry policies: when a freshly written entry stops being fresh, and (:class:`XFetch`) when
a still fresh one should be recomputed early.

A policy maps the write time and an optional per-call TTL to an absolute deadline (seconds
since the epoch, from the cache's clock) or ``None`` for "never".
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs

from beaker.errors import ConfigError
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


def _beta(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e6:
        raise ConfigError(attribute.name, value, "a number > 0 (1.0 in the paper)")


@attrs.frozen
class XFetch:
    """Probabilistic early recomputation ("XFetch", Vattani, Chierichetti and Lowenstein,
    *Optimal Probabilistic Cache Stampede Prevention*, VLDB 8 (2015) 886-897): a fresh entry
    is recomputed early when ``now - delta * beta * ln(u) >= expires_at``, with ``delta`` the
    seconds its creator took and ``u`` uniform in (0, 1]. Under load one caller of
    ``get_or_create`` refreshes a hot key shortly before it expires (taking the dogpile lock
    without waiting) while the others keep getting the current value: nobody waits at expiry.

    Args:
        beta: ``float`` > 0; above 1 recomputes earlier, below 1 later (default 1.0, the
            paper's optimum).
        random: ``() -> float`` in [0, 1) (default ``random.random``); inject one in tests.

    Raises:
        ConfigError: ``beta`` is not a positive number.
    """

    beta: float = attrs.field(default=1.0, validator=_beta)
    random: Callable[[], float] = attrs.field(
        default=random.random, validator=attrs.validators.is_callable()
    )

    def early(self, now: float, expires_at: float, delta: float) -> bool:
        """Whether an entry fresh until ``expires_at`` whose creator took ``delta`` seconds
        should be recomputed at ``now`` (never for an unknown ``delta`` of 0)."""
        if delta <= 0:
            return False
        u = 1.0 - self.random()  # in (0, 1]; ln(0) is -inf: early
        return u <= 0.0 or now - delta * self.beta * math.log(u) >= expires_at


@attrs.frozen
class TTL:
    """Entries stay fresh for ``seconds`` after they are written (Beaker's ``expire``).

    Args:
        seconds: lifetime in seconds (``int`` or ``float``, > 0 and finite, at most
            :data:`beaker.validators.MAX_SECONDS`); a per-call ``ttl`` wins.
        early: an :class:`XFetch` to recompute hot entries before they expire, or ``None``
            (the default: entries are recomputed when they expire).

    Raises:
        ConfigError: (a ``ValueError``) ``seconds`` is not such a number (NaN, inf and
            overflowing values included).
    """

    seconds: float = attrs.field(validator=_seconds_validator(positive=True))
    early: XFetch | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(XFetch))
    )

    def expires_at(self, now: float, ttl: float | None) -> float | None:
        return now + (self.seconds if ttl is None else ttl)
