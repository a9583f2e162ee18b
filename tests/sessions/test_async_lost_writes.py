"""No lost writes on the ASGI front either: concurrent requests of one session, each changing
its own key, with no request lock, keep every write on every async store of ours (their
compare-and-set, the engine's merge), from tasks of one loop and from processes; the same run
on an async store without versions loses writes, so the check can fail."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from beaker.entry import Entry
from beaker.stores import AsyncMemoryStore
from beaker.stores.base import AsyncStore, AsyncVersionedStore
from beaker.testing import (
    SessionLoad,
    check_async_compare_and_set,
    check_async_session_store_no_lost_writes,
)

#: The async twin of each sync store of tests/sessions/conftest.py (same data).
TWINS = {
    "MemoryStore": "AsyncMemoryStore",
    "FileStore": "AsyncFileStore",
    "DBMStore": "AsyncDBMStore",
    "RedisStore": "AsyncRedisStore",
    "MemcachedStore": "AsyncMemcachedStore",
    "SQLAlchemyStore": "AsyncSQLAlchemyStore",
}
#: Stores whose compare-and-set runs across processes.
SHARED = {"file", "dbm", "redis", "memcached", "sqlite", "postgresql"}


@pytest.fixture
def async_store(store: Any) -> Iterator[Any]:
    """The async twin of every server-side store of ours, on the same data."""
    import beaker.stores

    twin = getattr(beaker.stores, TWINS[type(store).__name__]).of(store)
    assert isinstance(twin, AsyncVersionedStore)
    yield twin


def test_compare_and_set_contract(async_store: AsyncVersionedStore) -> None:
    check_async_compare_and_set(async_store)


def test_tasks_lose_no_write(async_store: AsyncStore) -> None:
    # Two writers: each save that meets the other's newer version merges into it (more
    # writers on a loaded machine can keep one from winning within the engine's 16 merges).
    assert (
        check_async_session_store_no_lost_writes(async_store, SessionLoad(workers=2, requests=30))
        == 60
    )


def test_processes_lose_no_write(async_store: AsyncStore, request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params["store"] not in SHARED:
        return  # a memory store is not shared between processes
    total = check_async_session_store_no_lost_writes(
        async_store, SessionLoad(workers=1, processes=2, requests=30)
    )
    assert total == 90


@attrs.frozen
class _Unversioned:
    """An AsyncMemoryStore seen through the plain AsyncStore protocol only."""

    inner: AsyncMemoryStore = attrs.field(factory=AsyncMemoryStore)
    holds_objects = True

    async def get(self, namespace: str, key: str) -> Entry | None:
        return await self.inner.get(namespace, key)

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        await self.inner.set(namespace, key, entry)

    async def delete(self, namespace: str, key: str) -> None:
        await self.inner.delete(namespace, key)

    async def clear(self, namespace: str) -> None:
        await self.inner.clear(namespace)

    async def keys(self, namespace: str) -> Iterator[str]:
        return await self.inner.keys(namespace)

    async def close(self) -> None:
        await self.inner.close()


def test_without_versions_writes_are_lost() -> None:
    """The control: the same check on an async store without versions fails."""
    store = _Unversioned()
    assert not isinstance(store, AsyncVersionedStore)
    with pytest.raises(AssertionError, match="session writes lost"):
        check_async_session_store_no_lost_writes(store, SessionLoad(workers=3, requests=30))


def test_compare_and_delete_removes_only_the_entry_read(async_store: Any) -> None:
    """The async twin of tests/sessions/test_purge.py's check, and what the sync twin reads."""
    namespace = "cad"

    async def check() -> None:
        await async_store.set(namespace, "k", Entry(b"one", 1.0, None))
        first = await async_store.get_versioned(namespace, "k")
        async_store.sync.set(namespace, "k", Entry(b"two", 2.0, None))  # rewritten since
        assert await async_store.compare_and_delete(namespace, "k", first.version) is False
        assert (await async_store.get(namespace, "k")).value == b"two"
        second = async_store.sync.get_versioned(namespace, "k")  # the versions cross fronts
        assert await async_store.compare_and_delete(namespace, "k", second.version) is True
        assert async_store.sync.get(namespace, "k") is None
        absent = await async_store.get_versioned(namespace, "k")
        assert await async_store.compare_and_delete(namespace, "k", absent.version) is False
        await async_store.close()

    asyncio.run(check())
