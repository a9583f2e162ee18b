"""AsyncRedisStore, AsyncRedisClusterStore and AsyncRedisLock on the real servers: the twin
machine against the sync stores on one server, a sync and an async process reading each
other's entries, dogpile protection across processes of async workers, and cancellation."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import multiprocessing
import pickle
from pathlib import Path

import pytest

from beaker import compose_async
from beaker.entry import Entry
from beaker.errors import StoreUnavailable
from beaker.locks import AsyncRedisClusterLock, AsyncRedisLock, RedisLock
from beaker.stores import AsyncRedisClusterStore, AsyncRedisStore, RedisClusterStore, RedisStore
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
    check_twins_share_versions,
    dogpile_worker,
)
from tests.network._servers import PATIENT, fresh, machine_case


class RedisTwins(TwinStoreMachine):
    where = ""

    def make_twins(self) -> tuple[Store, AsyncStore]:
        budget = {"socket_timeout": PATIENT, "socket_connect_timeout": PATIENT}
        return RedisStore(url=self.where, **budget), AsyncRedisStore(url=self.where, **budget)


class RedisClusterTwins(TwinStoreMachine):
    where = ""

    def make_twins(self) -> tuple[Store, AsyncStore]:
        budget = {"socket_timeout": PATIENT, "socket_connect_timeout": PATIENT}
        return (
            RedisClusterStore(url=self.where, **budget),
            AsyncRedisClusterStore(url=self.where, **budget),
        )


# Every step lists keys through both twins (SCAN of a shared server): fewer, shorter runs; the
# sync stores' own machines cover the stores.
TestRedisTwins = machine_case(RedisTwins, "redis_url", examples=8, steps=15)
TestRedisClusterTwins = machine_case(RedisClusterTwins, "redis_cluster_url", examples=8, steps=15)


def test_a_sync_and_an_async_process_share_one_redis(redis_url: str) -> None:
    check_fronts_share_entries(
        functools.partial(RedisStore, url=redis_url),
        functools.partial(AsyncRedisStore, url=redis_url),
        fresh("cross"),
    )


def _redis_cache(url: str, namespace: str, prefix: str) -> object:
    # 200 coroutines connect at once on a loaded machine: a generous budget; the store and
    # the lock share one connection (pool and breaker).
    store = AsyncRedisStore(url=url, socket_timeout=5.0, socket_connect_timeout=5.0)
    lock = AsyncRedisLock(connection=store.connection, prefix=prefix)
    return compose_async(store, lock=lock, namespace=namespace)


@pytest.mark.slow
def test_four_processes_of_async_workers_on_a_cold_key_run_the_creator_once(
    redis_url: str, tmp_path: Path
) -> None:
    counter = tmp_path / "runs"
    counter.touch()
    make_cache = functools.partial(_redis_cache, redis_url, fresh("dogpile"), fresh("lock") + ":")
    context = multiprocessing.get_context("spawn")
    procs = [
        context.Process(target=dogpile_worker, args=(make_cache, "cold", str(counter), 50))
        for _ in range(4)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0] * 4
    runs = counter.read_text().split()
    assert len(runs) == 1, f"the creator ran {len(runs)} times (pids {runs})"


@pytest.mark.slow
def test_async_redis_lock_excludes_tasks_and_processes(redis_url: str) -> None:
    lock = AsyncRedisLock(url=redis_url, prefix=fresh("exclusion") + ":")
    assert pickle.loads(pickle.dumps(lock)) == lock
    check_async_lock_exclusion(lock, tasks=4, rounds=5, processes=3)


def test_async_redis_cluster_lock_excludes_tasks(redis_cluster_url: str) -> None:
    lock = AsyncRedisClusterLock(url=redis_cluster_url, prefix=fresh("cluster-lock") + ":")
    check_async_lock_exclusion(lock, tasks=4, rounds=5)


def test_sync_and_async_locks_exclude_each_other(redis_url: str) -> None:
    sync = RedisLock(url=redis_url, prefix=fresh("twin-locks") + ":")
    check_sync_and_async_locks_exclude(
        sync, AsyncRedisLock(connection=sync.connection, prefix=sync.prefix)
    )


def test_cancelled_waiters_and_creators_leave_no_lease(redis_url: str) -> None:
    prefix = fresh("cancel") + ":"
    store = AsyncRedisStore(url=redis_url)
    lock = AsyncRedisLock(connection=store.connection, prefix=prefix, expire=60)
    probe = RedisLock(url=redis_url, prefix=prefix)
    cache = compose_async(store, lock=lock, namespace=fresh("cancel"))
    check_cancellation_leaves_no_lease(cache, probe)


def test_compare_and_set_contract(redis_url: str, redis_cluster_url: str) -> None:
    check_async_compare_and_set(AsyncRedisStore(url=redis_url, prefix=fresh("cas") + ":"))
    check_async_compare_and_set(
        AsyncRedisClusterStore(url=redis_cluster_url, prefix=fresh("cas") + ":")
    )


def test_sync_and_async_twins_share_one_connection_and_versions(redis_url: str) -> None:
    sync = RedisStore(url=redis_url, prefix=fresh("versions") + ":")
    twin = AsyncRedisStore(connection=sync.connection, prefix=sync.prefix)
    lock = AsyncRedisLock(connection=sync.connection)
    assert twin.connection is sync.connection is lock.connection
    check_twins_share_versions(sync, twin)
    sync.clear("ns")
    sync.close()


def test_each_event_loop_gets_its_own_client(redis_url: str) -> None:
    """A client's connections belong to its loop: a store used in one loop, not closed, then
    in another (and in a third concurrently, from a thread) works in each."""
    store = AsyncRedisStore(url=redis_url, prefix=fresh("loops") + ":")

    async def write_and_read(n: int, close: bool = True) -> object:
        await store.set("ns", f"k{n}", Entry(b"v", 1.0, None))
        found = await store.get("ns", f"k{n}")
        if close:
            await store.close()  # this loop's client only
        return found

    first_loop = asyncio.new_event_loop()
    try:
        assert first_loop.run_until_complete(write_and_read(0, close=False)) == Entry(
            b"v", 1.0, None
        )
        assert asyncio.run(write_and_read(1)) == Entry(b"v", 1.0, None)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            assert pool.submit(asyncio.run, write_and_read(2)).result() == Entry(b"v", 1.0, None)
        assert first_loop.run_until_complete(write_and_read(3, close=False)) == Entry(
            b"v", 1.0, None
        )
        first_loop.run_until_complete(store.clear("ns"))
        first_loop.run_until_complete(store.close())
    finally:
        first_loop.close()


def test_an_unreachable_server_is_store_unavailable() -> None:
    async def scenario() -> None:
        store = AsyncRedisStore(url="redis://127.0.0.1:1/0", socket_timeout=0.5, retries=0)
        with pytest.raises(StoreUnavailable, match="127.0.0.1:1"):
            await store.get("ns", "k")
        cache = compose_async(store, on_store_error="compute")
        assert await cache.get_or_create("k", lambda: 3) == 3
        await store.close()

    asyncio.run(scenario())
