"""Async front benchmark: AsyncCache against its baselines, as ratios in one run.

    PYTHONPATH=. python benchmarks/bench_async.py [--redis-url URL | --no-redis] [--samples N]
    PYTHONPATH=. python benchmarks/bench_async.py --instructions [--redis-url URL]

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

``--instructions`` counts the Redis hit instead, ours and the raw ``GET``, in user-space CPU
instructions under valgrind's callgrind (a fresh process each, run 0 and
:data:`COUNTED_HITS` times): a ratio that does not move with the machine's load, and an upper
bound of the wall-clock one (the server's work and the system calls, common to both sides, are
not counted). A few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _network import VALUE, private_redis, redis_command_count
from _timing import Paired, callgrind_instructions, paired, print_ratios, sync_batch

from beaker import compose, compose_async
from beaker.stores import AsyncMemoryStore, MemoryStore

#: Operations per timed batch (a Redis batch: fewer, each is a round trip).
BATCH = 1000
REDIS_BATCH = 100
#: Hits counted under callgrind by ``--instructions``.
COUNTED_HITS = 300
TARGETS = {
    "memory get hit: AsyncCache.get": 2.0,
    "memory memoized hit (async def)": 2.0,
    "redis get hit: AsyncCache.get": 1.1,
}


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


def redis_hits(
    loop: asyncio.AbstractEventLoop, url: str
) -> tuple[Any, Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]:
    """(the store, ours: ``AsyncCache.get`` hit, raw: the store's own client's ``GET`` of the
    same key), the entry written."""
    from beaker.stores import AsyncRedisStore

    # Budgets roomy enough for a run under callgrind (some 50 times slower).
    store = AsyncRedisStore(url=url, socket_timeout=10.0, socket_connect_timeout=10.0)
    cache = compose_async(store, namespace="bench-async")
    loop.run_until_complete(cache.set("k", VALUE))
    client = loop.run_until_complete(_in_loop(store.live_client))  # the store's own client
    key = f"{store.sync.prefix}{{{len('bench-async')}:bench-async}}:k"
    return store, lambda: cache.get("k"), lambda: client.get(key)


def measure_redis(
    loop: asyncio.AbstractEventLoop, url: str, samples: int
) -> tuple[dict[str, Paired], float]:
    """(ours against the raw GET, server commands per hit)."""
    from beaker.stores import RedisStore

    store, ours, raw = redis_hits(loop, url)
    counter = RedisStore(url=url).live_client()
    before = redis_command_count(counter)
    async_batch(loop, ours)()
    commands = (redis_command_count(counter) - before) / BATCH
    timings = {
        "redis get hit: AsyncCache.get": paired(
            async_batch(loop, ours, REDIS_BATCH), async_batch(loop, raw, REDIS_BATCH), samples
        )
    }
    loop.run_until_complete(store.clear("bench-async"))
    loop.run_until_complete(store.close())
    return timings, commands


def count_child(url: str, side: str, hits: int) -> None:
    """``--instructions``'s child: ``hits`` Redis hits of ``side`` (``ours`` or ``raw``)."""
    loop = asyncio.new_event_loop()
    store, ours, raw = redis_hits(loop, url)
    operation = ours if side == "ours" else raw
    async_batch(loop, operation, 10)()  # warm: connections open, code paths taken
    if hits:
        async_batch(loop, operation, hits)()
    loop.run_until_complete(store.close())
    loop.close()


def count_instructions(url: str) -> None:
    """Print the Redis hit's instructions per hit, ours and raw, and their ratio."""
    per_hit = {}
    for side in ("ours", "raw"):
        runs = [
            callgrind_instructions(
                [sys.executable, __file__, "--count-child", url, side, str(hits)], os.environ
            )
            for hits in (0, COUNTED_HITS)
        ]
        per_hit[side] = (runs[1] - runs[0]) / COUNTED_HITS
    ratio = per_hit["ours"] / per_hit["raw"]
    target = TARGETS["redis get hit: AsyncCache.get"]
    print(
        f"instructions  redis get hit: AsyncCache.get  {ratio:6.3f}  <= {target} "
        f"{'met' if ratio <= target else 'MISSED'}  ours {per_hit['ours']:.0f} instr/hit"
        f"  raw GET {per_hit['raw']:.0f} instr/hit"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--redis-url", help="a server to use instead of a private one")
    parser.add_argument("--no-redis", action="store_true", help="the memory part only")
    parser.add_argument(
        "--samples", type=int, default=200, help="batch pairs per workload (default 200)"
    )
    parser.add_argument(
        "--instructions", action="store_true", help="count the Redis hit under callgrind"
    )
    parser.add_argument("--count-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_child:
        url, side, hits = args.count_child
        count_child(url, side, int(hits))
        return 0
    if args.instructions:
        with contextlib.nullcontext(args.redis_url) if args.redis_url else private_redis() as url:
            count_instructions(url)
        return 0
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
