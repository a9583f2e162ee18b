"""Async front benchmark: ns per operation of AsyncCache against its baselines, in one run.

    PYTHONPATH=. python benchmarks/bench_async.py [--redis-url URL | --no-redis] [--min-seconds S]

Workloads, each timed in batches of awaited calls on one event loop, alternating with its
baseline so load drift falls on both alike:

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
from collections.abc import Awaitable, Callable

from _network import VALUE, private_redis, redis_command_count
from _timing import best_alternating, report

from beaker import compose, compose_async
from beaker.stores import AsyncMemoryStore, MemoryStore

ROUNDS = 5
BATCH = 1000
TARGETS = {"memory": 2.0, "redis": 1.1}


def sync_batch(operation: Callable[[], object]) -> Callable[[], object]:
    """``operation`` called :data:`BATCH` times per call."""

    def batch() -> None:
        for _ in range(BATCH):
            operation()

    return batch


def async_batch(
    loop: asyncio.AbstractEventLoop, operation: Callable[[], Awaitable[object]]
) -> Callable[[], object]:
    """``operation`` awaited :data:`BATCH` times per call, on ``loop``."""

    async def many() -> None:
        for _ in range(BATCH):
            await operation()

    return lambda: loop.run_until_complete(many())


def compare(
    mine: Callable[[], object], theirs: Callable[[], object], min_seconds: float
) -> tuple[float, float]:
    """ns per single operation of two batch callables, measured in alternation."""
    ours, (baseline,) = best_alternating(mine, [theirs], min_seconds, ROUNDS)
    return ours / BATCH, baseline / BATCH


def measure_memory(loop: asyncio.AbstractEventLoop, min_seconds: float) -> dict[str, tuple]:
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
        "memory get hit: AsyncCache.get": compare(
            async_batch(loop, lambda: cache.get("k")),
            sync_batch(lambda: sync.get("k")),
            min_seconds,
        ),
        "memory memoized hit (async def)": compare(
            async_batch(loop, lambda: aload(1, 2)), sync_batch(lambda: load(1, 2)), min_seconds
        ),
    }


async def _in_loop(call: Callable[[], object]) -> object:
    return call()


def measure_redis(
    loop: asyncio.AbstractEventLoop, url: str, min_seconds: float
) -> tuple[dict[str, tuple], float]:
    """((ours, raw) ns per hit, server commands per hit)."""
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
        "redis get hit: AsyncCache.get": compare(
            async_batch(loop, lambda: cache.get("k")),
            async_batch(loop, lambda: client.get(key)),
            min_seconds,
        )
    }
    loop.run_until_complete(cache.clear())
    loop.run_until_complete(store.close())
    return timings, commands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="a server to use instead of a private one")
    parser.add_argument("--no-redis", action="store_true", help="the memory part only")
    parser.add_argument(
        "--min-seconds", type=float, default=0.1, help="shortest timed loop per repeat (seconds)"
    )
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    results = measure_memory(loop, args.min_seconds)
    commands = None
    if not args.no_redis:
        with contextlib.nullcontext(args.redis_url) if args.redis_url else private_redis() as url:
            redis_results, commands = measure_redis(loop, url, args.min_seconds)
        results.update(redis_results)
    loop.close()
    ours = {workload: pair[0] for workload, pair in results.items()}
    baseline = {workload: pair[1] for workload, pair in results.items()}
    report(
        "async front (ns/op; baseline = sync memory front, or raw redis.asyncio GET)",
        ours,
        {"baseline": baseline},
    )
    print("\ntargets (ours / baseline):")
    for workload, mine in ours.items():
        target = TARGETS[workload.split(" ", 1)[0]]
        ratio = mine / baseline[workload]
        verdict = "met" if ratio <= target else "MISSED"
        print(f"  {workload:<36} {ratio:6.3f} <= {target:<4} {verdict}")
    if commands is not None:
        verdict = "met" if commands == 1 else "MISSED"
        print(f"  redis commands per AsyncCache.get hit {commands:.3f} == 1    {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
