"""memcached and SQL benchmark: ns per operation and server work per operation, in one run.

    PYTHONPATH=. python benchmarks/bench_memcached_sql.py [--memcached HOST:PORT]
        [--postgresql-url URL] [--beaker-venv PATH] [--min-seconds S]

Workloads, for MemcachedStore, SQLAlchemyStore on a SQLite file and (with a URL) on PostgreSQL:
get hit and set on the bare store and through ``compose(...)``'s ``Cache.get`` / ``Cache.set``.
Baselines in the same run: the raw client doing the same work on the same bytes — pymemcache's
``get``/``set`` of the same item on the very ``PooledClient`` the store uses (the same class,
options and connection: what the store adds to its own client), and on a bare
``pymemcache.Client`` (one connection, no pool, no timeout: the strictest reference); a plain
SQLAlchemy ``select`` of the same row by primary key and the same upsert on the store's own
engine (same pool, same pre-ping) — and with ``--beaker-venv`` real Beaker 1.14.1's
``ext:memcached`` and ``ext:database`` (``benchmarks/beaker114_memcached_sql.py``).

Server work per operation: memcached commands from ``stats`` deltas (``cmd_get`` counts each
item fetched, ``cmd_set`` each store, plus deletes/touches) over a few thousand operations;
SQL statements from SQLAlchemy's ``before_cursor_execute`` event (on SQLite, whose reads run
on the DBAPI connection, from the driver's trace callback). On SQLite a hand-written ``sqlite3``
select of the same row plus its unpickling is a baseline too. Without ``--memcached`` a
private memcached is started on a free loopback port, so no other traffic disturbs the counts.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _network import VALUE, memcached_command_total, per_op, print_work, split_baseline
from _timing import best_alternating, report, run_baseline
from pymemcache.client.base import Client, PooledClient

from beaker import compose
from beaker.entry import Entry, pack_entry
from beaker.locks import NullLock
from beaker.serializers.pickle import PickleSerializer
from beaker.stores.memcached import MemcachedStore
from beaker.stores.memcached_names import expire_seconds
from beaker.stores.sqlalchemy import SQLAlchemyStore

ROUNDS = 7
_STATEMENTS = ("SELECT", "INSERT", "UPDATE", "DELETE")


# -- memcached -------------------------------------------------------------------------------------


@contextmanager
def private_memcached() -> Iterator[str]:
    """A memcached of our own on a free loopback port (killed on exit)."""
    binary = shutil.which("memcached")
    if binary is None:
        raise SystemExit("no memcached on PATH: install it or pass --memcached HOST:PORT")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0"]
    if os.geteuid() == 0:
        args += ["-u", "root"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def memcached_commands(admin: Client) -> int:
    return memcached_command_total({k.decode(): v for k, v in admin.stats().items()})


def measure_memcached(servers: str, min_seconds: float) -> dict[str, dict[str, float]]:
    store = MemcachedStore(servers)
    namespace = "bench"
    cache = compose(store, lock=NullLock(), namespace=namespace)
    payload = PickleSerializer().dumps(VALUE)
    entry = Entry(payload, time.time(), time.time() + 3600)
    store.set(namespace, "k", entry)
    name = store.item_name(namespace, "k")
    record = pack_entry(entry)
    expire = expire_seconds(entry.ttl())
    host, port = servers.split(";")[0].rsplit(":", 1)
    bare = Client((host, int(port)), no_delay=True, default_noreply=False)
    pooled = store.live_client()  # the store's own client: same class, options and pool
    assert type(pooled) is PooledClient, type(pooled)
    admin = Client((host, int(port)), default_noreply=False)

    raw_pooled: dict[str, Callable[[], object]] = {
        "get": lambda: pooled.get(name),
        "set": lambda: pooled.set(name, record, expire=expire, noreply=False),
    }
    raw_bare: dict[str, Callable[[], object]] = {
        "get": lambda: bare.get(name),
        "set": lambda: bare.set(name, record, expire=expire, noreply=False),
    }
    ours: dict[str, tuple[str, Callable[[], object]]] = {
        "memcached get hit: store": ("get", lambda: store.get(namespace, "k")),
        "memcached get hit: Cache.get": ("get", lambda: cache.get("k")),
        "memcached set: store": ("set", lambda: store.set(namespace, "k", entry)),
        "memcached set: Cache.set": ("set", lambda: cache.set("k", VALUE, ttl=3600)),
    }
    tables: dict[str, dict[str, float]] = {
        "ours": {},
        "raw PooledClient": {},
        "raw bare Client": {},
        "commands": {},
    }
    for workload, (kind, operation) in ours.items():
        mine, (pooled_ns, bare_ns) = best_alternating(
            operation, [raw_pooled[kind], raw_bare[kind]], min_seconds, ROUNDS
        )
        tables["ours"][workload] = mine
        tables["raw PooledClient"][workload] = pooled_ns
        tables["raw bare Client"][workload] = bare_ns
        tables["commands"][workload] = per_op(lambda: memcached_commands(admin), operation)
    assert cache.get("k") == VALUE
    store.clear(namespace)
    store.close()  # closes `pooled` too
    bare.close()
    admin.close()
    return tables


# -- SQL -------------------------------------------------------------------------------------------


def measure_sql(label: str, url: str, min_seconds: float) -> dict[str, dict[str, float]]:
    store = SQLAlchemyStore(url)
    namespace = "bench"
    cache = compose(store, lock=NullLock(), namespace=namespace)
    payload = PickleSerializer().dumps(VALUE)
    entry = Entry(payload, time.time(), time.time() + 3600)
    store.set(namespace, "k", entry)
    engine, table = store.connection.live_engine(), store._prepared().table

    # The raw baselines: what an application would write by hand on the same engine.
    select = sa.select(table.c.value, table.c.created, table.c.expires).where(
        table.c.namespace == namespace, table.c.key == "k"
    )
    row = {
        "namespace": namespace,
        "key": "k",
        "value": payload,
        "created": entry.stored_at,
        "accessed": entry.stored_at,
        "expires": entry.expires_at,
    }
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table)
    upsert = statement.on_conflict_do_update(
        index_elements=[table.c.namespace, table.c.key],
        set_={
            name: statement.excluded[name] for name in ("value", "created", "accessed", "expires")
        },
    )

    def raw_get() -> object:
        with engine.connect() as conn:
            return conn.execute(select).first()

    def raw_set() -> None:
        with engine.begin() as conn:
            conn.execute(upsert, row)

    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def raw_get_autocommit() -> object:
        with autocommit.connect() as conn:
            return conn.execute(select).first()

    # Gets are compared with a plain `engine.connect()` select, on PostgreSQL (where the store
    # reads in autocommit) with the same select in autocommit, and on SQLite with a hand-written
    # sqlite3 select of the same row plus the unpickling Cache.get does.
    raw: dict[str, dict[str, Callable[[], object]]] = {
        "get": {"raw SQLAlchemy": raw_get},
        "set": {"raw SQLAlchemy": raw_set},
    }
    if engine.dialect.name == "postgresql":
        raw["get"]["raw autocommit"] = raw_get_autocommit
    hand: Any = None
    if engine.dialect.name == "sqlite":
        hand = sqlite3.connect(engine.url.database or "", check_same_thread=False)
        by_hand = f'SELECT value, created, expires FROM "{table.name}" WHERE namespace = ? AND key = ?'
        raw["get"]["raw sqlite3 + unpickle"] = lambda: pickle.loads(
            hand.execute(by_hand, (namespace, "k")).fetchone()[0]
        )
    ours: dict[str, tuple[str, Callable[[], object]]] = {
        f"{label} get hit: store": ("get", lambda: store.get(namespace, "k")),
        f"{label} get hit: Cache.get": ("get", lambda: cache.get("k")),
        f"{label} set: store": ("set", lambda: store.set(namespace, "k", entry)),
        f"{label} set: Cache.set": ("set", lambda: cache.set("k", VALUE, ttl=3600)),
    }
    statements = [0]

    def count(*args: Any) -> None:
        statements[0] += 1

    # SQLite reads run on the DBAPI connection, past SQLAlchemy's cursor events: the driver's
    # trace callback counts its statements (new connections from here on).
    def trace(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.set_trace_callback(
            lambda sql: count() if sql.split(None, 1)[0].upper() in _STATEMENTS else None
        )

    if engine.dialect.name == "sqlite":
        engine.dispose()
        sa.event.listen(engine, "connect", trace)
    else:
        sa.event.listen(engine, "before_cursor_execute", count)
    tables: dict[str, dict[str, float]] = {"ours": {}, "commands": {}}
    for workload, (kind, operation) in ours.items():
        names = list(raw[kind])
        mine, theirs = best_alternating(operation, list(raw[kind].values()), min_seconds, ROUNDS)
        tables["ours"][workload] = mine
        for name, ns in zip(names, theirs):
            tables.setdefault(name, {})[workload] = ns
        tables["commands"][workload] = per_op(lambda: statements[0], operation)
    if hand is not None:
        hand.close()
    if engine.dialect.name == "sqlite":
        sa.event.remove(engine, "connect", trace)
    else:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert cache.get("k") == VALUE
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    store.clear(namespace)
    store.close()
    return tables


# -- report ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memcached", help="HOST:PORT (default: start a private memcached)")
    parser.add_argument(
        "--postgresql-url",
        default=os.environ.get("BEAKER_TEST_POSTGRESQL_URL"),
        help="SQLAlchemy URL of a scratch PostgreSQL database (default $BEAKER_TEST_POSTGRESQL_URL)",
    )
    parser.add_argument("--beaker-venv", help="virtualenv with beaker==1.14.1, python-memcached")
    parser.add_argument(
        "--min-seconds", type=float, default=0.1, help="shortest timed loop per repeat (seconds)"
    )
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        private_memcached() if args.memcached is None else _given(args.memcached) as servers,
    ):
        sqlite_url = f"sqlite:///{tmp}/bench.db"
        parts = [measure_memcached(servers, args.min_seconds)]
        parts.append(measure_sql("sqlite", sqlite_url, args.min_seconds))
        if args.postgresql_url:
            parts.append(measure_sql("postgresql", args.postgresql_url, args.min_seconds))
        theirs: dict[str, float] = {}
        if args.beaker_venv:
            script = Path(__file__).with_name("beaker114_memcached_sql.py")
            extra = [
                "--memcached",
                servers,
                "--sqlite-url",
                f"sqlite:///{tmp}/beaker114.db",
                "--min-seconds",
                str(args.min_seconds),
            ]
            if args.postgresql_url:
                extra += ["--postgresql-url", args.postgresql_url]
            theirs = run_baseline(args.beaker_venv, script, extra)

    ours: dict[str, float] = {}
    commands: dict[str, dict[str, float]] = {"ours": {}}
    baselines: dict[str, dict[str, float]] = {}
    for part in parts:
        for table, values in part.items():
            if table == "ours":
                ours.update(values)
            elif table == "commands":
                commands["ours"].update(values)
            else:
                baselines.setdefault(table, {}).update(values)
    if theirs:
        baselines["beaker 1.14.1"], commands["beaker 1.14.1"] = split_baseline(theirs)

    report("memcached and SQL (ns/op; ratio = ours / baseline)", ours, baselines)
    print_work(
        "server work per operation (memcached: stats commands; SQL: statements)", ours, commands
    )
    return 0


@contextmanager
def _given(servers: str) -> Iterator[str]:
    yield servers


if __name__ == "__main__":
    sys.exit(main())
