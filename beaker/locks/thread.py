"""ThreadLock: per-name mutual exclusion between the threads of one process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ClassVar, Generic, Protocol, TypeVar

import attrs

from beaker.errors import LockTimeout
from beaker.locks.base import LeaseBase, Scope, held_or_raise
from beaker.runtime import Lazy, lazy_field


class _Users(Protocol):
    users: int


S = TypeVar("S", bound=_Users)


class _Slot:
    """One name's lock and the number of threads holding or waiting for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class NameRegistry(Generic[S]):
    """Name -> slot (a ``make()`` with a ``users`` count), dropping a slot when its last user
    leaves, so the registry holds only names in use and cannot grow without bound. Shared by
    :class:`ThreadLock` and :class:`~beaker.locks.AsyncioLock`."""

    __slots__ = ("make", "mutex", "slots")

    def __init__(self, make: Callable[[], S]) -> None:
        self.make = make
        self.mutex = threading.Lock()
        self.slots: dict[str, S] = {}

    def enter(self, name: str) -> S:
        with self.mutex:
            slot = self.slots.get(name)
            if slot is None:
                slot = self.slots[name] = self.make()
            slot.users += 1
            return slot

    def leave(self, name: str, slot: S) -> None:
        with self.mutex:
            slot.users -= 1
            if slot.users == 0:
                del self.slots[name]


def _new_registry() -> NameRegistry[_Slot]:
    return NameRegistry(_Slot)


class _ThreadLease(LeaseBase):
    __slots__ = ("_name", "_registry", "_slot")

    def __init__(self, registry: NameRegistry[_Slot], name: str, slot: _Slot | None) -> None:
        self._registry = registry
        self._name = name
        self._slot = slot

    def release(self) -> None:
        slot = held_or_raise(self._name, self._slot)
        self._slot = None
        slot.lock.release()
        self._registry.leave(self._name, slot)


@attrs.frozen
class ThreadLock:
    """Mutual exclusion per name among the threads of this process (scope ``"thread"``).

    Not re-entrant: a thread acquiring a name it already holds waits for itself (until its
    timeout). Locks exist only while some thread holds or waits for them.
    """

    scope: ClassVar[Scope] = "thread"

    _registry: Lazy[NameRegistry[_Slot]] = lazy_field()

    def acquire(self, name: str, timeout: float | None = None) -> _ThreadLease:
        """Hold ``name``; ``timeout`` in seconds (``None`` forever, ``0`` try once).

        Raises:
            LockTimeout: not acquired in time.
        """
        registry = self._registry.value or self._registry.get(_new_registry)
        slot = registry.enter(name)
        if timeout is None:
            acquired = slot.lock.acquire()
        elif timeout <= 0:
            acquired = slot.lock.acquire(blocking=False)
        else:
            acquired = slot.lock.acquire(timeout=timeout)
        if not acquired:
            registry.leave(name, slot)
            raise LockTimeout(name, timeout or 0.0)
        return _ThreadLease(registry, name, slot)

    def held_names(self) -> int:
        """How many names are currently held or waited for (to check the registry's bound)."""
        registry = self._registry.value
        return 0 if registry is None else len(registry.slots)
