"""NamespaceManagerStore and ManagerLock: a Beaker-style namespace manager (duck-typed, as a
third-party package writes one) as a native store, checked by the conformance machine, and
its dogpile lock (the manager's creation lock, or ours when it has none)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from beaker.caching import compose
from beaker.errors import LockTimeout
from beaker.locks.thread import ThreadLock
from beaker.stores import registry
from beaker.stores.namespace_manager import (
    ManagerLock,
    NamespaceManagerStore,
    beaker_key,
    key_text,
)
from beaker.testing import StoreMachine


class DictManager:
    """One namespace in a dict, with Beaker's method names; ``creation`` is the creation lock
    it hands out (``None``: it has none)."""

    def __init__(self, namespace: str, creation: Any = None, **options: Any) -> None:
        self.namespace, self.creation, self.data = namespace, creation, {}
        self.holds: list[str] = []
        self.options = options

    def acquire_read_lock(self) -> None:
        self.holds.append("r")

    def release_read_lock(self) -> None:
        assert self.holds.pop() == "r"

    def acquire_write_lock(self, wait: bool = True, replace: bool = False) -> bool:
        self.holds.append("w")
        return True

    def release_write_lock(self) -> None:
        assert self.holds.pop() == "w"

    def get_creation_lock(self, key: bytes) -> Any:
        if self.creation is None:
            raise NotImplementedError
        return self.creation

    def __getitem__(self, key: bytes) -> Any:
        assert self.holds, "read outside the manager's lock"
        return self.data[key]

    def __contains__(self, key: bytes) -> bool:
        return key in self.data

    def __delitem__(self, key: bytes) -> None:
        assert self.holds == ["w"], "delete outside the manager's write lock"
        del self.data[key]

    def set_value(self, key: bytes, value: Any, expiretime: Any = None) -> None:
        assert self.holds == ["w"], "write outside the manager's write lock"
        assert isinstance(key, bytes) and isinstance(value, tuple) and value[1] == expiretime
        self.data[key] = value

    def keys(self) -> list[bytes]:
        return list(self.data)

    def remove(self) -> None:
        self.data.clear()


def creators_of_one_cold_key(store: NamespaceManagerStore, lock: ManagerLock) -> int:
    """How many of 6 threads asking for one cold key at once ran the creator."""
    cache = compose(store, lock=lock, namespace="dogpile")
    barrier, made = threading.Barrier(6), []

    def create() -> str:
        made.append(1)
        time.sleep(0.2)  # long enough that the others arrive while it runs
        return "value"

    def ask() -> None:
        barrier.wait()
        assert cache.get_or_create("cold", create) == "value"

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(made)


class ManagerStoreMachine(StoreMachine):
    def make_store(self) -> NamespaceManagerStore:
        return NamespaceManagerStore(DictManager)


TestNamespaceManagerStore = ManagerStoreMachine.TestCase


@pytest.mark.parametrize(
    "key", ["plain", "ünïcødé", "a\\x41 literal", "\\u00e9", "\\Uffffffff", "😀", "", "x" * 300]
)
def test_keys_are_beakers_bytes_and_come_back(key: str) -> None:
    assert key_text(beaker_key(key)) == key


def test_entries_are_beakers_tuples() -> None:
    store = NamespaceManagerStore(DictManager)
    cache = compose(store, namespace="ns", clock=lambda: 1000.0)
    cache.set("ü", "v", ttl=60)
    assert store.manager("ns").data == {b"\\xfc": (1000.0, 60.0, "v")}
    assert store.manager("ns") is store.manager("ns")


def test_lock_falls_back_to_ours_without_a_creation_lock() -> None:
    store = NamespaceManagerStore(DictManager)
    assert creators_of_one_cold_key(store, ManagerLock(store.connection, ThreadLock())) == 1


class CountingSynchronizer:
    def __init__(self) -> None:
        self.lock, self.calls = threading.Lock(), 0

    def acquire(self, wait: bool = True) -> bool:
        self.calls += 1
        return self.lock.acquire(wait)

    def release(self) -> None:
        self.lock.release()


def test_lock_is_the_managers_creation_lock_when_it_has_one() -> None:
    synchronizer = CountingSynchronizer()
    store = NamespaceManagerStore(lambda namespace: DictManager(namespace, synchronizer))
    lock = ManagerLock(store.connection, ThreadLock())
    assert creators_of_one_cold_key(store, lock) == 1
    assert synchronizer.calls > 0
    with lock.acquire("2:ns:k"), pytest.raises(LockTimeout):
        lock.acquire("2:ns:k", timeout=0)


def test_registry_builds_and_shares_it_by_value(tmp_path: Any) -> None:
    options = (("creation", None), ("tags", ["a", "b"]))
    one = registry.shared("namespace_manager", manager=DictManager, options=options)
    same = registry.shared("namespace_manager", manager=DictManager, options=options)
    other = registry.shared(
        "namespace_manager", manager=DictManager, options=options, lock_dir=str(tmp_path)
    )
    assert one is same and one is not other
    assert isinstance(one.store, NamespaceManagerStore) and isinstance(one.lock, ManagerLock)
    assert type(other.lock.fallback).__name__ == "FileLock"
    assert one.store.manager("ns").options == {"tags": ["a", "b"]}


def test_registry_keeps_the_type_of_dict_keys_in_options() -> None:
    by_number = registry.shared(
        "namespace_manager", manager=DictManager, options=(("map", {1: "x"}),)
    )
    by_text = registry.shared(
        "namespace_manager", manager=DictManager, options=(("map", {"1": "x"}),)
    )
    assert by_number is not by_text
    assert by_number.store.manager("ns").options == {"map": {1: "x"}}
    assert by_text.store.manager("ns").options == {"map": {"1": "x"}}
    assert registry.frozen_value({1: "x"}) != registry.frozen_value({"1": "x"})
    assert registry.frozen_value({1: [1], "a": {2}}) == registry.frozen_value({"a": {2}, 1: [1]})
