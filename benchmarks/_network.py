"""Shared helpers of the network benchmarks (not part of the package): the cached value, server
work per operation (memcached ``stats`` and Redis ``INFO commandstats`` counters), the
baseline scripts' workloads and the table of server work.

Imported by the baseline scripts too, which run inside real Beaker 1.14.1's virtualenv, so it
must not import ``beaker`` (either one): only the standard library, ``_timing`` and, inside the
one function that needs it, ``redis``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from _timing import ns_per_op

VALUE = {"title": "a cached page fragment", "items": list(range(20))}
COUNTED = 2000
COMMANDS = "commands: "  # key prefix of server work in a baseline script's JSON
MEMCACHED_COMMANDS = (
    "cmd_get",
    "cmd_set",
    "cmd_touch",
    "cmd_flush",
    "delete_hits",
    "delete_misses",
    "incr_hits",
    "incr_misses",
    "decr_hits",
    "decr_misses",
)


def memcached_command_total(stats: Mapping[str, Any]) -> int:
    """The sum of :data:`MEMCACHED_COMMANDS` in ``stats`` (``{counter name: value}``)."""
    return sum(int(stats.get(name, 0)) for name in MEMCACHED_COMMANDS)


def redis_command_count(client: Any) -> int:
    """All commands the server (every primary of a cluster) ran so far, ``INFO`` excluded."""
    import redis.cluster  # here: the memcached scripts need not have redis

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


def per_op(count: Callable[[], int], operation: Callable[[], object]) -> float:
    """How much ``count()`` grows per call of ``operation``, over :data:`COUNTED` calls."""
    before = count()
    for _ in range(COUNTED):
        operation()
    return (count() - before) / COUNTED


def measure_beaker_cache(
    label: str, cache: Any, count: Callable[[], int], min_seconds: float
) -> dict[str, float]:
    """Get hit and put on a real Beaker ``Cache`` (of a baseline script): each workload's
    ns/op, and its server work per op under ``COMMANDS + workload``."""
    cache.put("k", VALUE)
    assert cache.get("k") == VALUE
    workloads: dict[str, Callable[[], object]] = {
        f"{label} get hit: Cache.get": lambda: cache.get("k"),
        f"{label} set: Cache.set": lambda: cache.put("k", VALUE),
    }
    results: dict[str, float] = {}
    for workload, operation in workloads.items():
        results[workload] = ns_per_op(operation, min_seconds)
        results[COMMANDS + workload] = per_op(count, operation)
    return results


def split_baseline(theirs: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """A baseline script's JSON as (ns/op by workload, server work per op by workload)."""
    timings = {k: v for k, v in theirs.items() if not k.startswith(COMMANDS)}
    commands = {k.removeprefix(COMMANDS): v for k, v in theirs.items() if k.startswith(COMMANDS)}
    return timings, commands


def print_work(
    title: str, workloads: Mapping[str, object], commands: Mapping[str, Mapping[str, float]]
) -> None:
    """Print the server work per operation of each workload, one column per table."""
    print(f"\n{title}")
    print(f"{'workload':<34}" + "".join(f"{who:>16}" for who in commands))
    for workload in workloads:
        line = f"{workload:<34}"
        for table in commands.values():
            count = table.get(workload)
            line += f"{'-' if count is None else format(count, '.2f'):>16}"
        print(line)


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server of the benchmark's own on a free loopback port (``redis-server`` from
    ``BEAKER_TEST_REDIS_SERVER_BIN`` or ``PATH``, no persistence), so that ``INFO
    commandstats`` counts this benchmark's commands only; yields its URL.

    Raises:
        SystemExit: no redis-server program.
    """
    program = os.environ.get("BEAKER_TEST_REDIS_SERVER_BIN") or shutil.which("redis-server")
    if not program:
        raise SystemExit("no redis-server: give --redis-url, or install redis-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
