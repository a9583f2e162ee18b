"""The conformance harness must fail stores and locks that are wrong, or it proves nothing."""

from __future__ import annotations

from typing import ClassVar

import attrs
import pytest
from hypothesis import Phase, settings

from beaker.entry import Entry
from beaker.locks import NullLock
from beaker.stores import MemoryStore
from beaker.testing import StoreMachine, check_lock_exclusion


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


@pytest.mark.parametrize("store_class", [LeakyClearStore, ForgetfulMetadataStore, NoDeleteStore])
def test_harness_rejects_a_broken_store(store_class: type[MemoryStore]) -> None:
    class Machine(StoreMachine):
        def make_store(self) -> MemoryStore:
            return store_class()

    Machine.TestCase.settings = settings(
        Machine.TestCase.settings,
        report_multiple_bugs=False,
        database=None,
        derandomize=True,  # the same search every run: this test must not be flaky
        max_examples=500,  # generation stops at the first failure, so this is a ceiling
        phases=[Phase.generate],  # finding the bug is the point; shrinking it only costs time
    )
    with pytest.raises(AssertionError):
        Machine.TestCase("runTest").runTest()


def test_lock_check_rejects_a_lock_that_does_not_exclude() -> None:
    with pytest.raises(AssertionError):
        check_lock_exclusion(NullLock(), workers=4, rounds=10, hold=0.002)
