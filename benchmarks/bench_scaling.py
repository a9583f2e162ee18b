"""Cost as a store grows: a get hit and a put (overwrite) on stores holding 10^2 … 10^6 entries.

Stores: MemoryStore unbounded and bounded (``max_entries`` = the size, so it is full),
FileStore, DBMStore and SQLAlchemyStore on a SQLite file; and a bare ``dict``, the memory
stores' baseline (its own hit grows with its size: random keys of a large table miss the
CPU caches and TLB), beside ``dict-nested``, a dict per namespace, which touches one object
fewer per hit (no ``(namespace, key)`` tuple). The memory stores' verdicts also give their
growth over the bare dict's at the same size. Each size gets a fresh store in a
temporary directory, filled through the store's own ``set_many`` in one call (SQLite: one
row written by the store, then copied in bulk with ``sqlite3``), read once (which opens its
handles), then measured on keys drawn at random from the filled ones.

Each size is timed in alternation with the store's 10^2 copy, kept open for the whole curve,
round after round (best of each), so a change in the machine's load falls on both sides of
the ratio. Prints ns/op per size and the ratio to the 10^2 copy in the same rounds; a get hit
is flat when its ratio stays within 2x.

A fill that takes longer than ``--fill-budget`` seconds stops that store's curve there, and
the table says so. DBMStore's put is not flat on ``dbm.dumb`` (the only ``dbm`` module of a
Python built without gdbm/ndbm): every write rewrites the whole index, so that other
processes see it, and a write after another process's opens the database (parsing that
index, one ``ast.literal_eval`` per key: about 90% of such a write, profiled at 10^5 keys;
the process that wrote last keeps its synced write handle); its get stays flat (the
read handle is kept while the database is unchanged, and a write makes the next read reopen
it). The table names the module.

    .venv/bin/python benchmarks/bench_scaling.py [--max-exponent 6] [--stores memory,sqlite]
        [--rounds 5]
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import ns_per_op

from beaker.entry import Entry
from beaker.stores import DBMStore, FileStore, MemoryStore, SQLAlchemyStore
from beaker.stores.base import Store

NAMESPACE = "bench"
VALUE = b"v" * 100
SAMPLE = 1000  # keys measured per size, cycled
BATCH = 10_000  # entries per set_many call of a fill, so the fill budget is checked often
ONE_CALL = {"dbm"}  # filled in one set_many call: DBMStore on dbm.dumb reads and rewrites its
# whole index per call
SLOW = 0.5  # seconds: an operation slower than this is timed once, not repeated


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


class NestedDict:
    """A baseline that touches one object fewer per hit than :class:`PlainDict`: a ``dict``
    per namespace keyed by the key alone, so a hit reads no ``(namespace, key)`` tuple (the
    stored one, compared item by item) and builds none."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Entry]] = {}

    def get(self, namespace: str, key: str) -> Entry | None:
        space = self.data.get(namespace)
        return None if space is None else space.get(key)

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.data.setdefault(namespace, {})[key] = entry

    def set_many(self, namespace: str, entries: dict[str, Entry]) -> None:
        self.data.setdefault(namespace, {}).update(entries)

    def close(self) -> None:
        pass


class PlainDict:
    """The baseline of the memory stores: a bare ``dict`` keyed by ``(namespace, key)``, whose
    own hit cost grows with its size as the machine's caches and TLB stop holding it."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], Entry] = {}

    def get(self, namespace: str, key: str) -> Entry | None:
        return self.data.get((namespace, key))

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.data[(namespace, key)] = entry

    def set_many(self, namespace: str, entries: dict[str, Entry]) -> None:
        self.data.update(((namespace, key), entry) for key, entry in entries.items())

    def close(self) -> None:
        pass


STORES: dict[str, Callable[[str, int], Any]] = {
    "dict": lambda tmp, size: PlainDict(),
    "dict-nested": lambda tmp, size: NestedDict(),
    "memory": lambda tmp, size: MemoryStore(),
    "memory-bounded": lambda tmp, size: MemoryStore(max_entries=size),
    "file": lambda tmp, size: FileStore(tmp),
    "dbm": lambda tmp, size: DBMStore(tmp),
    "sqlite": _sqlite,
}

FILLED_IN_BULK = {"sqlite"}


def fill(store: Store, size: int, budget: float, batch: int) -> bool:
    """Write keys k0 … k(size-1) through ``store.set_many``, ``batch`` at a time; False if it
    ran out of ``budget`` seconds (checked between batches)."""
    start = time.monotonic()
    entry = Entry(VALUE, time.time(), None)
    for first in range(0, size, batch):
        keys = (f"k{i}" for i in range(first, min(size, first + batch)))
        store.set_many(NAMESPACE, dict.fromkeys(keys, entry))  # type: ignore[attr-defined]
        if time.monotonic() - start > budget:
            return first + batch >= size
    return True


class Filled:
    """One store of ``size`` entries with its timed operations (keys drawn once, cycled)."""

    def __init__(self, stack: ExitStack, name: str, size: int, budget: float) -> None:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        self.store = STORES[name](tmp, size)
        stack.callback(self.store.close)
        start = time.monotonic()
        batch = size if name in ONE_CALL else BATCH
        self.filled = name in FILLED_IN_BULK or fill(self.store, size, budget, batch)
        drawn = [f"k{random.randrange(size)}" for _ in range(SAMPLE)]
        self._keys: Iterator[str] = itertools.cycle(drawn)  # no key made in the timed call
        self._entry = Entry(VALUE, time.time(), None)
        if self.filled:
            self.get()  # opens the store's handles (dbm.dumb: parses its whole index)
        self.fill_seconds = time.monotonic() - start

    def get(self) -> object:
        return self.store.get(NAMESPACE, next(self._keys))

    def put(self) -> None:
        self.store.set(NAMESPACE, next(self._keys), self._entry)


def alternated(
    ours: Callable[[], object], base: Callable[[], object], rounds: int, seconds: float
) -> tuple[float, float]:
    """Best ns/op of ``ours`` and of ``base`` over ``rounds`` rounds timed in turn; one call
    of each when one of ``ours`` takes more than :data:`SLOW` seconds (DBMStore's put on a
    large ``dbm.dumb`` database)."""
    start = time.perf_counter()
    ours()
    once = time.perf_counter() - start
    if once > SLOW:
        start = time.perf_counter()
        base()
        return once * 1e9, (time.perf_counter() - start) * 1e9
    mine = theirs = float("inf")
    for _ in range(rounds):
        mine = min(mine, ns_per_op(ours, seconds))
        theirs = min(theirs, ns_per_op(base, seconds))
    return mine, theirs


def curve(name: str, sizes: list[int], args: argparse.Namespace) -> dict[int, float]:
    """Print one store's rows; return its get-hit ratios to the 10^2 copy by size (the sizes
    measured)."""
    ratios = {sizes[0]: 1.0}
    with ExitStack() as keep:
        base = Filled(keep, name, sizes[0], args.fill_budget)
        get_base = ns_per_op(base.get, args.min_seconds)
        put_base = ns_per_op(base.put, args.min_seconds)
        print(f"{name:<15} {sizes[0]:>9} {get_base:>9.0f} {1:>7.2f} {put_base:>9.0f} {1:>7.2f}")
        for size in sizes[1:]:
            with ExitStack() as stack:
                filled = Filled(stack, name, size, args.fill_budget)
                if not filled.filled:
                    print(f"{name:<15} {size:>9} fill over {args.fill_budget:.0f} s: not measured")
                    break
                get, get_ref = alternated(filled.get, base.get, args.rounds, args.min_seconds)
                put, put_ref = alternated(filled.put, base.put, args.rounds, args.min_seconds)
            ratios[size] = get / get_ref
            print(
                f"{name:<15} {size:>9} {get:>9.0f} {get / get_ref:>7.2f}"
                f" {put:>9.0f} {put / put_ref:>7.2f}   (filled in {filled.fill_seconds:.1f} s)",
                flush=True,
            )
    return ratios


def verdict(name: str, ratios: dict[int, float], sizes: list[int], dict_ratios: Any) -> str:
    """One store's get-hit verdict: its worst ratio to 10^2 and, for the memory stores, that
    growth over the bare dict's at the same size (what the store adds to the machine's)."""
    worst = max(ratios.values())
    flat = "flat" if worst <= 2 else "NOT flat"
    reached = max(ratios)
    short = "" if reached == sizes[-1] else f", measured only up to {reached} entries"
    line = f"{name}: get hit {flat} (at most {worst:.2f}x{short})"
    if name.startswith("memory") and dict_ratios:
        over = max(ratios[size] / dict_ratios[size] for size in ratios if size in dict_ratios)
        line += f"; over the bare dict's own growth at most {over:.2f}x"
    return line


def dbm_module() -> str:
    """The module :func:`dbm.open` creates new databases with: the first of its choices
    this Python can import."""
    for name in ("dbm.gnu", "dbm.ndbm", "dbm.dumb"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        return name
    return "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-exponent", type=int, default=6)
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per size")
    parser.add_argument("--min-seconds", type=float, default=0.05, help="shortest timed loop")
    parser.add_argument("--fill-budget", type=float, default=600.0, help="seconds per fill")
    args = parser.parse_args()
    sizes = [10**e for e in range(2, args.max_exponent + 1)]
    print(f"dbm module for new databases: {dbm_module()}")
    print(f"{'store':<15} {'entries':>9} {'get ns':>9} {'x 10^2':>7} {'put ns':>9} {'x 10^2':>7}")
    curves = {name: curve(name, sizes, args) for name in args.stores.split(",")}
    verdicts = [verdict(name, ratios, sizes, curves.get("dict")) for name, ratios in curves.items()]
    print("\n".join(["", f"get hit within 2x from 10^2 to 10^{args.max_exponent}:", *verdicts]))


if __name__ == "__main__":
    main()
