"""Async front benchmark: AsyncCache against its baselines, as ratios in one run.

    PYTHONPATH=. python benchmarks/bench_async.py [--redis-url URL | --no-redis] [--samples N]

Each workload is timed in batches of awaited calls on one event loop, a batch of ours and one
of its baseline back to back, many times (which one goes first alternating), so load that
drifts falls on both alike; the ratio is the median of the pairs' ratios (wall-clock time):

* memory: ``AsyncCache.get`` hit on an ``AsyncMemoryStore`` and an ``async def`` memoized hit,
  against the sync ``Cache.get`` / memoized hit on a ``MemoryStore`` (the same loop shape,
  without ``await``). Target: at most 2x.
* redis (a private ``redis-server`` the script starts, or ``--redis-url``): ``AsyncCache.get``
  hit on an ``AsyncRedisStore`` against the raw ``redis.asyncio`` ``GET`` of the same key on
  the store's own client. Targets: at most 1.1x, and exactly 1 server command per hit (``INFO
  commandstats`` deltas: exact on the private server, where nobody else sends commands).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable

from _network import VALUE, private_redis, redis_command_count
from _timing import Paired, paired, print_ratios

from beaker import compose, compose_async
from beaker.stores import AsyncMemoryStore, MemoryStore

#: Operations per timed batch (a Redis batch: fewer, each is a round trip).
BATCH = 1000
REDIS_BATCH = 100
TARGETS = {
    "memory get hit: AsyncCache.get": 2.0,
    "memory memoized hit (async def)": 2.0,
    "redis get hit: AsyncCache.get": 1.1,
}


def sync_batch(operation: Callable[[], object], size: int = BATCH) -> Callable[[], float]:
    """Times ``operation`` called ``size`` times; returns ns per call."""

    def batch() -> float:
        started = time.perf_counter_ns()
        for _ in range(size):
            operation()
        return (time.perf_counter_ns() - started) / size

    return batch


def async_batch(
    loop: asyncio.AbstractEventLoop,
    operation: Callable[[], Awaitable[object]],
    size: int = BATCH,
) -> Callable[[], float]:
    """Times ``operation`` awaited ``size`` times on ``loop`` (timed inside the loop: the
    loop's start and stop are not counted); returns ns per call."""

    async def many() -> float:
        started = time.perf_counter_ns()
        for _ in range(size):
            await operation()
        return (time.perf_counter_ns() - started) / size

    return lambda: loop.run_until_complete(many())


def measure_memory(loop: asyncio.AbstractEventLoop, samples: int) -> dict[str, Paired]:
    sync = compose(MemoryStore(), ttl=3600)
    cache = compose_async(AsyncMemoryStore(), ttl=3600)
    sync.set("k", VALUE)
    loop.run_until_complete(cache.set("k", VALUE))

    @sync.memoize(namespace="bench")
    def load(a: int, b: int) -> object:
        return VALUE

    @cache.memoize(namespace="bench")
    async def aload(a: int, b: int) -> object:
        return VALUE

    load(1, 2)
    loop.run_until_complete(aload(1, 2))
    return {
        "memory get hit: AsyncCache.get": paired(
            async_batch(loop, lambda: cache.get("k")), sync_batch(lambda: sync.get("k")), samples
        ),
        "memory memoized hit (async def)": paired(
            async_batch(loop, lambda: aload(1, 2)), sync_batch(lambda: load(1, 2)), samples
        ),
    }


async def _in_loop(call: Callable[[], object]) -> object:
    return call()


def measure_redis(
    loop: asyncio.AbstractEventLoop, url: str, samples: int
) -> tuple[dict[str, Paired], float]:
    """(ours against the raw GET, server commands per hit)."""
    from beaker.stores import AsyncRedisStore, RedisStore

    store = AsyncRedisStore(url=url)
    cache = compose_async(store, namespace="bench-async")
    loop.run_until_complete(cache.set("k", VALUE))
    client = loop.run_until_complete(_in_loop(store.live_client))  # the store's own client
    key = f"{store.sync.prefix}{{{len('bench-async')}:bench-async}}:k"
    counter = RedisStore(url=url).live_client()

    before = redis_command_count(counter)
    async_batch(loop, lambda: cache.get("k"))()
    commands = (redis_command_count(counter) - before) / BATCH
    timings = {
        "redis get hit: AsyncCache.get": paired(
            async_batch(loop, lambda: cache.get("k"), REDIS_BATCH),
            async_batch(loop, lambda: client.get(key), REDIS_BATCH),
            samples,
        )
    }
    loop.run_until_complete(cache.clear())
    loop.run_until_complete(store.close())
    return timings, commands


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--redis-url", help="a server to use instead of a private one")
    parser.add_argument("--no-redis", action="store_true", help="the memory part only")
    parser.add_argument(
        "--samples", type=int, default=200, help="batch pairs per workload (default 200)"
    )
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    results = measure_memory(loop, args.samples)
    commands = None
    if not args.no_redis:
        with contextlib.nullcontext(args.redis_url) if args.redis_url else private_redis() as url:
            redis_results, commands = measure_redis(loop, url, args.samples)
        results.update(redis_results)
    loop.close()
    print_ratios(
        "async front: ours / baseline (the sync memory front, or a raw redis.asyncio GET)",
        results,
        TARGETS,
    )
    if commands is not None:
        verdict = "met" if commands == 1 else "MISSED"
        print(f"redis commands per AsyncCache.get hit: {commands:.3f}  (target == 1: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
