"""The memcached and SQL workloads through real Beaker 1.14.1 (run by bench_memcached_sql.py
inside a virtualenv that has ``beaker==1.14.1``, ``python-memcached`` and ``SQLAlchemy``):
``CacheManager(type="ext:memcached")`` and ``"ext:database"`` get hit and put, plus the server
work each costs (memcached ``stats`` commands; SQL statements seen by SQLAlchemy).

    python beaker114_memcached_sql.py --memcached HOST:PORT --sqlite-url sqlite:///path
        [--postgresql-url URL] [--min-seconds S]

Prints one JSON object last: ``{workload: ns/op, "commands: " + workload: work/op}``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import sys
from typing import Any

import sqlalchemy as sa
from _network import measure_beaker_cache, memcached_command_total

import beaker
from beaker.cache import CacheManager

assert beaker.__version__ == "1.14.1", beaker.__version__


def memcached_commands(address: str) -> int:
    """The command counters of ``stats`` (on a connection of its own)."""
    host, port = address.split(";")[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"stats\r\n")
        reply = b""
        while not reply.endswith(b"END\r\n"):
            reply += sock.recv(65536)
    stats = {}
    for line in reply.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT":
            stats[parts[1]] = parts[2]
    return memcached_command_total(stats)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memcached", required=True)
    parser.add_argument("--sqlite-url", required=True)
    parser.add_argument("--postgresql-url")
    parser.add_argument("--min-seconds", type=float, default=0.2)
    args = parser.parse_args()

    statements = [0]

    def count_statement(*_: Any) -> None:
        statements[0] += 1

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count_statement)

    results: dict[str, float] = {}
    memcached = CacheManager(type="ext:memcached", url=args.memcached).get_cache(
        "bench", expire=3600
    )
    results.update(
        measure_beaker_cache(
            "memcached", memcached, lambda: memcached_commands(args.memcached), args.min_seconds
        )
    )
    sqlite = CacheManager(type="ext:database", url=args.sqlite_url).get_cache("bench", expire=3600)
    results.update(measure_beaker_cache("sqlite", sqlite, lambda: statements[0], args.min_seconds))
    if args.postgresql_url and importlib.util.find_spec("psycopg") is None:
        print("no psycopg in this virtualenv: ext:database on PostgreSQL skipped", file=sys.stderr)
    elif args.postgresql_url:
        table = f"beaker114_cache_{os.getpid()}"
        postgresql = CacheManager(
            type="ext:database", url=args.postgresql_url, table_name=table
        ).get_cache("bench", expire=3600)
        results.update(
            measure_beaker_cache("postgresql", postgresql, lambda: statements[0], args.min_seconds)
        )
        engine = sa.create_engine(args.postgresql_url)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
