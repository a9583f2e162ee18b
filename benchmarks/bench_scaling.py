"""Cost as a store grows: a get hit and a put (overwrite) on stores holding 10^2 … 10^6 entries.

Stores: MemoryStore unbounded and bounded (``max_entries`` = the size, so it is full),
FileStore, DBMStore and SQLAlchemyStore on a SQLite file. Each size gets a fresh store in a
temporary directory, filled through the store's own ``set`` (SQLite: one row written by the
store, then copied in bulk with ``sqlite3``), then measured on keys drawn at random from the
filled ones. Prints ns/op per size and the ratio to the 10^2 figure; a get hit is flat when
its ratio stays within 2x.

A fill that takes longer than ``--fill-budget`` seconds (DBMStore on ``dbm.dumb`` rewrites its
index on every write) stops that store's curve there, and the table says so.

    .venv/bin/python benchmarks/bench_scaling.py [--max-exponent 6] [--stores memory,sqlite]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import ns_per_op

from beaker.entry import Entry
from beaker.stores import DBMStore, FileStore, MemoryStore, SQLAlchemyStore
from beaker.stores.base import Store

NAMESPACE = "bench"
VALUE = b"v" * 100
SAMPLE = 1000  # keys measured per size, cycled


def _sqlite(tmp: str, size: int) -> SQLAlchemyStore:
    path = Path(tmp, "cache.db")
    store = SQLAlchemyStore(url=f"sqlite:///{path}")
    store.set(NAMESPACE, "k0", Entry(VALUE, time.time(), None))
    with sqlite3.connect(path) as db:  # copy the row the store wrote, under the other keys
        (table,) = db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchone()
        row = db.execute(f"SELECT * FROM {table}").fetchone()
        columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
        at = columns.index("key")
        marks = ",".join("?" * len(columns))
        db.executemany(
            f"INSERT INTO {table} VALUES ({marks})",
            (row[:at] + (f"k{i}",) + row[at + 1 :] for i in range(1, size)),
        )
    return store


STORES: dict[str, Callable[[str, int], Store]] = {
    "memory": lambda tmp, size: MemoryStore(),
    "memory-bounded": lambda tmp, size: MemoryStore(max_entries=size),
    "file": lambda tmp, size: FileStore(tmp),
    "dbm": lambda tmp, size: DBMStore(tmp),
    "sqlite": _sqlite,
}


FILLED_IN_BULK = {"sqlite"}


def fill(store: Store, size: int, budget: float) -> bool:
    """Write keys k0 … k(size-1) through ``store.set``; False if it ran out of ``budget``."""
    start = time.monotonic()
    now = time.time()
    for i in range(size):
        store.set(NAMESPACE, f"k{i}", Entry(VALUE, now, None))
        if i % 1000 == 999 and time.monotonic() - start > budget:
            return False
    return True


def measure(name: str, size: int, budget: float) -> tuple[float, float] | None:
    with tempfile.TemporaryDirectory() as tmp:
        store = STORES[name](tmp, size)
        try:
            if name not in FILLED_IN_BULK and not fill(store, size, budget):
                return None
            keys = itertools.cycle(f"k{random.randrange(size)}" for _ in range(SAMPLE))
            entry = Entry(VALUE, time.time(), None)
            get = ns_per_op(lambda: store.get(NAMESPACE, next(keys)), 0.1)
            put = ns_per_op(lambda: store.set(NAMESPACE, next(keys), entry), 0.1)
            return get, put
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-exponent", type=int, default=6)
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--fill-budget", type=float, default=120.0, help="seconds per fill")
    args = parser.parse_args()
    sizes = [10**e for e in range(2, args.max_exponent + 1)]
    print(f"{'store':<15} {'entries':>9} {'get ns':>9} {'x 10^2':>7} {'put ns':>9} {'x 10^2':>7}")
    verdicts = []
    for name in args.stores.split(","):
        first: tuple[float, float] | None = None
        worst, reached = 0.0, 0
        for size in sizes:
            result = measure(name, size, args.fill_budget)
            if result is None:
                print(f"{name:<15} {size:>9} fill over {args.fill_budget:.0f} s: not measured")
                break
            first = first or result
            get, put = result
            worst, reached = max(worst, get / first[0]), size
            print(
                f"{name:<15} {size:>9} {get:>9.0f} {get / first[0]:>7.2f}"
                f" {put:>9.0f} {put / first[1]:>7.2f}",
                flush=True,
            )
        flat = "flat" if worst <= 2 else "NOT flat"
        short = "" if reached == sizes[-1] else f", measured only up to {reached} entries"
        verdicts.append(f"{name}: get hit {flat} (at most {worst:.2f}x{short})")
    print("\n".join(["", f"get hit within 2x from 10^2 to 10^{args.max_exponent}:", *verdicts]))


if __name__ == "__main__":
    main()
