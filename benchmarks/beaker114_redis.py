"""The Redis workloads through real Beaker 1.14.1 (run by bench_redis.py inside a virtualenv
that has ``beaker==1.14.1`` and ``redis``): ``CacheManager(type="ext:redis")`` and
``"ext:rediscluster"`` get hit and put, plus the server commands each costs.

    python beaker114_redis.py --url redis://... [--cluster-url redis://...] [--min-seconds S]

Prints one JSON object last: ``{workload: ns/op, "commands: " + workload: commands/op}``.
"""

from __future__ import annotations

import argparse
import json

import redis
import redis.cluster
from _network import measure_beaker_cache, redis_command_count

import beaker
from beaker.cache import CacheManager

assert beaker.__version__ == "1.14.1", beaker.__version__


def measure(kind: str, url: str, admin: object, min_seconds: float) -> dict[str, float]:
    # ext:rediscluster takes its node list as ``urls``.
    address = {"url": url} if kind == "ext:redis" else {"urls": url}
    cache = CacheManager(type=kind, **address).get_cache("bench")
    name = "redis" if kind == "ext:redis" else "cluster"
    return measure_beaker_cache(name, cache, lambda: redis_command_count(admin), min_seconds)


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
