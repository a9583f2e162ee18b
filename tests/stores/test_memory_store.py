"""MemoryStore: conformance, LRU bound, objects by reference."""

from __future__ import annotations

import threading

import pytest

from beaker.entry import Entry
from beaker.stores import MemoryStore
from beaker.testing import StoreMachine


class MemoryStoreMachine(StoreMachine):
    def make_store(self) -> MemoryStore:
        return MemoryStore()


class BoundedMemoryStoreMachine(StoreMachine):
    def make_store(self) -> MemoryStore:
        return MemoryStore(max_entries=10_000)


TestMemoryStore = MemoryStoreMachine.TestCase
TestBoundedMemoryStore = BoundedMemoryStoreMachine.TestCase


def test_values_are_kept_by_reference() -> None:
    store = MemoryStore()
    value: list[int] = []
    store.set("ns", "k", Entry(value, 0.0))
    entry = store.get("ns", "k")
    assert entry is not None and entry.value is value


def test_bounded_store_evicts_least_recently_used() -> None:
    store = MemoryStore(max_entries=2)
    store.set("ns", "a", Entry(1, 0.0))
    store.set("ns", "b", Entry(2, 0.0))
    assert store.get("ns", "a") is not None  # a is now more recent than b
    store.set("other", "c", Entry(3, 0.0))
    assert store.get("ns", "b") is None
    assert store.get("ns", "a") is not None and store.get("other", "c") is not None


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10", True])
def test_max_entries_must_be_positive_int(bad: object) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=bad)  # type: ignore[arg-type]


def test_bounded_store_stays_bounded_under_threads() -> None:
    store = MemoryStore(max_entries=50)

    def write(offset: int) -> None:
        for i in range(500):
            store.set("ns", f"{offset}-{i}", Entry(i, 0.0))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(list(store.keys("ns"))) == 50
