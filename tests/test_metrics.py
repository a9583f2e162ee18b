"""cache.stats(): the counters of compose(..., metrics=True) (the counting fronts, MeteredCache
and MeteredAsyncCache), and that metrics are off (all zeros, the plain front, the null
recorder) by default."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from beaker import MISSING, compose, compose_async
from beaker.async_caching import AsyncCache, MeteredAsyncCache
from beaker.caching import Cache, MeteredCache
from beaker.errors import ComponentTypeError, ConfigError, LockTimeout, StoreUnavailable
from beaker.metrics import Counters, NullRecorder, Stats
from beaker.stores import AsyncMemoryStore, MemoryStore
from beaker.stores.redis import RedisStore
from beaker.testing.invalidation import served_while_recreating


def test_metrics_are_off_by_default() -> None:
    cache = compose(MemoryStore())
    assert isinstance(cache.metrics, NullRecorder)
    cache.set("k", 1)
    cache.get("k")
    cache.get("absent")
    assert cache.stats() == Stats()


def test_hits_misses_and_creator_runs_are_counted() -> None:
    clock = [1000.0]
    cache = compose(MemoryStore(), metrics=True, clock=lambda: clock[0])
    cache.set("k", 1, ttl=10)
    assert cache.get("k") == 1
    assert cache.get("absent") is MISSING
    clock[0] += 20
    assert cache.get("k") is MISSING  # expired: a miss
    assert cache.get_or_create("made", lambda: time.sleep(0.01) or 5) == 5
    cache.get_many(["made", "absent", "k"])
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (2, 5)  # get_or_create's first read: a miss
    assert stats.creator_runs == 1 and stats.creator_seconds >= 0.01
    assert stats.lock_waits == 1


def test_namespaces_and_memoized_functions_share_the_counters() -> None:
    cache = compose(MemoryStore(), metrics=True)

    @cache.memoize()
    def double(n: int) -> int:
        return 2 * n

    double(1)
    double(1)
    cache.namespace("other").get("x")
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.creator_runs) == (1, 2, 1)


def test_stale_served_and_lock_wait_timeouts() -> None:
    clock = [1000.0]
    cache = compose(
        MemoryStore(), metrics=True, clock=lambda: clock[0], stale_while_revalidate=30, ttl=10
    )
    cache.set("k", "old")
    clock[0] += 15  # inside the stale window
    assert served_while_recreating(cache, "k", "new") == "old"  # served stale at once
    stats = cache.stats()
    assert stats.stale_served == 1 and stats.lock_waits == 2
    quick = compose(MemoryStore(), metrics=True, lock_timeout=0.01)
    with quick.lock.acquire(quick._lock_name("busy")), pytest.raises(LockTimeout):
        quick.get_or_create("busy", lambda: 1)
    assert quick.stats().lock_waits == 1 and quick.stats().lock_wait_seconds > 0


def test_store_errors_are_counted() -> None:
    store = RedisStore(url="redis://127.0.0.1:1/0", socket_connect_timeout=0.05)
    cache = compose(store, metrics=True, on_store_error="compute")
    assert cache.get("k") is MISSING
    assert cache.get_or_create("k", lambda: 3) == 3
    raising = cache.evolve(on_store_error="raise")
    with pytest.raises(StoreUnavailable):
        raising.get("k")
    assert cache.stats().store_errors >= 3


def test_counters_from_many_threads_add_up() -> None:
    cache = compose(MemoryStore(), metrics=True)
    cache.set("k", 1)

    def read() -> None:
        for _ in range(1000):
            cache.get("k")

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.stats().hits == 8000


def test_a_recorder_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(ComponentTypeError):
        compose(MemoryStore(), metrics="yes")  # type: ignore[arg-type]
    assert isinstance(compose(MemoryStore(), metrics=Counters()).metrics, Counters)


def test_metrics_pick_the_counting_front_and_derived_caches_keep_it() -> None:
    plain, metered = compose(MemoryStore()), compose(MemoryStore(), metrics=True)
    assert type(plain) is Cache and type(metered) is MeteredCache
    assert type(metered.namespace("other")) is MeteredCache
    assert type(compose_async(AsyncMemoryStore(), metrics=True)) is MeteredAsyncCache
    assert type(compose_async(AsyncMemoryStore())) is AsyncCache


def test_a_plain_front_refuses_an_enabled_recorder() -> None:
    # It would count no reads: the recorder would report zero hits.
    with pytest.raises(ConfigError):
        Cache(store=MemoryStore(), metrics=Counters())
    with pytest.raises(ConfigError):
        compose(MemoryStore()).evolve(metrics=Counters())


def test_the_async_front_counts_reads() -> None:
    async def run() -> Stats:
        cache = compose_async(AsyncMemoryStore(), metrics=True)
        await cache.set("k", 1)
        assert await cache.get("k") == 1
        assert await cache.get("absent") is MISSING
        assert await cache.get_or_create("made", lambda: 2) == 2
        await cache.get_many(["k", "absent"])
        return cache.stats()

    stats = asyncio.run(run())
    assert (stats.hits, stats.misses, stats.creator_runs) == (2, 3, 1)


def test_counters_from_several_caches_add_up() -> None:
    counters = Counters()
    first = compose(MemoryStore(), metrics=counters)
    second = compose(MemoryStore(), metrics=counters, namespace="second")
    first.get("a")
    second.set("b", 1)
    second.get("b")
    assert (counters.stats().hits, counters.stats().misses) == (1, 1)
