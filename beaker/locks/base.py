"""The :class:`Lock` protocol and its asyncio twin :class:`AsyncLock`: named mutual exclusion,
the basis of dogpile protection.

A lock is a factory of :class:`Lease` objects: ``acquire(name)`` blocks until the caller holds
``name`` within the lock's :attr:`~Lock.scope`, and the lease releases it. Leases are context
managers::

    with lock.acquire("ns:key", timeout=5.0):
        ...

An async lock's ``acquire`` is a coroutine and its lease an async context manager::

    async with await lock.acquire("ns:key", timeout=5.0):
        ...

Must not import from ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import inspect
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from beaker.errors import LockError

_B = TypeVar("_B", bound="LeaseBase")
_AB = TypeVar("_AB", bound="AsyncLeaseBase")
_H = TypeVar("_H")

#: How far a lock's mutual exclusion reaches. ``"loop"``: the tasks of one event loop.
Scope = Literal["none", "loop", "thread", "host", "cluster"]


@runtime_checkable
class Lease(AbstractContextManager["Lease", None], Protocol):
    """A held lock. Release it exactly once (or leave its ``with`` block: a context manager
    whose ``__enter__`` returns the lease)."""

    def release(self) -> None:
        """Give the lock up. Raises :class:`~beaker.errors.LockError` if already released."""


@runtime_checkable
class Lock(Protocol):
    """Hands out :class:`Lease` objects for names.

    Attributes:
        scope: ``"none"`` (no exclusion), ``"thread"`` (threads of one process), ``"host"``
            (processes of one machine) or ``"cluster"`` (every process sharing a server).
    """

    scope: ClassVar[Scope]

    def acquire(self, name: str, timeout: float | None = None) -> Lease:
        """Block until ``name`` is held and return its lease.

        Args:
            name: the lock's name; any string.
            timeout: seconds to wait at most; ``None`` waits forever, ``0`` tries once.

        Raises:
            LockTimeout: ``timeout`` passed before the lock was free.
        """


class LeaseBase:
    """Gives a lease class ``__enter__``/``__exit__`` in terms of its ``release()``."""

    __slots__ = ()

    def release(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self: _B) -> _B:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


@runtime_checkable
class AsyncLease(AbstractAsyncContextManager["AsyncLease", None], Protocol):
    """A held async lock: release it exactly once (``await lease.release()``) or leave its
    ``async with`` block (an async context manager whose ``__aenter__`` returns the lease).
    Leaving the block by cancellation releases it too."""

    async def release(self) -> None:
        """Give the lock up. Raises :class:`~beaker.errors.LockError` if already released."""


@runtime_checkable
class AsyncLock(Protocol):
    """The asyncio twin of :class:`Lock`: hands out :class:`AsyncLease` objects for names.

    Cancellation: a task cancelled while it waits in :meth:`acquire` holds nothing afterwards,
    and a lease whose ``async with`` block is left by cancellation is released.

    Attributes:
        scope: as for :class:`Lock`, plus ``"loop"`` (the tasks of one event loop).
    """

    scope: ClassVar[Scope]

    async def acquire(self, name: str, timeout: float | None = None) -> AsyncLease:
        """Wait until ``name`` is held and return its lease: :meth:`Lock.acquire`'s arguments
        and :class:`~beaker.errors.LockTimeout`, awaited."""


class AsyncLeaseBase:
    """Gives an async lease class ``__aenter__``/``__aexit__`` in terms of its ``release()``."""

    __slots__ = ()

    async def release(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def __aenter__(self: _AB) -> _AB:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.release()


def held_or_raise(name: str, held: _H | None) -> _H:
    """What a lease being released holds (its token, file descriptor or slot), which it then
    forgets.

    Args:
        name: the lock's name, for the error.
        held: what the lease holds, ``None`` once it was released.

    Raises:
        LockError: ``held`` is ``None``: the lease was already released.
    """
    if held is None:
        raise LockError(f"lock {name!r} released twice")
    return held


def is_async_lock(lock: Any) -> bool:
    """Whether ``lock`` implements :class:`AsyncLock` (its ``acquire`` is a coroutine
    function), as opposed to a sync :class:`Lock`, whose method names it shares."""
    return isinstance(lock, AsyncLock) and inspect.iscoroutinefunction(lock.acquire)
