"""The Beaker-API workloads of ``bench_compat.py``, written only against Beaker's documented
API so that the very same code measures real Beaker 1.14.1 (run as a script in its virtualenv,
printing one JSON object: workload -> ns/op) and this package's compat layer (imported by
``bench_compat.py``).

Network workloads run when their server is given by the environment (``BEAKER_TEST_REDIS_URL``,
``BEAKER_TEST_MEMCACHED``, ``BEAKER_TEST_POSTGRESQL_URL``; ``source`` the env file that
``.ci/services.sh start`` prints). A workload the implementation cannot run (e.g. no memcached
client library in Beaker's virtualenv) is left out and reported on stderr.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from typing import Any

from _timing import ns_per_op
from _wsgi import counter_app, requester, untouched_app

from beaker.cache import CacheManager, cache_region, cache_regions
from beaker.middleware import SessionMiddleware

VALUE = {"title": "a cached page fragment", "items": list(range(20))}


def _cache_workloads(name: str, manager_options: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    cache = CacheManager(**manager_options).get_cache(f"bench-{uuid.uuid4().hex[:8]}")
    cache.put("k", VALUE)
    return {f"{name} get hit": lambda: cache.get("k"), f"{name} put": lambda: cache.put("k", VALUE)}


def _session_workload(options: dict[str, Any], app: Any = counter_app) -> Callable[[], None]:
    return requester(SessionMiddleware(app, options))


def workloads(
    tmp: str,
) -> dict[str, Callable[[], Callable[[], Any]] | Callable[[], dict[str, Callable[[], Any]]]]:
    """Workload name -> a builder returning the operation (or several named operations)."""
    redis_url = os.environ.get("BEAKER_TEST_REDIS_URL")
    memcached = os.environ.get("BEAKER_TEST_MEMCACHED")
    postgresql = os.environ.get("BEAKER_TEST_POSTGRESQL_URL")
    lock_dir = os.path.join(tmp, "lock")
    builders: dict[str, Any] = {
        "memory": lambda: _cache_workloads("memory", {"type": "memory", "expire": 3600}),
        "file": lambda: _cache_workloads(
            "file",
            {
                "type": "file",
                "data_dir": os.path.join(tmp, "file"),
                "lock_dir": lock_dir,
                "expire": 3600,
            },
        ),
        "dbm": lambda: _cache_workloads(
            "dbm",
            {
                "type": "dbm",
                "data_dir": os.path.join(tmp, "dbm"),
                "lock_dir": lock_dir,
                "expire": 3600,
            },
        ),
        "sqlite": lambda: _cache_workloads(
            "database (sqlite)",
            {
                "type": "ext:database",
                "expire": 3600,
                "url": f"sqlite:///{os.path.join(tmp, 'cache.db')}",
            },
        ),
    }
    if redis_url:
        builders["redis"] = lambda: _cache_workloads(
            "redis", {"type": "ext:redis", "url": redis_url, "expire": 3600}
        )
    if memcached:
        builders["memcached"] = lambda: _cache_workloads(
            "memcached", {"type": "ext:memcached", "url": memcached, "expire": 3600}
        )
    if postgresql:
        builders["postgresql"] = lambda: _cache_workloads(
            "database (postgresql)", {"type": "ext:database", "url": postgresql, "expire": 3600}
        )

    def region() -> dict[str, Callable[[], Any]]:
        cache_regions.update({"bench": {"type": "memory", "expire": 3600}})

        @cache_region("bench", "load")
        def load(a: int, b: int) -> dict[str, Any]:
            return VALUE

        manager = CacheManager(type="memory", expire=3600)

        @manager.cache("load")
        def load2(a: int, b: int) -> dict[str, Any]:
            return VALUE

        load(1, 2)
        load2(1, 2)
        fresh = itertools.count()
        return {
            "cache_region hit": lambda: load(1, 2),
            "cache_region miss + create": lambda: load(next(fresh), 2),
            "CacheManager.cache hit": lambda: load2(1, 2),
        }

    builders["region"] = region
    validate = "a long random validation secret"
    sessions = {
        "session: cookie request": {"session.type": "cookie", "session.validate_key": validate},
        "session: encrypted cookie request": {
            "session.type": "cookie",
            "session.validate_key": validate,
            "session.encrypt_key": "a long random encryption secret",
        },
        "session: file request": {
            "session.type": "file",
            "session.secret": validate,
            "session.data_dir": os.path.join(tmp, "sessions"),
            "session.lock_dir": lock_dir,
        },
        "session: memory request": {"session.type": "memory", "session.secret": validate},
    }
    if redis_url:
        sessions["session: redis request"] = {
            "session.type": "ext:redis",
            "session.url": redis_url,
            "session.secret": validate,
        }
    for name, options in sessions.items():
        builders[name] = lambda options=options: _session_workload(options)
    builders["session: untouched request"] = lambda: _session_workload(
        {"session.type": "cookie", "session.validate_key": validate}, untouched_app
    )
    return builders


def measure(tmp: str) -> dict[str, float]:
    """ns/op of every workload this ``beaker`` can run."""
    results: dict[str, float] = {}
    for name, build in workloads(tmp).items():
        try:
            built = build()
        except Exception as exc:  # noqa: BLE001 - reported, not fatal: the others still run
            print(f"workload {name!r} unavailable: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        operations = built if isinstance(built, dict) else {name: built}
        for label, operation in operations.items():
            try:
                operation()
            except Exception as exc:  # noqa: BLE001 - as above
                print(f"workload {label!r} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            results[label] = ns_per_op(operation)
    return results


def main() -> None:
    import beaker

    assert beaker.__version__ == "1.14.1", beaker.__version__
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(measure(tmp)))


if __name__ == "__main__":
    main()
