"""No lost writes by default: concurrent requests of one session, each changing its own key,
with no request lock, keep every write (compare-and-set plus merge), on every server-side
store; the same run on a store without versions loses writes, so the check can fail."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from beaker.entry import Entry
from beaker.stores.base import Store, Versioned, VersionedStore
from beaker.testing import SessionLoad, check_compare_and_set, check_session_store_no_lost_writes

from .conftest import RecordingStore

#: Stores whose compare-and-set runs across processes.
SHARED = {"file", "dbm", "redis", "memcached", "sqlite", "postgresql"}


@pytest.fixture
def versioned_store(store: Any) -> Any:
    """Every server-side store of ours (tests/sessions/conftest.py), which all have versions."""
    assert isinstance(store, VersionedStore)
    return store


def test_compare_and_set_contract(versioned_store: VersionedStore) -> None:
    check_compare_and_set(versioned_store)


def test_threads_lose_no_write(versioned_store: Store) -> None:
    assert check_session_store_no_lost_writes(versioned_store, SessionLoad(workers=3)) == 180


def test_processes_lose_no_write(versioned_store: Store, request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params["store"] not in SHARED:
        return  # a memory store is not shared between processes
    total = check_session_store_no_lost_writes(versioned_store, SessionLoad(workers=0, processes=2))
    assert total == 120


def test_without_versions_writes_are_lost() -> None:
    """The control: the same check on a store without versions fails (about half lost)."""
    store = RecordingStore()  # a MemoryStore seen through the plain Store protocol only
    assert not isinstance(store, VersionedStore)
    with pytest.raises(AssertionError, match="session writes lost"):
        check_session_store_no_lost_writes(store, SessionLoad(workers=3))


class CompareAndSetOnly(RecordingStore):
    """A store with ``get_versioned`` and ``compare_and_set`` but no ``compare_and_delete``
    (a third party's that needs no cleanup), so not a :class:`VersionedStore`."""

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        return self.inner.get_versioned(namespace, key)

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        return self.inner.compare_and_set(namespace, key, entry, version)


def test_compare_and_set_without_compare_and_delete_loses_no_write() -> None:
    store = CompareAndSetOnly()
    assert not isinstance(store, VersionedStore)
    assert check_session_store_no_lost_writes(store, SessionLoad(workers=3)) == 180


def test_redis_cluster_compare_and_set_and_no_lost_write(redis_cluster_url: str) -> None:
    from beaker.stores.redis import RedisClusterStore

    store = RedisClusterStore(url=redis_cluster_url, prefix=f"t{uuid.uuid4().hex[:12]}:")
    try:
        check_compare_and_set(store)
        assert check_session_store_no_lost_writes(store, SessionLoad(workers=3)) == 180
    finally:
        store.close()
