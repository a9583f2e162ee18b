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
from typing import Any

import redis
import redis.cluster
from _timing import ns_per_op, report, run_baseline

from beaker import compose
from beaker.entry import Entry, pack_entry
from beaker.locks import NullLock
from beaker.serializers.pickle import PickleSerializer
from beaker.stores.redis import RedisClusterStore, RedisStore

VALUE = {"title": "a cached page fragment", "items": list(range(20))}
COUNTED = 2000
ROUNDS = 5


def command_count(client: Any) -> int:
    """All commands the server (every primary of a cluster) ran so far, ``INFO`` excluded."""
    if isinstance(client, redis.cluster.RedisCluster):
        per_node = client.info("commandstats", target_nodes=redis.cluster.RedisCluster.PRIMARIES)
        tables = list(per_node.values())
    else:
        tables = [client.info("commandstats")]
    return sum(
        int(row["calls"])
        for table in tables
        for name, row in table.items()
        if name != "cmdstat_info"
    )


def commands_per_op(client: Any, operation: Callable[[], object]) -> float:
    before = command_count(client)
    for _ in range(COUNTED):
        operation()
    return (command_count(client) - before) / COUNTED


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
        # Ours and the raw client alternate, each keeping its best run, so drift in the
        # machine's load (other processes) falls on both sides alike.
        mine, theirs = float("inf"), float("inf")
        for _ in range(ROUNDS):
            mine = min(mine, ns_per_op(operation, min_seconds))
            theirs = min(theirs, ns_per_op(raw[kind], min_seconds))
        timings[workload], baseline[workload] = mine, theirs
        commands[workload] = commands_per_op(client, operation)
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
        baselines["beaker 1.14.1"] = {
            k: v for k, v in theirs.items() if not k.startswith("commands: ")
        }
        commands["beaker 1.14.1"] = {
            k.removeprefix("commands: "): v for k, v in theirs.items() if k.startswith("commands: ")
        }

    report("redis (ns/op; ratio = ours / baseline)", ours, baselines)
    print("\nserver commands per operation (INFO commandstats)")
    print(f"{'workload':<34}" + "".join(f"{who:>16}" for who in commands))
    for workload in ours:
        row = f"{workload:<34}"
        for table in commands.values():
            count = table.get(workload)
            row += f"{'-' if count is None else format(count, '.2f'):>16}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
