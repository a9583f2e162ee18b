"""Namespace and tag invalidation on the network stores: the conformance checks (another
process invalidating) on Redis, Redis Cluster, memcached, SQLite and PostgreSQL, on the async
front and between a sync and an async process on Redis, through a near tier on Redis, and the
costs counted on a private redis-server: invalidate_tags on 10,000 tagged entries and
invalidate() are one command each, a tagged hit is one script call in one round trip, and so is
a get_many of 100 keys."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path

from beaker.caching import compose
from beaker.entry import MISSING
from beaker.stores.async_redis import AsyncRedisClusterStore, AsyncRedisStore
from beaker.stores.base import Store
from beaker.stores.memcached import MemcachedStore
from beaker.stores.near import NearCache
from beaker.stores.redis import RedisClusterStore, RedisStore
from beaker.stores.sqlalchemy import SQLAlchemyStore
from beaker.testing.invalidation import (
    check_async_invalidation,
    check_invalidation,
    check_invalidation_across_processes,
)
from beaker.testing.near import check_near_invalidation
from tests.network._servers import fresh
from tests.network.test_redis import (  # noqa: F401
    RedisServer,
    command_delta,
    counting_client,
    private_redis,
)


def check_both(make: Callable[[], Store]) -> None:
    store = make()
    try:
        check_invalidation(store)
    finally:
        store.close()
    check_invalidation_across_processes(make)


def test_redis(redis_url: str) -> None:
    make = functools.partial(RedisStore, url=redis_url, prefix=fresh("inv") + ":")
    check_both(make)


def test_redis_cluster(redis_cluster_url: str) -> None:
    make = functools.partial(RedisClusterStore, url=redis_cluster_url, prefix=fresh("inv") + ":")
    check_both(make)


def test_memcached(memcached_servers: str) -> None:
    make = functools.partial(MemcachedStore, memcached_servers, prefix=fresh("inv") + ":")
    check_both(make)


def test_sqlite(tmp_path: Path) -> None:
    check_both(functools.partial(SQLAlchemyStore, f"sqlite:///{tmp_path}/inv.db"))


async def check_and_close(store: AsyncRedisStore) -> None:
    try:
        await check_async_invalidation(store)
    finally:
        await store.close()


def test_async_redis_and_across_fronts(redis_url: str) -> None:
    prefix = fresh("inv") + ":"
    sync = functools.partial(RedisStore, url=redis_url, prefix=prefix)
    asynchronous = functools.partial(AsyncRedisStore, url=redis_url, prefix=prefix)
    asyncio.run(check_and_close(asynchronous()))
    check_invalidation_across_processes(asynchronous)
    check_invalidation_across_processes(sync, asynchronous)
    check_invalidation_across_processes(asynchronous, sync)


def test_async_redis_cluster(redis_cluster_url: str) -> None:
    prefix = fresh("inv") + ":"
    asynchronous = functools.partial(AsyncRedisClusterStore, url=redis_cluster_url, prefix=prefix)
    asyncio.run(check_and_close(asynchronous()))
    sync = functools.partial(RedisClusterStore, url=redis_cluster_url, prefix=prefix)
    check_invalidation_across_processes(sync, asynchronous)


def test_near_tier_on_redis(redis_url: str) -> None:
    make = functools.partial(RedisStore, url=redis_url, prefix=fresh("inv") + ":")
    check_invalidation(NearCache().over(make()))
    check_near_invalidation(make)


def test_postgresql(postgresql_url: str) -> None:
    check_both(functools.partial(SQLAlchemyStore, postgresql_url))


def test_invalidations_are_one_command_whatever_the_entries(
    private_redis: RedisServer,  # noqa: F811
) -> None:
    cache = compose(RedisStore(url=private_redis.url), invalidation=True, namespace=fresh())
    other = cache.namespace(fresh())
    values = {f"k{i}": i for i in range(10_000)}
    cache.set_many(values, tags=("t",))
    other.set("elsewhere", 1, tags=("t",))
    assert cache.get("k1") == 1
    before = private_redis.commands()
    cache.invalidate_tags("t")
    assert command_delta(before, private_redis.commands()) == {"mset": 1}
    assert other.get("elsewhere") is MISSING  # every namespace sees the tag's new version
    assert cache.get_many(["k0", "k1", "k9999"]) == {}
    cache.set_many({"a": 1, "b": 2})
    before = private_redis.commands()
    cache.invalidate()
    assert command_delta(before, private_redis.commands()) == {"mset": 1}
    assert (cache.get("a"), cache.get("b")) == (MISSING, MISSING)


def test_a_tagged_hit_is_one_command_in_one_round_trip(
    private_redis: RedisServer,  # noqa: F811
) -> None:
    client, sends = counting_client(private_redis)
    cache = compose(RedisStore(client=client), invalidation=True, namespace=fresh())
    cache.set("k", "v", tags=("user:42", "team:7"))
    assert cache.get("k") == "v"  # the script is loaded now
    before, sends[:] = private_redis.commands(), []
    for _ in range(10):
        assert cache.get("k") == "v"
    assert len(sends) == 10
    # One script call a hit; INFO commandstats also lists the GETs it ran on the server (the
    # entry, two generation tokens, two tag tokens).
    assert command_delta(before, private_redis.commands()) == {"evalsha": 10, "get": 50}
    client.connection_pool.disconnect()


def test_a_get_many_of_100_keys_is_one_command(private_redis: RedisServer) -> None:  # noqa: F811
    client, sends = counting_client(private_redis)
    cache = compose(RedisStore(client=client), invalidation=True, namespace=fresh())
    values = {f"k{i}": i for i in range(100)}
    cache.set_many(values, tags=("t",))
    assert cache.get_many(["k0"]) == {"k0": 0}  # the script is loaded now
    before, sends[:] = private_redis.commands(), []
    assert cache.get_many(values) == values
    assert len(sends) == 1
    # One script call; it ran a GET per entry, per generation token and per tag token read.
    assert command_delta(before, private_redis.commands()) == {"evalsha": 1, "get": 202}
    client.connection_pool.disconnect()
