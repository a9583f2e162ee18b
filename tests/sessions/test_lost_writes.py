"""No lost writes by default: concurrent requests of one session, each changing its own key,
with no request lock, keep every write (compare-and-set plus merge), on every server-side
store; the same run on a store without versions loses writes, so the check can fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from beaker.entry import Entry
from beaker.stores.base import Store, VersionedStore
from beaker.stores.file import FileStore
from beaker.testing import check_compare_and_set, check_session_store_no_lost_writes

#: Stores whose compare-and-set runs across processes.
SHARED = {"file", "dbm", "redis", "memcached", "sqlite", "postgresql"}
#: Stores that have it today.
VERSIONED = {"memory", "file", "dbm"}


@pytest.fixture
def versioned_store(store: Any, request: pytest.FixtureRequest) -> Any:
    kind = request.node.callspec.params["store"]
    if kind not in VERSIONED:
        pytest.xfail(f"{kind}: compare-and-set not implemented yet")
    assert isinstance(store, VersionedStore)
    return store


def test_compare_and_set_contract(versioned_store: VersionedStore) -> None:
    check_compare_and_set(versioned_store)


def test_threads_lose_no_write(versioned_store: Store) -> None:
    assert check_session_store_no_lost_writes(versioned_store, threads=3, requests=60) == 180


def test_processes_lose_no_write(versioned_store: Store, request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params["store"] not in SHARED:
        return  # a memory store is not shared between processes
    total = check_session_store_no_lost_writes(versioned_store, threads=0, processes=2, requests=60)
    assert total == 120


@attrs.frozen
class Unversioned:
    """A real FileStore seen through the plain Store protocol only (no compare-and-set)."""

    inner: FileStore
    holds_objects = False

    def get(self, namespace: str, key: str) -> Entry | None:
        return self.inner.get(namespace, key)

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.inner.set(namespace, key, entry)

    def delete(self, namespace: str, key: str) -> None:
        self.inner.delete(namespace, key)

    def clear(self, namespace: str) -> None:
        self.inner.clear(namespace)

    def keys(self, namespace: str) -> Iterator[str]:
        return self.inner.keys(namespace)

    def close(self) -> None:
        self.inner.close()


def test_without_versions_writes_are_lost(tmp_path: Any) -> None:
    """The control: the same check on a store without versions fails (about half lost)."""
    store = Unversioned(FileStore(tmp_path / "s"))
    assert not isinstance(store, VersionedStore)
    with pytest.raises(AssertionError, match="session writes lost"):
        check_session_store_no_lost_writes(store, threads=3, requests=60)
