"""Redis benchmark: ns per operation and server commands per operation, in one run.

    PYTHONPATH=. python benchmarks/bench_redis.py [--redis-url URL] [--cluster-url URL]
        [--beaker-venv PATH] [--min-seconds S]

URLs default to ``BEAKER_TEST_REDIS_URL`` / ``BEAKER_TEST_REDIS_CLUSTER_URL`` (source the env
file of ``.ci/services.sh``). Workloads, for RedisStore and RedisClusterStore: get hit and set
on the bare store and through ``compose(...)``'s ``Cache.get`` / ``Cache.set``. Baselines in the
same run: the raw redis-py client's own ``GET`` / ``SET`` of the same bytes under the same key
(the store's own client), and with ``--beaker-venv`` real Beaker 1.14.1's ``ext:redis`` /
``ext:rediscluster`` (``benchmarks/beaker114_redis.py``). Commands per operation come from
``INFO commandstats`` deltas over a few thousand operations.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _network import VALUE, per_op, print_work, redis_command_count, split_baseline
from _timing import best_alternating, report, run_baseline

from beaker import compose
from beaker.entry import Entry, pack_entry
from beaker.locks import NullLock
from beaker.serializers.pickle import PickleSerializer
from beaker.stores.redis import RedisClusterStore, RedisStore

ROUNDS = 5


def measure(name: str, store: RedisStore, min_seconds: float) -> tuple[dict[str, float], ...]:
    """Returns (ours, raw client, commands per op) for one store."""
    client = store.live_client()
    namespace = "bench"
    cache = compose(store, lock=NullLock(), namespace=namespace)
    record = pack_entry(Entry(PickleSerializer().dumps(VALUE), time.time()))
    key = store._space(namespace) + "k"
    store.set(namespace, "k", Entry(PickleSerializer().dumps(VALUE), time.time()))
    stored = store.get(namespace, "k")
    assert stored is not None
    entry = Entry(stored.value, stored.stored_at)

    raw: dict[str, Callable[[], object]] = {
        "get": lambda: client.get(key),
        "set": lambda: client.set(key, record),
    }
    ours: dict[str, tuple[str, Callable[[], object]]] = {
        f"{name} get hit: store": ("get", lambda: store.get(namespace, "k")),
        f"{name} get hit: Cache.get": ("get", lambda: cache.get("k")),
        f"{name} set: store": ("set", lambda: store.set(namespace, "k", entry)),
        f"{name} set: Cache.set": ("set", lambda: cache.set("k", VALUE)),
    }
    timings: dict[str, float] = {}
    baseline: dict[str, float] = {}
    commands: dict[str, float] = {}
    for workload, (kind, operation) in ours.items():
        mine, (theirs,) = best_alternating(operation, [raw[kind]], min_seconds, ROUNDS)
        timings[workload], baseline[workload] = mine, theirs
        commands[workload] = per_op(lambda: redis_command_count(client), operation)
    assert cache.get("k") == VALUE
    return timings, baseline, commands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=os.environ.get("BEAKER_TEST_REDIS_URL"))
    parser.add_argument("--cluster-url", default=os.environ.get("BEAKER_TEST_REDIS_CLUSTER_URL"))
    parser.add_argument("--beaker-venv", help="virtualenv with beaker==1.14.1 and redis")
    parser.add_argument(
        "--min-seconds", type=float, default=0.1, help="shortest timed loop per repeat (seconds)"
    )
    args = parser.parse_args()
    if not args.redis_url:
        parser.error("no --redis-url and no BEAKER_TEST_REDIS_URL: run .ci/services.sh start")

    ours: dict[str, float] = {}
    raw: dict[str, float] = {}
    commands: dict[str, dict[str, float]] = {"ours": {}}
    stores: list[tuple[str, RedisStore]] = [("redis", RedisStore(url=args.redis_url))]
    if args.cluster_url:
        stores.append(("cluster", RedisClusterStore(url=args.cluster_url)))
    for name, store in stores:
        timings, baseline, counts = measure(name, store, args.min_seconds)
        ours.update(timings)
        raw.update(baseline)
        commands["ours"].update(counts)
        store.clear("bench")
        store.close()

    baselines: dict[str, dict[str, float]] = {"raw redis-py": raw}
    if args.beaker_venv:
        script = Path(__file__).with_name("beaker114_redis.py")
        extra = ["--url", args.redis_url, "--min-seconds", str(args.min_seconds)]
        if args.cluster_url:
            extra += ["--cluster-url", args.cluster_url]
        theirs = run_baseline(args.beaker_venv, script, extra)
        baselines["beaker 1.14.1"], commands["beaker 1.14.1"] = split_baseline(theirs)

    report("redis (ns/op; ratio = ours / baseline)", ours, baselines)
    print_work("server commands per operation (INFO commandstats)", ours, commands)
    return 0


if __name__ == "__main__":
    sys.exit(main())
