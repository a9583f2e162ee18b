"""The conformance harness must fail stores and locks that are wrong, or it proves nothing:
each check of beaker.testing against a component that breaks it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import RuleBasedStateMachine

from beaker.entry import Entry
from beaker.errors import ConfigError, LockTimeout
from beaker.locks import FileLock, NullLock, ThreadLock
from beaker.locks.base import LeaseBase, Scope
from beaker.stores import MemoryStore
from beaker.testing import (
    LockMachine,
    SessionLoad,
    StoreMachine,
    check_creator_runs_once,
    check_double_release,
    check_expired_lease_keeps_successor,
    check_killed_holder_released,
    check_lock_exclusion,
    check_lock_pickles,
    check_lock_timeouts,
)


@attrs.frozen
class LeakyClearStore(MemoryStore):
    """Clears every namespace whose name starts with the one asked for."""

    def clear(self, namespace: str) -> None:
        for ns in {ns for ns, _ in list(self._data)}:
            if ns.startswith(namespace):
                super().clear(ns)


@attrs.frozen
class ForgetfulMetadataStore(MemoryStore):
    """Drops expiry metadata."""

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        super().set(namespace, key, Entry(entry.value, entry.stored_at, None))


@attrs.frozen
class NoDeleteStore(MemoryStore):
    holds_objects: ClassVar[bool] = True

    def delete(self, namespace: str, key: str) -> None:
        pass


def check_machine_fails(machine: type[RuleBasedStateMachine]) -> None:
    machine.TestCase.settings = settings(
        machine.TestCase.settings,
        report_multiple_bugs=False,
        database=None,
        derandomize=True,  # the same search every run: this test must not be flaky
        max_examples=500,  # generation stops at the first failure, so this is a ceiling
        phases=[Phase.generate],  # finding the bug is the point; shrinking it only costs time
    )
    with pytest.raises(AssertionError):
        machine.TestCase("runTest").runTest()


@pytest.mark.parametrize("store_class", [LeakyClearStore, ForgetfulMetadataStore, NoDeleteStore])
def test_harness_rejects_a_broken_store(store_class: type[MemoryStore]) -> None:
    class Machine(StoreMachine):
        def make_store(self) -> MemoryStore:
            return store_class()

    check_machine_fails(Machine)


def test_lock_check_rejects_a_lock_that_does_not_exclude() -> None:
    with pytest.raises(AssertionError):
        check_lock_exclusion(NullLock(), workers=4, rounds=10, hold=0.002)


def test_lock_machine_rejects_a_lock_that_grants_a_held_name() -> None:
    class Machine(LockMachine):
        def make_lock(self) -> NullLock:
            return NullLock()

    check_machine_fails(Machine)


def test_timeout_check_rejects_a_lock_that_never_waits() -> None:
    with pytest.raises(AssertionError, match="acquire"):
        check_lock_timeouts(NullLock())


def test_double_release_check_rejects_a_silent_second_release() -> None:
    with pytest.raises(AssertionError, match="second release"):
        check_double_release(NullLock())


def test_pickle_check_rejects_a_copy_that_does_not_share_the_names() -> None:
    with pytest.raises(AssertionError, match="pickled copy"):
        check_lock_pickles(ThreadLock(), shared=True)


def test_creator_check_rejects_a_lock_that_does_not_exclude_processes() -> None:
    with pytest.raises(AssertionError, match="creator ran"):
        check_creator_runs_once(NullLock())


def test_killed_holder_check_rejects_a_lease_gone_with_its_holder(tmp_path: Path) -> None:
    # a flock dies with its holder: a leased lock's lease must not
    with pytest.raises(AssertionError, match="killed holder"):
        check_killed_holder_released(FileLock(tmp_path), held_until_expiry=True)


class _CarelessLease(LeaseBase):
    def __init__(self, held: dict[str, float], name: str) -> None:
        self.held, self.name = held, name

    def release(self) -> None:
        self.held.pop(self.name, None)  # no token compared: removes a successor's lease too


@attrs.frozen
class CarelessLeasedLock:
    """Leases that expire after ``expire`` seconds, released without checking whose they are."""

    scope: ClassVar[Scope] = "thread"
    expire: float
    held: dict[str, float]
    mutex: threading.Lock = attrs.field(factory=threading.Lock, eq=False)

    def acquire(self, name: str, timeout: float | None = None) -> _CarelessLease:
        deadline = time.monotonic() + (60 if timeout is None else timeout)
        while True:
            with self.mutex:
                if self.held.get(name, 0) < time.monotonic():
                    self.held[name] = time.monotonic() + self.expire
                    return _CarelessLease(self.held, name)
            if time.monotonic() >= deadline:
                raise LockTimeout(name, timeout or 0.0)
            time.sleep(0.01)


def test_expired_lease_check_rejects_a_release_that_removes_the_successor() -> None:
    server: dict[str, float] = {}  # both locks see the same leases, as on one server
    short_lived, lock = CarelessLeasedLock(0.05, server), CarelessLeasedLock(60, server)
    with pytest.raises(AssertionError, match="expired lease"):
        check_expired_lease_keeps_successor(short_lived, lock)


@pytest.mark.parametrize(
    ("option", "value"), [("workers", -1), ("processes", 1.5), ("requests", 0), ("think", -0.1)]
)
def test_a_session_load_names_its_bad_number(option: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        SessionLoad(**{option: value})  # type: ignore[arg-type]
    assert caught.value.option == option
