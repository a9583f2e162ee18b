"""The token lease shared by the locks that live on a server (:mod:`beaker.locks.redis`,
:mod:`beaker.locks.memcached`): :func:`poll` retries taking a free name with growing, jittered
pauses until it wins or the timeout passes, and :class:`TokenLease` gives the name back with the
lock's compare-and-delete, so a holder whose lease expired cannot remove its successor's.
:class:`PollingLock` puts them together: a lock built on it supplies only its server commands.

Imports only the lock protocol and :mod:`beaker.errors`; must not import the stores, client
libraries, ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import ClassVar, Final, Generic, TypeVar

from beaker.errors import LockError, LockTimeout
from beaker.locks.base import LeaseBase

__all__ = ["PollingLock", "TokenLease", "poll"]

_T = TypeVar("_T")

_FIRST_PAUSE: Final = 0.002  # seconds before the first retry; doubles up to max_pause


def poll(name: str, timeout: float | None, max_pause: float, take: Callable[[], bool]) -> None:
    """Call ``take`` until it returns true (the caller now holds ``name``).

    Pauses between tries start at 2 ms and double up to ``max_pause``, each drawn between half
    and one and a half times its nominal length so that waiters do not retry in step.

    Args:
        name: the lock's name (``str``), for the error.
        timeout: seconds to wait at most; ``None`` waits forever, ``0`` tries once.
        max_pause: the longest pause (seconds) between tries.
        take: one attempt at the server; raises what the server's failures map to.

    Raises:
        LockTimeout: ``timeout`` passed before ``take`` won.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = _FIRST_PAUSE
    while not take():
        wait = pause * (0.5 + random.random())  # jitter: waiters do not retry in step
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(name, timeout or 0.0)
            wait = min(wait, left)
        time.sleep(wait)
        pause = min(pause * 2, max_pause)


class TokenLease(LeaseBase, Generic[_T]):
    """A lease proven by a random token stored at ``target`` on its lock's server.

    Args:
        lock: the lock that handed it out.
        name: the lock's name (``str``).
        target: the server-side key or item name holding the token.
        token: the random token the lock stored there.
    """

    __slots__ = ("_lock", "_name", "_target", "_token")

    def __init__(self, lock: PollingLock[_T], name: str, target: str, token: _T) -> None:
        self._lock = lock
        self._name = name
        self._target = target
        self._token: _T | None = token

    def release(self) -> None:
        """Give the lock up (the lock's compare-and-delete).

        Raises:
            LockError: the lease was already released.
            StoreUnavailable: the server cannot be reached (the lease then expires by itself).
        """
        token = self._token
        if token is None:
            raise LockError(f"lock {self._name!r} released twice")
        self._token = None
        lock = self._lock
        if not lock._give_back(self._name, self._target, token):
            lock._log.warning(
                "lock %r expired before it was released (held longer than expire=%gs): "
                "another holder may have run meanwhile",
                self._name,
                lock.expire,
            )


class PollingLock(Generic[_T]):
    """Base of the locks whose lease is a random token stored on a server under a name only one
    holder can create: :meth:`acquire` tries that until it wins (:func:`poll`), and the
    :class:`TokenLease` it returns removes the token only while it is still there.

    A subclass (an ``attrs`` class with ``expire`` and ``max_pause`` fields, in seconds) gives
    the server commands: :meth:`_target`, :meth:`_new_token`, :meth:`_take`,
    :meth:`_give_back`, and the logger :attr:`_log`.
    """

    __slots__ = ()

    #: Where a lease that expired before its release is reported.
    _log: ClassVar[logging.Logger]
    expire: float
    max_pause: float

    def _target(self, name: str) -> str:  # pragma: no cover - overridden
        """The server-side key or item name of lock ``name``."""
        raise NotImplementedError

    def _new_token(self) -> _T:  # pragma: no cover - overridden
        """A fresh random token for one lease."""
        raise NotImplementedError

    def _take(self, name: str, target: str, token: _T) -> bool:  # pragma: no cover - overridden
        """Store ``token`` at ``target`` for ``expire`` seconds if ``target`` is free; whether it
        was.

        Raises:
            StoreUnavailable: the server cannot be reached.
        """
        raise NotImplementedError

    def _give_back(self, name: str, target: str, token: _T) -> bool:  # pragma: no cover
        """Remove ``target`` if it still holds ``token``; whether it did.

        Raises:
            StoreUnavailable: the server cannot be reached.
        """
        raise NotImplementedError

    def acquire(self, name: str, timeout: float | None = None) -> TokenLease[_T]:
        """Hold ``name`` until the lease is released or ``expire`` seconds pass.

        Args:
            name: the lock's name (``str``).
            timeout: seconds to wait at most; ``None`` waits forever, ``0`` tries once.

        Raises:
            LockTimeout: ``timeout`` passed while another holder kept the lock.
            StoreUnavailable: the server cannot be reached.
        """
        target = self._target(name)
        token = self._new_token()
        poll(name, timeout, self.max_pause, lambda: self._take(name, target, token))
        return TokenLease(self, name, target, token)
