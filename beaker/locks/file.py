"""FileLock (and its asyncio twin AsyncFileLock): named mutual exclusion between the processes
(and threads, and tasks) of one host, by ``fcntl.flock`` on one file per name in a lock
directory.

Imports only :mod:`beaker.errors`, :mod:`beaker.locks.base`, :mod:`beaker.locks.loop`, the
pause schedule of :mod:`beaker.locks._polling` and
:mod:`beaker.stores.file` (for the directory check); must not import from ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import time
from typing import ClassVar, Final

import attrs

from beaker.locks._polling import pauses
from beaker.locks.base import AsyncLease, AsyncLeaseBase, LeaseBase, Scope, held_or_raise
from beaker.locks.loop import AsyncioLock
from beaker.stores.file import directory_path, open_regular, prepare_directory, remove_node

log = logging.getLogger("beaker.locks.file")

_FIRST_PAUSE: Final = 0.001  # seconds between tries when polling, doubled up to _LAST_PAUSE
_LAST_PAUSE: Final = 0.05


def _lock_dir(value: object) -> str:
    return directory_path("lock_dir", value)


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        on_disk = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


class _FileLease(LeaseBase):
    __slots__ = ("_fd", "_name", "_path")

    def __init__(self, name: str, path: str, fd: int) -> None:
        self._name = name
        self._path = path
        self._fd: int | None = fd

    def release(self) -> None:
        """Remove the lock file (while still holding it, so no one can be using it) and
        give the lock up.

        Raises:
            LockError: the lease was already released.
        """
        fd = held_or_raise(self._name, self._fd)
        self._fd = None
        try:
            # Waiters blocked on this file notice it is no longer at the path once they get
            # it, and start again on a fresh file; so removing it now is safe.
            if _same_file(fd, self._path):
                os.unlink(self._path)
        except OSError:
            pass  # the file stays; the next holder removes it
        finally:
            os.close(fd)  # releases the flock

    def __repr__(self) -> str:
        state = "released" if self._fd is None else "held"
        return f"<FileLease {self._name!r} {state}>"


@attrs.frozen
class FileLock:
    """Mutual exclusion per name among every process and thread of one host (scope
    ``"host"``), by ``fcntl.flock`` on ``<lock_dir>/<sha1(name)>.lock``.

    Each acquisition opens its own descriptor, and ``flock`` locks belong to the open file,
    so threads of one process exclude each other as well as other processes. A lock file is
    removed when its lease is released, so lock files do not pile up (unlike Beaker's); a
    process that dies holding a lock releases it as the kernel closes its files. Not
    re-entrant. Not for network file systems, where ``flock`` may not reach other hosts.

    Args:
        lock_dir: the directory for lock files (``str`` or path-like); created if missing
            (Beaker's ``lock_dir``).

    Raises:
        ComponentTypeError: ``lock_dir`` is not a path.
        ConfigError: ``lock_dir`` cannot be created or written.
    """

    scope: ClassVar[Scope] = "host"

    lock_dir: str = attrs.field(converter=_lock_dir)

    def __attrs_post_init__(self) -> None:
        prepare_directory("lock_dir", self.lock_dir)

    def _path(self, name: str) -> str:
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()
        return os.path.join(self.lock_dir, digest + ".lock")

    def _attempt(self, name: str, path: str, blocking: bool) -> _FileLease | None:
        """One try at ``name``'s lock file: its lease, or ``None`` while another holds it
        (``blocking`` waits in ``flock`` instead)."""
        while True:
            try:
                fd = open_regular(path, os.O_RDWR | os.O_CREAT)
            except (FileNotFoundError, NotADirectoryError):
                os.makedirs(self.lock_dir, exist_ok=True)  # removed under us: recreate
                continue
            if fd is None:  # a symlink, FIFO, directory or socket, never followed or waited on
                log.warning("replacing %s, not a regular file, by a lock file", path)
                remove_node(path)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _same_file(fd, path):
                    return _FileLease(name, path, fd)
            except BlockingIOError:
                os.close(fd)
                return None
            except BaseException:
                os.close(fd)
                raise
            # We locked a file that its last holder had already removed: it excludes no one.
            # Try again on the file now at the path (not a wait: the lock was just freed).
            os.close(fd)

    def acquire(self, name: str, timeout: float | None = None) -> _FileLease:
        """Hold ``name`` and return its lease.

        Args:
            name: the lock's name; any string.
            timeout: seconds (``float``) to wait at most: ``None`` blocks until the lock is
                free, ``0`` (or less) tries once, more polls with a growing, jittered pause (1 ms
                up to 50 ms) until the deadline.

        Raises:
            LockTimeout: the lock was held elsewhere until ``timeout`` passed.
            OSError: ``lock_dir`` became unusable.
        """
        path = self._path(name)
        if timeout is None:
            lease = self._attempt(name, path, blocking=True)
            assert lease is not None  # a blocking flock returns only once held
            return lease
        waits = pauses(name, timeout, _LAST_PAUSE, _FIRST_PAUSE)
        while (lease := self._attempt(name, path, blocking=False)) is None:
            time.sleep(next(waits))
        return lease


class _AsyncFileLease(AsyncLeaseBase):
    __slots__ = ("_file", "_tasks")

    def __init__(self, tasks: AsyncLease, file: _FileLease) -> None:
        self._tasks = tasks
        self._file = file

    async def release(self) -> None:
        """Give the lock file up (two quick syscalls), then the event loop's name.

        Raises:
            LockError: the lease was already released.
        """
        try:
            self._file.release()
        finally:
            await self._tasks.release()


@attrs.frozen(init=False)
class AsyncFileLock:
    """The asyncio twin of :class:`FileLock` (scope ``"host"``): the same lock files, so sync
    and async processes of one host exclude each other.

    The tasks of one event loop first queue on an :class:`~beaker.locks.AsyncioLock` for the
    name, so only one of them at a time tries the lock file; that one polls ``flock`` without
    blocking (1 ms doubling up to 50 ms, jittered, on the event loop: each try is two quick syscalls),
    so no thread is ever parked in ``flock`` and a cancelled waiter leaves at once, holding
    nothing.

    Args:
        lock_dir: as :class:`FileLock`.

    Picklable (a copy in another process has its own task queue).

    Raises:
        ComponentTypeError, ConfigError: as :class:`FileLock`.
    """

    scope: ClassVar[Scope] = "host"

    sync: FileLock
    _tasks: AsyncioLock = attrs.field(init=False, factory=AsyncioLock, eq=False, repr=False)

    def __init__(self, lock_dir: str | os.PathLike[str]) -> None:
        self.__attrs_init__(FileLock(lock_dir))

    async def acquire(self, name: str, timeout: float | None = None) -> _AsyncFileLease:
        """Hold ``name``; ``timeout`` in seconds (``None`` forever, ``0`` try once).

        Raises:
            LockTimeout: the lock was held elsewhere until ``timeout`` passed.
            OSError: ``lock_dir`` became unusable.
        """
        waits = pauses(name, timeout, _LAST_PAUSE, _FIRST_PAUSE)  # one deadline for both steps
        tasks = await self._tasks.acquire(name, timeout)
        try:
            path = self.sync._path(name)
            while (lease := self.sync._attempt(name, path, blocking=False)) is None:
                await asyncio.sleep(next(waits))
        except BaseException:
            await tasks.release()
            raise
        return _AsyncFileLease(tasks, lease)
