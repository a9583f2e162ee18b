"""FileLock: the lock contract (exclusion across threads and processes, timeouts, a killed
holder freed), flock's per-file semantics, no lock files left behind."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import pathlib
import shutil
import tempfile
import threading
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant

from beaker.errors import LockTimeout
from beaker.locks.base import Lease, Lock
from beaker.locks.file import FileLock
from beaker.testing import LockMachine, ProcessLockSuite
from tests import _file_backed as shared
from tests._threads import run_threads

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def lock(tmp_path: pathlib.Path) -> FileLock:
    return FileLock(tmp_path / "locks")


class TestFileLock(ProcessLockSuite):
    """The lock contract (beaker.testing), on the module's ``lock`` fixture."""


def test_implements_the_lock_protocol(lock: FileLock) -> None:
    assert isinstance(lock, Lock)
    assert FileLock.scope == "host"
    lease = lock.acquire("x")
    assert isinstance(lease, Lease)
    lease.release()


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


def _hold_in_child(lock_dir: str, name: str, held: Any, done: Any) -> None:
    lease = FileLock(lock_dir).acquire(name)
    held.set()
    done.wait(60)
    lease.release()


def _child_holding(lock: FileLock, name: str) -> tuple[Any, Any, Any]:
    held, done = SPAWN.Event(), SPAWN.Event()
    child = SPAWN.Process(target=_hold_in_child, args=(lock.lock_dir, name, held, done))
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

    run_threads(work)
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


class FileLockMachine(LockMachine):
    """The lock state machine (beaker.testing), with a name no encoding takes (a lone
    surrogate) and no lock file outliving its lease."""

    names = st.sampled_from(["a", "b", "", "ünï", "x" * 300, "\ud800"])

    def make_lock(self) -> FileLock:
        self.tmp = tempfile.mkdtemp(prefix="beaker-filelock-")
        return FileLock(self.tmp)

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @invariant()
    def one_file_per_held_name(self) -> None:
        assert len(os.listdir(self.tmp)) == len(self.held)


TestFileLockStates = FileLockMachine.TestCase


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
