"""Near tier benchmark: a NearCache hit against a MemoryStore hit and a Redis hit (ratios in one
run), and how long Redis's invalidation takes to reach another process's near tier.

    PYTHONPATH=. python benchmarks/bench_near.py [--redis-url URL] [--rounds N] [--samples N]

``--redis-url`` defaults to ``BEAKER_TEST_REDIS_URL``. Rows: ``Cache.get`` hit on a
``MemoryStore``, on a ``RedisStore`` with ``near=NearCache()`` (answered in-process) and on a
plain ``RedisStore`` (one ``GET``), best of alternating rounds. Targets (issue 12): near /
memory <= 2, near / Redis <= 1/30.

Delivery latency: a child process holds a near copy of a key; this process writes the key
(``time.monotonic()`` before the ``SET``) and the child reports when its tier dropped the copy
(polling every 50 µs, so the figures include up to that much); p50 and p99 over ``--samples``
writes, loopback. Figures taken while other work runs are noisy: rerun on a quiet machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from typing import Any

from _timing import best_alternating

from beaker import compose
from beaker.locks import NullLock
from beaker.stores import MemoryStore, NearCache
from beaker.stores.redis import RedisStore

VALUE = {"title": "a cached page fragment", "items": list(range(20))}


def _wait(condition: Any, patience: float = 10.0) -> None:
    deadline = time.monotonic() + patience
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the near tier did not follow (is CLIENT TRACKING available?)")
        time.sleep(0.00005)


def _reader(url: str, prefix: str, pipe: Any) -> None:
    cache = compose(RedisStore(url=url, prefix=prefix), near=NearCache(), lock=NullLock())
    near: Any = cache.store
    _wait(lambda: near.coherent)
    pipe.send("up")
    while (command := pipe.recv()) != "stop":
        _wait(lambda: cache.get("k") == command and len(near) == 1)
        pipe.send("kept")
        _wait(lambda: len(near) == 0)
        pipe.send(time.monotonic())
    near.close()


def delivery(url: str, samples: int) -> list[float]:
    """Seconds from before a write to another process's tier dropping the key."""
    prefix = f"bench-near-{os.getpid()}:"
    writer = compose(RedisStore(url=url, prefix=prefix), lock=NullLock())
    here, there = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(target=_reader, args=(url, prefix, there))
    child.start()
    assert here.recv() == "up"
    latencies = []
    writer.set("k", 0)
    for sample in range(samples):
        here.send(sample)
        assert here.recv() == "kept"
        start = time.monotonic()
        writer.set("k", sample + 1)
        latencies.append(here.recv() - start)
    here.send("stop")
    child.join(30)
    writer.store.close()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=os.environ.get("BEAKER_TEST_REDIS_URL"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.2)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    if not args.redis_url:
        raise SystemExit("--redis-url or BEAKER_TEST_REDIS_URL is needed")
    prefix = f"bench-near-hit-{os.getpid()}:"
    memory = compose(MemoryStore(), lock=NullLock())
    near = compose(RedisStore(url=args.redis_url, prefix=prefix), near=NearCache(), lock=NullLock())
    redis_only = compose(RedisStore(url=args.redis_url, prefix=prefix), lock=NullLock())
    for cache in (memory, near, redis_only):
        cache.set("k", VALUE)
    tier: Any = near.store
    _wait(lambda: tier.coherent and near.get("k") == VALUE and len(tier) == 1)
    near_ns, (memory_ns, redis_ns) = best_alternating(
        lambda: near.get("k"),
        [lambda: memory.get("k"), lambda: redis_only.get("k")],
        args.min_seconds,
        args.rounds,
    )
    assert len(tier) == 1, "the near copy was dropped during the run"
    print("Cache.get hit (ns/op)")
    print(f"  MemoryStore          {memory_ns:10.0f}")
    print(
        f"  RedisStore + near    {near_ns:10.0f}   near / memory = {near_ns / memory_ns:.3f} (<= 2)"
    )
    print(
        f"  RedisStore           {redis_ns:10.0f}   near / Redis  = {near_ns / redis_ns:.4f} (<= 0.0333)"
    )
    tier.close()
    redis_only.store.close()
    latencies = sorted(delivery(args.redis_url, args.samples))
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"invalidation delivery to another process ({len(latencies)} writes, loopback)")
    print(f"  p50 {p50 * 1e6:8.0f} µs   p99 {p99 * 1e6:8.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
