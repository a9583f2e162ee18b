"""ThreadLock and NullLock."""

from __future__ import annotations

import threading

import pytest

from beaker.errors import LockError, LockTimeout
from beaker.locks import NullLock, ThreadLock
from beaker.testing import check_lock_exclusion


def test_thread_lock_excludes_threads() -> None:
    check_lock_exclusion(ThreadLock(), workers=8, rounds=20)


def test_timeout_zero_tries_once() -> None:
    lock = ThreadLock()
    with lock.acquire("k"):
        with pytest.raises(LockTimeout) as info:
            lock.acquire("k", timeout=0)
        assert info.value.name == "k"
        with lock.acquire("other", timeout=0):
            pass


def test_timeout_waits_then_raises() -> None:
    lock = ThreadLock()
    held = lock.acquire("k")
    failures: list[BaseException] = []

    def contender() -> None:
        try:
            lock.acquire("k", timeout=0.05)
        except LockTimeout as exc:
            failures.append(exc)

    thread = threading.Thread(target=contender)
    thread.start()
    thread.join()
    held.release()
    assert len(failures) == 1
    with lock.acquire("k", timeout=0):
        pass


def test_double_release_is_an_error() -> None:
    lease = ThreadLock().acquire("k")
    lease.release()
    with pytest.raises(LockError):
        lease.release()


def test_registry_does_not_grow_with_names_used() -> None:
    lock = ThreadLock()
    for i in range(10_000):
        with lock.acquire(f"name-{i}"):
            pass
    assert lock.held_names() == 0
    with pytest.raises(LockTimeout), lock.acquire("x"):
        assert lock.held_names() == 1
        lock.acquire("x", timeout=0)
    assert lock.held_names() == 0


def test_null_lock_never_blocks() -> None:
    lock = NullLock()
    with lock.acquire("k"), lock.acquire("k", timeout=0):
        pass
