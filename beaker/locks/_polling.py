"""The token lease shared by the locks that live on a server (:mod:`beaker.locks.redis`,
:mod:`beaker.locks.memcached`): :func:`poll` retries taking a free name with growing, jittered
:func:`pauses` until it wins or the timeout passes, and :class:`TokenLease` gives the name back
with the lock's compare-and-delete, so a holder whose lease expired cannot remove its
successor's. :class:`PollingLock` puts them together: a lock built on it supplies only its
server commands, and :class:`ServerLock` adds the constructor of a lock on a connection part
(given, e.g. the store's, or built from its options). :class:`AsyncPollingTwin` and :class:`AsyncTokenLease` are the same for the
asyncio twins of those locks, which supply only the awaited commands.

Imports only the lock protocol, :mod:`beaker.locks.loop`, :mod:`beaker.errors` and
:mod:`beaker.stores.connection`; must not import the stores, client libraries,
``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Final, Generic, TypeVar

import attrs

from beaker.errors import LockTimeout, StoreUnavailable
from beaker.locks.base import AsyncLease, AsyncLeaseBase, LeaseBase, held_or_raise
from beaker.locks.loop import AsyncioLock
from beaker.stores.connection import connection_of
from beaker.validators import seconds

__all__ = [
    "AsyncPollingTwin",
    "AsyncTokenLease",
    "PollingLock",
    "ServerLock",
    "TokenLease",
    "pauses",
    "poll",
]

_T = TypeVar("_T")

_FIRST_PAUSE: Final = 0.002  # seconds before the first retry; doubles up to max_pause


def pauses(
    name: str, timeout: float | None, max_pause: float, first: float = _FIRST_PAUSE
) -> Iterator[float]:
    """The pauses (seconds) between tries at a lock, sync or async: from ``first`` doubling up
    to ``max_pause``, each drawn between half and one and a half times its nominal length so
    that waiters do not retry in step, and cut at the deadline ``timeout`` seconds from now.

    Args:
        name: the lock's name (``str``), for the error.
        timeout: seconds to wait at most; ``None`` waits forever, ``0`` (or less) tries once.
        max_pause: the longest pause (seconds).
        first: the first pause (seconds).

    Raises:
        LockTimeout: (from ``next``) the deadline has passed.
    """
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
    pause = first
    while True:
        wait = pause * (0.5 + random.random())  # jitter: waiters do not retry in step
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(name, max(timeout or 0.0, 0.0))
            wait = min(wait, left)
        yield wait
        pause = min(pause * 2, max_pause)


def max_pause_field() -> Any:
    """The ``max_pause`` field of a polling lock: the longest pause between tries while
    waiting (seconds > 0, default 0.1)."""
    return attrs.field(default=0.1, validator=seconds(positive=True))


def poll(name: str, timeout: float | None, max_pause: float, take: Callable[[], bool]) -> None:
    """Call ``take`` until it returns true (the caller now holds ``name``), sleeping the
    :func:`pauses` between tries.

    Args:
        name: the lock's name (``str``), for the error.
        timeout: seconds to wait at most; ``None`` waits forever, ``0`` tries once.
        max_pause: the longest pause (seconds) between tries.
        take: one attempt at the server; raises what the server's failures map to.

    Raises:
        LockTimeout: ``timeout`` passed before ``take`` won.
    """
    waits = pauses(name, timeout, max_pause)
    while not take():
        time.sleep(next(waits))


def _spend(lease: TokenLease[_T] | AsyncTokenLease[_T]) -> _T:
    """Take the token out of a lease being released.

    Raises:
        LockError: the lease was already released.
    """
    token = held_or_raise(lease._name, lease._token)
    lease._token = None
    return token


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
        token = _spend(self)
        lock = self._lock
        if not lock._give_back(self._name, self._target, token):
            lock._expired(self._name)


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

    def _expired(self, name: str) -> None:
        """Report a lease that ran out before its release."""
        self._log.warning(
            "lock %r expired before it was released (held longer than expire=%gs): "
            "another holder may have run meanwhile",
            name,
            self.expire,
        )

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


class ServerLock(PollingLock[_T]):
    """Base of the :class:`PollingLock` locks on a connection part (``RedisLock``,
    ``MemcachedLock``): the constructor, which takes a ``connection`` of the subclass's
    :attr:`_kind` (e.g. the store's: one pool, one breaker) or builds one from the connection
    options given instead (``url=``, ``servers=``, ``socket_timeout=`` …). A subclass is an
    ``attrs`` class with the fields ``connection``, ``prefix``, ``expire`` and ``max_pause``,
    in this order.
    """

    __slots__ = ()

    _kind: ClassVar[type[Any]]

    def __init__(
        self,
        *,
        connection: Any = None,
        prefix: str = "beaker:lock:",
        expire: float = 30.0,
        max_pause: float = 0.1,
        **connect: Any,
    ) -> None:
        built = connection_of(self._kind, connection, connect)
        self.__attrs_init__(built, prefix, expire, max_pause)  # type: ignore[attr-defined]


class AsyncTokenLease(AsyncLeaseBase, Generic[_T]):
    """The asyncio twin of :class:`TokenLease`, also holding its name in the event loop.

    Args:
        lock: the async lock that handed it out.
        tasks: the lease of the name among this loop's tasks.
        name, target, token: as :class:`TokenLease`.
    """

    __slots__ = ("_lock", "_name", "_target", "_tasks", "_token")

    def __init__(
        self, lock: AsyncPollingTwin[_T], tasks: AsyncLease, name: str, target: str, token: _T
    ) -> None:
        self._lock = lock
        self._tasks = tasks
        self._name = name
        self._target = target
        self._token: _T | None = token

    async def release(self) -> None:
        """Give the lock up (the lock's compare-and-delete, finished even if the releasing task
        is cancelled meanwhile), then the name in this loop.

        Raises:
            LockError: the lease was already released.
            StoreUnavailable: the server cannot be reached (the lease then expires by itself).
        """
        token = _spend(self)
        lock = self._lock
        try:
            if not await asyncio.shield(lock._give_back(self._name, self._target, token)):
                lock.sync._expired(self._name)
        finally:
            await self._tasks.release()


class AsyncPollingTwin(Generic[_T]):
    """Base of the asyncio twins of the :class:`PollingLock` locks. The twin is an ``attrs``
    class holding its sync lock as ``sync`` (names, tokens, ``expire``, ``max_pause``) and an
    :class:`~beaker.locks.AsyncioLock` as ``_tasks``; it gives the async server commands
    :meth:`_take` and :meth:`_give_back`.

    :meth:`acquire` first queues the task for the name among the tasks of its event loop, so
    one task per process polls the server for a name at a time; a task cancelled while polling
    removes its token in case its last ``_take`` reached the server.
    """

    __slots__ = ()

    sync: PollingLock[_T]
    _tasks: AsyncioLock

    async def _take(self, name: str, target: str, token: _T) -> bool:  # pragma: no cover
        """As :meth:`PollingLock._take`, awaited."""
        raise NotImplementedError

    async def _give_back(self, name: str, target: str, token: _T) -> bool:  # pragma: no cover
        """As :meth:`PollingLock._give_back`, awaited."""
        raise NotImplementedError

    async def acquire(self, name: str, timeout: float | None = None) -> AsyncTokenLease[_T]:
        """As :meth:`PollingLock.acquire` (same arguments and errors), awaited."""
        sync = self.sync
        waits = pauses(name, timeout, sync.max_pause)  # one deadline for both steps
        tasks = await self._tasks.acquire(name, timeout)
        target = sync._target(name)
        token = sync._new_token()
        try:
            try:
                while not await self._take(name, target, token):
                    await asyncio.sleep(next(waits))
            except asyncio.CancelledError:
                await self._abandon(name, target, token)
                raise
        except BaseException:
            await tasks.release()
            raise
        return AsyncTokenLease(self, tasks, name, target, token)

    async def _abandon(self, name: str, target: str, token: _T) -> None:
        """Remove our token if a take cut short by cancellation stored it after all."""
        try:
            await asyncio.shield(self._give_back(name, target, token))
        except StoreUnavailable:
            pass  # the lease, if it was taken, expires by itself
