"""AsyncMemcachedStore and AsyncMemcachedLock on the real server: the twin machine against
MemcachedStore on one server (hashed keys included), a sync and an async process reading each
other's entries, compare-and-set, lock exclusion across tasks and processes and with the sync
lock, cancellation, and an unreachable server."""

from __future__ import annotations

import asyncio
import functools
import pickle
import time

import pytest

from beaker import compose_async
from beaker.entry import Entry
from beaker.errors import StoreUnavailable
from beaker.locks import AsyncMemcachedLock, MemcachedLock
from beaker.stores import AsyncMemcachedStore, MemcachedStore
from beaker.stores.base import AsyncStore, Store
from beaker.testing import (
    TwinStoreMachine,
    check_async_compare_and_set,
    check_async_lock_exclusion,
)
from tests.network._cross_front import (
    check_cancellation_leaves_no_lease,
    check_fronts_share_entries,
    check_sync_and_async_locks_exclude,
)
from tests.network._servers import PATIENT, fresh, machine_case


class MemcachedTwins(TwinStoreMachine):
    where = ""

    def make_twins(self) -> tuple[Store, AsyncStore]:
        prefix = fresh("twins") + ":"
        budget = {"socket_timeout": PATIENT, "connect_timeout": PATIENT}
        return (
            MemcachedStore(self.where, prefix, **budget),
            AsyncMemcachedStore(self.where, prefix, **budget),
        )


# Every step lists keys through both twins (a metadump of a shared server): few, short runs.
TestMemcachedTwins = machine_case(MemcachedTwins, "memcached_servers", examples=6, steps=12)


def test_a_sync_and_an_async_process_share_one_memcached(memcached_servers: str) -> None:
    prefix = fresh("cross") + ":"
    check_fronts_share_entries(
        functools.partial(MemcachedStore, memcached_servers, prefix),
        functools.partial(AsyncMemcachedStore, memcached_servers, prefix),
        "cross",
    )


def test_compare_and_set_contract(memcached_servers: str) -> None:
    # Racing threads on a busy 2-core CI machine can exceed the 0.25 s default op timeout;
    # this checks compare-and-set, not timeouts (as the Redis twin's test does).
    store = AsyncMemcachedStore(
        memcached_servers, fresh("cas") + ":", socket_timeout=5.0, connect_timeout=5.0
    )
    check_async_compare_and_set(store)


def test_ttl_beyond_30_days_is_kept_by_the_server(memcached_servers: str) -> None:
    # As the sync store: beyond 30 days the exptime is an absolute unix time.
    store = AsyncMemcachedStore(memcached_servers)
    ns = fresh()

    async def run() -> Entry | None:
        now = time.time()
        await store.set(ns, "far", Entry(b"far", now, now + 60 * 86_400))
        got = await store.get(ns, "far")
        await store.clear(ns)
        await store.close()
        return got

    got = asyncio.run(run())
    assert got is not None and got.value == b"far"


def test_hashed_keys_cross_between_the_fronts(memcached_servers: str) -> None:
    """A key memcached cannot hold as it is (spaces, non-ASCII, too long) is mangled alike."""
    sync = MemcachedStore(memcached_servers, fresh("hashed") + ":")
    twin = AsyncMemcachedStore(connection=sync.connection, prefix=sync.prefix)
    keys = ["with space", "ünïcode", "k" * 400]

    async def scenario() -> None:
        for n, key in enumerate(keys):
            await twin.set("ns", key, Entry(f"v{n}".encode(), 1.0, None))
        assert [sync.get("ns", key) for key in keys] == [
            Entry(f"v{n}".encode(), 1.0, None) for n in range(len(keys))
        ]
        sync.set("ns", "back", Entry(b"from sync", 2.0, None))
        assert await twin.get("ns", "back") == Entry(b"from sync", 2.0, None)
        assert set(await twin.keys("ns")) == {*keys, "back"}
        await twin.clear("ns")
        await twin.close()

    asyncio.run(scenario())


@pytest.mark.slow
def test_async_memcached_lock_excludes_tasks_and_processes(memcached_servers: str) -> None:
    lock = AsyncMemcachedLock(memcached_servers, prefix=fresh("exclusion") + ":")
    assert pickle.loads(pickle.dumps(lock)) == lock
    check_async_lock_exclusion(lock, tasks=4, rounds=5, processes=3)


def test_sync_and_async_locks_exclude_each_other(memcached_servers: str) -> None:
    sync = MemcachedLock(memcached_servers, prefix=fresh("twin-locks") + ":")
    check_sync_and_async_locks_exclude(
        sync, AsyncMemcachedLock(connection=sync.connection, prefix=sync.prefix)
    )


def test_cancelled_waiters_and_creators_leave_no_lease(memcached_servers: str) -> None:
    prefix = fresh("cancel") + ":"
    store = AsyncMemcachedStore(memcached_servers, fresh("cancel-data") + ":")
    lock = AsyncMemcachedLock(connection=store.connection, prefix=prefix, expire=60)
    probe = MemcachedLock(memcached_servers, prefix=prefix)
    check_cancellation_leaves_no_lease(compose_async(store, lock=lock, namespace="c"), probe)
    probe.close()


def test_an_unreachable_server_is_store_unavailable() -> None:
    async def scenario() -> None:
        store = AsyncMemcachedStore("127.0.0.1:1", socket_timeout=0.5, connect_timeout=0.5)
        with pytest.raises(StoreUnavailable, match="127.0.0.1:1"):
            await store.get("ns", "k")
        cache = compose_async(store, on_store_error="compute")
        assert await cache.get_or_create("k", lambda: 3) == 3
        await store.close()

    asyncio.run(scenario())


def test_a_pymemcache_client_connection_is_refused_for_async_use(memcached_servers: str) -> None:
    from pymemcache.client.base import PooledClient

    host, port = memcached_servers.split(";")[0].rsplit(":", 1)
    store = AsyncMemcachedStore(client=PooledClient((host, int(port))))

    async def scenario() -> None:
        with pytest.raises(Exception, match="servers= connection"):
            await store.get("ns", "k")

    asyncio.run(scenario())
