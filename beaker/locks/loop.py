"""AsyncioLock: per-name mutual exclusion between the tasks of one event loop.

Imports only :mod:`beaker.errors`, :mod:`beaker.runtime`, :mod:`beaker.locks.base` and the name
registry of :mod:`beaker.locks.thread`; must not import from
``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import ClassVar

import attrs

from beaker.errors import LockTimeout
from beaker.locks.base import AsyncLeaseBase, Scope, held_or_raise
from beaker.locks.thread import NameRegistry
from beaker.runtime import Lazy, lazy_field


class _Slot:
    """One name's state: whether it is held, the tasks waiting for it (FIFO) and how many tasks
    hold or wait for it."""

    __slots__ = ("held", "users", "waiters")

    def __init__(self) -> None:
        self.held = False
        self.users = 0
        # Each waiter's future gets True when the lock is handed to it, False on its timeout.
        self.waiters: deque[asyncio.Future[bool]] = deque()


_Names = NameRegistry[_Slot]


def _hand_over(slot: _Slot) -> None:
    """Give a held slot to its first waiter that still waits, or mark it free."""
    waiters = slot.waiters
    while waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            waiter.set_result(True)
            return
    slot.held = False


def _time_out(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class _LoopLease(AsyncLeaseBase):
    __slots__ = ("_name", "_registry", "_slot")

    def __init__(self, registry: NameRegistry[_Slot], name: str, slot: _Slot) -> None:
        self._registry = registry
        self._name = name
        self._slot: _Slot | None = slot

    async def release(self) -> None:
        """Give the lock to the next waiting task (or free it).

        Raises:
            LockError: the lease was already released.
        """
        slot = held_or_raise(self._name, self._slot)
        self._slot = None
        _hand_over(slot)
        self._registry.leave(self._name, slot)


@attrs.frozen
class AsyncioLock:
    """Mutual exclusion per name among the tasks of one event loop (scope ``"loop"``): the
    asyncio twin of :class:`~beaker.locks.thread.ThreadLock`, and the default lock of
    :func:`beaker.compose_async`.

    Waiting tasks get the lock in the order they asked for it. A task cancelled while waiting
    holds nothing afterwards (if the lock was handed to it at that moment, it passes it on);
    names exist only while some task holds or waits for them. Several event loops (e.g. one
    per thread) may share one lock object: each loop has its own names. Not re-entrant.
    """

    scope: ClassVar[Scope] = "loop"

    # Event loop -> its names; a copy (pickled, or made by attrs.evolve) has names of its own.
    _loops: Lazy[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, NameRegistry[_Slot]]] = (
        lazy_field()
    )

    def _registry(self, loop: asyncio.AbstractEventLoop) -> _Names:
        loops = self._loops.value or self._loops.get(weakref.WeakKeyDictionary)
        registry = loops.get(loop)
        if registry is None:  # setdefault is atomic: loops in other threads may race here
            registry = loops.setdefault(loop, NameRegistry(_Slot))
        return registry

    async def acquire(self, name: str, timeout: float | None = None) -> _LoopLease:
        """Hold ``name``; ``timeout`` in seconds (``None`` forever, ``0`` try once).

        Raises:
            LockTimeout: not acquired in time.
        """
        loop = asyncio.get_running_loop()
        registry = self._registry(loop)
        slot = registry.enter(name)
        if not slot.held:
            slot.held = True
            return _LoopLease(registry, name, slot)
        if timeout is not None and timeout <= 0:
            registry.leave(name, slot)
            raise LockTimeout(name, 0.0)
        waiter: asyncio.Future[bool] = loop.create_future()
        slot.waiters.append(waiter)
        timer = None if timeout is None else loop.call_later(timeout, _time_out, waiter)
        try:
            granted = await waiter
        except BaseException:  # cancelled while waiting
            if waiter.done() and not waiter.cancelled() and waiter.result():
                _hand_over(slot)  # handed to us as we were cancelled: pass it on
            registry.leave(name, slot)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if not granted:
            registry.leave(name, slot)
            raise LockTimeout(name, timeout or 0.0)
        return _LoopLease(registry, name, slot)

    def held_names(self) -> int:
        """How many names the running loop holds or waits for (to check the bound)."""
        return len(self._registry(asyncio.get_running_loop()).slots)
