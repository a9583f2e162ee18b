"""The Redis workloads through real Beaker 1.14.1 (run by bench_redis.py inside a virtualenv
that has ``beaker==1.14.1`` and ``redis``): ``CacheManager(type="ext:redis")`` and
``"ext:rediscluster"`` get hit and put, plus the server commands each costs.

    python beaker114_redis.py --url redis://... [--cluster-url redis://...] [--min-seconds S]

Prints one JSON object last: ``{workload: ns/op, "commands: " + workload: commands/op}``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import redis
import redis.cluster
from _timing import ns_per_op

import beaker
from beaker.cache import CacheManager

assert beaker.__version__ == "1.14.1", beaker.__version__

VALUE = {"title": "a cached page fragment", "items": list(range(20))}
COUNTED = 2000


def command_count(admin: object) -> int:
    """All commands the server(s) ran so far, ``INFO`` excluded."""
    if isinstance(admin, redis.cluster.RedisCluster):
        per_node = admin.info("commandstats", target_nodes=redis.cluster.RedisCluster.PRIMARIES)
        tables = list(per_node.values())
    else:
        tables = [admin.info("commandstats")]  # type: ignore[attr-defined]
    return sum(
        int(row["calls"])
        for table in tables
        for name, row in table.items()
        if name != "cmdstat_info"
    )


def commands_per_op(admin: object, operation: Callable[[], object]) -> float:
    before = command_count(admin)
    for _ in range(COUNTED):
        operation()
    return (command_count(admin) - before) / COUNTED


def measure(kind: str, url: str, admin: object, min_seconds: float) -> dict[str, float]:
    # ext:rediscluster takes its node list as ``urls``.
    address = {"url": url} if kind == "ext:redis" else {"urls": url}
    cache = CacheManager(type=kind, **address).get_cache("bench")
    cache.put("k", VALUE)
    name = "redis" if kind == "ext:redis" else "cluster"
    workloads: dict[str, Callable[[], object]] = {
        f"{name} get hit: Cache.get": lambda: cache.get("k"),
        f"{name} set: Cache.set": lambda: cache.put("k", VALUE),
    }
    results: dict[str, float] = {}
    for workload, operation in workloads.items():
        results[workload] = ns_per_op(operation, min_seconds)
        results["commands: " + workload] = commands_per_op(admin, operation)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--cluster-url")
    parser.add_argument("--min-seconds", type=float, default=0.2)
    args = parser.parse_args()
    results: dict[str, float] = {}
    admin = redis.Redis.from_url(args.url)
    results.update(measure("ext:redis", args.url, admin, args.min_seconds))
    admin.close()
    if args.cluster_url:
        cluster_admin = redis.cluster.RedisCluster.from_url(args.cluster_url)
        results.update(
            measure("ext:rediscluster", args.cluster_url, cluster_admin, args.min_seconds)
        )
        cluster_admin.close()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
