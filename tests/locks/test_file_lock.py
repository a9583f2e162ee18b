"""FileLock: exclusion across threads and processes, timeouts, no lock files left behind."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import pathlib
import pickle
import shutil
import threading
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from beaker.errors import LockError, LockTimeout
from beaker.locks.base import Lease, Lock
from beaker.locks.file import FileLock
from beaker.testing import check_lock_exclusion
from tests import _file_backed as shared

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def lock(tmp_path: pathlib.Path) -> FileLock:
    return FileLock(tmp_path / "locks")


def test_implements_the_lock_protocol(lock: FileLock) -> None:
    assert isinstance(lock, Lock)
    assert FileLock.scope == "host"
    lease = lock.acquire("x")
    assert isinstance(lease, Lease)
    lease.release()


def test_excludes_threads(lock: FileLock) -> None:
    check_lock_exclusion(lock, workers=4, rounds=20)


def test_excludes_processes(lock: FileLock) -> None:
    check_lock_exclusion(lock, workers=4, rounds=15, processes=True)


def test_threads_of_one_process_exclude_each_other(lock: FileLock) -> None:
    # flock belongs to the open file: each acquire opens its own, so a second thread of the
    # same process is refused while the first holds the name.
    outcome: list[BaseException | None] = []
    with lock.acquire("shared"):

        def other() -> None:
            try:
                lock.acquire("shared", timeout=0).release()
                outcome.append(None)
            except LockTimeout as exc:
                outcome.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(outcome) == 1 and isinstance(outcome[0], LockTimeout)
    lock.acquire("shared", timeout=0).release()  # free again once released


def test_blocked_thread_gets_the_lock_after_release(lock: FileLock) -> None:
    order: list[str] = []
    lease = lock.acquire("n")
    waiting = threading.Event()

    def waiter() -> None:
        waiting.set()
        with lock.acquire("n"):  # blocks (timeout None) until the main thread releases
            order.append("waiter")

    thread = threading.Thread(target=waiter)
    thread.start()
    waiting.wait()
    order.append("holder")
    lease.release()
    thread.join(30)
    assert order == ["holder", "waiter"]


def _hold_in_child(lock_dir: str, name: str, held: Any, done: Any, die: bool) -> None:
    lease = FileLock(lock_dir).acquire(name)
    held.set()
    if die:
        os._exit(0)  # exit without releasing: the kernel closes the file
    done.wait(60)
    lease.release()


def _child_holding(lock: FileLock, name: str, die: bool = False) -> tuple[Any, Any, Any]:
    held, done = SPAWN.Event(), SPAWN.Event()
    child = SPAWN.Process(target=_hold_in_child, args=(lock.lock_dir, name, held, done, die))
    child.start()
    assert held.wait(60), "child did not get the lock"
    return child, done, held


def test_timeout_zero_raises_when_another_process_holds(lock: FileLock) -> None:
    child, done, _ = _child_holding(lock, "busy")
    try:
        with pytest.raises(LockTimeout) as info:
            lock.acquire("busy", timeout=0)
        assert info.value.name == "busy" and info.value.timeout == 0
        with pytest.raises(LockTimeout):
            lock.acquire("busy", timeout=0.05)  # polls, then gives up
        lock.acquire("other-name", timeout=0).release()  # names are independent
    finally:
        done.set()
        child.join(60)
    assert child.exitcode == 0
    lock.acquire("busy", timeout=0).release()
    assert os.listdir(lock.lock_dir) == []


def test_lock_of_a_dead_process_is_freed(lock: FileLock) -> None:
    child, _, _ = _child_holding(lock, "crash", die=True)
    child.join(60)
    lock.acquire("crash", timeout=30).release()


def test_release_twice_is_an_error(lock: FileLock) -> None:
    lease = lock.acquire("n")
    lease.release()
    with pytest.raises(LockError):
        lease.release()
    with lock.acquire("n") as held:
        pass
    with pytest.raises(LockError):
        held.release()


def test_lock_files_do_not_accumulate(lock: FileLock) -> None:
    for n in range(300):
        with lock.acquire(f"name-{n}", timeout=0):
            assert len(os.listdir(lock.lock_dir)) == 1
    assert os.listdir(lock.lock_dir) == []


def test_lock_files_do_not_accumulate_under_contention(lock: FileLock) -> None:
    def work(n: int) -> None:
        for i in range(60):
            with lock.acquire(f"name-{i % 7}", timeout=30):
                pass

    shared.run_threads(work)
    assert os.listdir(lock.lock_dir) == []


def test_lock_dir_removed_under_the_lock(lock: FileLock) -> None:
    shutil.rmtree(lock.lock_dir)
    with lock.acquire("n", timeout=0):
        assert len(os.listdir(lock.lock_dir)) == 1
    assert os.listdir(lock.lock_dir) == []


def test_unusable_lock_dir_is_a_config_error(tmp_path: pathlib.Path) -> None:
    shared.check_unusable_dir(FileLock, tmp_path, "lock_dir")


@pytest.mark.parametrize("bad", [None, 3, b"/tmp/x", ""])
def test_lock_dir_of_wrong_type(bad: object) -> None:
    shared.check_wrong_type(FileLock, bad, "lock_dir")


def test_is_picklable_and_comparable(lock: FileLock) -> None:
    copy = pickle.loads(pickle.dumps(lock))
    assert copy == lock
    with lock.acquire("n"), pytest.raises(LockTimeout):
        copy.acquire("n", timeout=0)


NAMES = st.sampled_from(["a", "b", "", "ünï", "x" * 300, "\ud800"])


class FileLockMachine(RuleBasedStateMachine):
    """One thread acquiring and releasing names: a held name refuses a second acquire,
    a free one grants it, leases release once, and no file outlives its lease."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.tmp = tempfile.mkdtemp(prefix="beaker-filelock-")
        self.lock = FileLock(self.tmp)
        self.held: dict[str, Any] = {}
        self.released: list[Any] = []

    def teardown(self) -> None:
        for lease in self.held.values():
            lease.release()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @rule(name=NAMES)
    def acquire(self, name: str) -> None:
        if name in self.held:
            with pytest.raises(LockTimeout):
                self.lock.acquire(name, timeout=0)
        else:
            self.held[name] = self.lock.acquire(name, timeout=0)

    @rule(name=NAMES)
    def release(self, name: str) -> None:
        lease = self.held.pop(name, None)
        if lease is not None:
            lease.release()
            self.released.append(lease)

    @rule(data=st.data())
    def release_again(self, data: st.DataObject) -> None:
        if self.released:
            lease = data.draw(st.sampled_from(self.released))
            with pytest.raises(LockError):
                lease.release()

    @invariant()
    def one_file_per_held_name(self) -> None:
        assert len(os.listdir(self.tmp)) == len(self.held)


TestFileLockStates = FileLockMachine.TestCase
TestFileLockStates.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)


@pytest.mark.parametrize("kind", shared.STRAY_KINDS)
def test_a_stray_node_where_a_lock_file_belongs_is_replaced(
    lock: FileLock, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = pathlib.Path(lock.lock_dir) / (hashlib.sha1(b"name").hexdigest() + ".lock")
    shared.make_stray(path, kind)
    with caplog.at_level(logging.WARNING, logger="beaker.locks.file"):
        lease = shared.finishes(lambda: lock.acquire("name", timeout=0))
    assert str(path) in caplog.text
    with pytest.raises(LockTimeout):
        lock.acquire("name", timeout=0)  # it excludes: a real lock file now
    lease.release()
    if kind == "symlink":
        assert path.with_name(path.name + ".bait").read_bytes() == b"bait"  # never followed
    with shared.finishes(lambda: lock.acquire("name", timeout=0)):
        pass
