"""Outage benchmark: what a hung server costs a cache in compute mode, call by call.

    PYTHONPATH=. python benchmarks/bench_outage.py [--memcached HOST:PORT] [--postgresql-url URL]

A listening socket that accepts and never answers stands in for a hung Redis and a hung
memcached; a port that refuses stands in for a killed PostgreSQL. Each case runs 20 calls
(``get`` and ``get_or_create`` in turn) through ``compose(store, lock=..., on_store_error=
"compute")`` and prints the slowest call and the total, in seconds: the first calls cost the
time budget, then the circuit breaker opens and the others cost nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from collections.abc import Callable

from beaker import compose
from beaker.caching import Cache
from beaker.locks.memcached import MemcachedLock
from beaker.locks.redis import RedisLock
from beaker.stores.memcached import MemcachedStore
from beaker.stores.redis import RedisStore
from beaker.stores.sqlalchemy import SQLAlchemyStore


def run(cache: Cache) -> tuple[float, float]:
    """(slowest call, total) over 20 calls, in seconds."""
    slowest = 0.0
    started = time.perf_counter()
    for i in range(20):
        key = f"k{i % 4}"
        before = time.perf_counter()
        if i % 2:
            cache.get(key)
        else:
            cache.get_or_create(key, lambda: "made")
        slowest = max(slowest, time.perf_counter() - before)
    return slowest, time.perf_counter() - started


def _memcached(servers: str) -> Cache:
    store = MemcachedStore(servers)
    return compose(store, lock=MemcachedLock(connection=store.connection), on_store_error="compute")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql-url", default=os.environ.get("BEAKER_TEST_POSTGRESQL_URL"))
    args = parser.parse_args()
    hole = socket.create_server(("127.0.0.1", 0), backlog=64)  # accepts, never answers
    port = hole.getsockname()[1]
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    closed = refusing.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    shared = RedisStore(url=url)
    cases: dict[str, Callable[[], Cache]] = {
        "hung Redis, store and lock from one URL each": lambda: compose(
            RedisStore(url=url), lock=RedisLock(url=url), on_store_error="compute"
        ),
        "hung Redis, store and lock on one connection": lambda: compose(
            shared, lock=RedisLock(connection=shared.connection), on_store_error="compute"
        ),
        "hung memcached, one connection": lambda: _memcached(f"127.0.0.1:{port}"),
    }
    if args.postgresql_url:
        import sqlalchemy as sa

        killed = sa.make_url(args.postgresql_url).set(host="127.0.0.1", port=closed)
        cases["killed PostgreSQL"] = lambda: compose(
            SQLAlchemyStore(killed), on_store_error="compute"
        )
    print(f"{'case (20 calls, compute mode)':<50} {'slowest s':>10} {'total s':>10}")
    for name, build in cases.items():
        cache = build()
        slowest, total = run(cache)
        print(f"{name:<50} {slowest:>10.3f} {total:>10.3f}")
        cache.store.close()  # type: ignore[attr-defined]
    hole.close()
    refusing.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
