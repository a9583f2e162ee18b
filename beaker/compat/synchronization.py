"""Beaker's synchronizers (``beaker.synchronization``) as a translation onto our locks.

:class:`SynchronizerImpl` keeps Beaker's per-thread bookkeeping (a thread holds reads *or*
writes, re-entrantly; :class:`~beaker.errors.LockError` on misuse) that third-party
synchronizers subclass; :class:`LockSynchronizer` fills its ``do_*`` hooks with a lease of one
of our locks: :class:`FileSynchronizer` a :class:`~beaker.locks.FileLock`,
:class:`ConditionSynchronizer` a :class:`~beaker.locks.ThreadLock`. Deliberate difference:
their read locks are exclusive like their write locks (Beaker let readers share), which is
safe and what a namespace's dogpile lock needs.

Imports :mod:`beaker.locks` and :mod:`beaker.errors`.
"""

from __future__ import annotations

import tempfile
import threading
import weakref
from collections.abc import Callable
from typing import Any

from beaker.errors import LockError, LockTimeout
from beaker.locks.base import Lease, Lock
from beaker.locks.file import FileLock
from beaker.locks.thread import ThreadLock

__all__ = [
    "ConditionSynchronizer",
    "FileSynchronizer",
    "LockSynchronizer",
    "NameLock",
    "SynchronizerImpl",
    "file_synchronizer",
    "mutex_synchronizer",
    "null_synchronizer",
]

_shared_by_key: weakref.WeakValueDictionary[tuple[Any, ...], Any] = weakref.WeakValueDictionary()
_shared_mutex = threading.Lock()


def _shared(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """The process's one object for ``key`` while anything holds it (made by ``make``)."""
    with _shared_mutex:
        found = _shared_by_key.get(key)
        if found is None:
            found = _shared_by_key[key] = make()
    return found


class _Held:
    """A weak-referenceable ``threading`` lock (for :func:`_shared`)."""

    __slots__ = ("__weakref__", "acquire", "release")

    def __init__(self, lock: Any) -> None:
        self.acquire, self.release = lock.acquire, lock.release


class NameLock:
    """A thread lock shared by name (Beaker's ``NameLock``): every ``NameLock`` of one
    ``identifier`` in a process is the same lock while any holds it; ``identifier=None``
    makes a private one. ``reentrant=True`` makes it an ``RLock``."""

    def __init__(self, identifier: str | None = None, reentrant: bool = False) -> None:
        make = threading.RLock if reentrant else threading.Lock
        self._lock: Any = (
            make() if identifier is None else _shared(("name", identifier), lambda: _Held(make()))
        )

    def acquire(self, wait: bool = True) -> bool:
        return bool(self._lock.acquire(wait))

    def release(self) -> None:
        self._lock.release()


class null_synchronizer:
    """A synchronizer that excludes nothing (Beaker's ``null_synchronizer``)."""

    def acquire_write_lock(self, wait: bool = True) -> bool:
        return True

    def release_write_lock(self) -> None:
        pass

    acquire = acquire_write_lock
    release = release_read_lock = release_write_lock

    def acquire_read_lock(self) -> None:
        pass


class _SyncState(threading.local):
    count, reading, writing = 0, False, False


class SynchronizerImpl:
    """Beaker's base of read/write synchronizers: subclasses implement
    ``do_acquire_read_lock(wait)`` and ``do_acquire_write_lock(wait)`` (returning whether they
    got it) and ``do_release_read_lock()`` / ``do_release_write_lock()``. A thread holds
    either reads or writes, re-entrantly.

    Raises (from the methods):
        LockError: releasing what is not held, or mixing read and write holds.
    """

    def __init__(self) -> None:
        self._state = _SyncState()

    @property
    def state(self) -> Any:
        """This thread's ``count``, ``reading`` and ``writing``."""
        return self._state

    def _check(self, writing: bool) -> Any:
        state = self.state
        if state.reading if writing else state.writing:
            raise LockError(f"lock is in {'reading' if writing else 'writing'} state")
        return state

    def _acquire(self, writing: bool, wait: bool) -> Any:
        state = self._check(writing)
        if state.count == 0:
            got = self.do_acquire_write_lock(wait) if writing else self.do_acquire_read_lock(wait)
            if wait or got:
                state.count, state.writing, state.reading = 1, writing, not writing
            return got
        if state.writing if writing else state.reading:
            state.count += 1
            return True
        return None

    def _release(self, writing: bool) -> None:
        state = self._check(writing)
        if not (state.writing if writing else state.reading):
            raise LockError(f"lock is not in {'writing' if writing else 'reading'} state")
        if state.count == 1:
            self.do_release_write_lock() if writing else self.do_release_read_lock()
            state.writing = state.reading = False
        state.count -= 1

    def acquire_read_lock(self, wait: bool = True) -> Any:
        return self._acquire(False, wait)

    def release_read_lock(self) -> None:
        self._release(False)

    def acquire_write_lock(self, wait: bool = True) -> Any:
        return self._acquire(True, wait)

    def release_write_lock(self) -> None:
        self._release(True)

    acquire = acquire_write_lock
    release = release_write_lock

    def _unimplemented(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    do_acquire_read_lock = do_acquire_write_lock = _unimplemented
    do_release_read_lock = do_release_write_lock = _unimplemented


class LockSynchronizer(SynchronizerImpl):
    """A synchronizer holding a lease of one of our locks under ``identifier``; reads are
    exclusive like writes.

    Args:
        identifier: the lock's name (``str``).
        lock: a :class:`~beaker.locks.base.Lock`.
    """

    def __init__(self, identifier: str, lock: Lock) -> None:
        super().__init__()
        self.identifier, self._lock = identifier, lock
        self._lease: Lease | None = None  # one holder at a time: reads are exclusive too

    def do_acquire_write_lock(self, wait: bool) -> Any:
        try:
            self._lease = self._lock.acquire(self.identifier, timeout=None if wait else 0)
        except LockTimeout:
            return False
        return True

    def do_release_write_lock(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.release()

    do_acquire_read_lock = do_acquire_write_lock
    do_release_read_lock = do_release_write_lock


class FileSynchronizer(LockSynchronizer):
    """Beaker's ``flock`` synchronizer: a :class:`~beaker.locks.FileLock` in ``lock_dir``
    (the system's temporary directory when ``None``)."""

    def __init__(self, identifier: str, lock_dir: str | None) -> None:
        self.lock_dir = lock_dir or tempfile.gettempdir()
        super().__init__(identifier, FileLock(self.lock_dir))


_threads = ThreadLock()


class ConditionSynchronizer(LockSynchronizer):
    """Beaker's in-process synchronizer, over one process-wide
    :class:`~beaker.locks.ThreadLock`. As Beaker's, a waiting acquire returns ``None``."""

    def __init__(self, identifier: str) -> None:
        super().__init__(identifier, _threads)

    def do_acquire_write_lock(self, wait: bool) -> Any:
        got = super().do_acquire_write_lock(wait)
        return None if wait else got

    do_acquire_read_lock = do_acquire_write_lock


def file_synchronizer(identifier: str, **kwargs: Any) -> Any:
    """The process's :class:`FileSynchronizer` of ``identifier`` in ``lock_dir``, or its
    :class:`ConditionSynchronizer` when no ``lock_dir`` is given (as Beaker)."""
    if "lock_dir" not in kwargs:
        return mutex_synchronizer(identifier)
    lock_dir = kwargs["lock_dir"]
    return _shared(("file", identifier, lock_dir), lambda: FileSynchronizer(identifier, lock_dir))


def mutex_synchronizer(identifier: str, **kwargs: Any) -> Any:
    """The process's :class:`ConditionSynchronizer` of ``identifier``."""
    return _shared(("mutex", identifier), lambda: ConditionSynchronizer(identifier))
