"""ThreadLock (the lock contract of beaker.testing, a bounded registry) and NullLock."""

from __future__ import annotations

import pytest

from beaker.errors import LockTimeout
from beaker.locks import NullLock, ThreadLock
from beaker.locks.base import Lock
from beaker.testing import LockSuite, check_lock_pickles


class TestThreadLock(LockSuite):
    """The lock contract (beaker.testing)."""

    @pytest.fixture
    def lock(self) -> ThreadLock:
        return ThreadLock()


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


def test_null_lock_is_a_lock_that_pickles() -> None:
    # The part of the lock contract that means something without exclusion (scope "none"):
    # no timeout, double-release or exclusion check applies.
    lock = NullLock()
    assert isinstance(lock, Lock) and lock.scope == "none"
    check_lock_pickles(lock)
