"""Session purge benchmark: time and peak memory of ``purge`` as the number of sessions grows.

    python benchmarks/bench_purge.py [--sizes 1000,10000,100000] [--store file|dbm|memory]

For each size N, a store is filled with N session records (half of them expired), then
purged twice: once as a dry run, timed (seconds, and microseconds per session), and once for
real under ``tracemalloc`` (peak bytes allocated by the purge itself). Keys are streamed from
the store, never listed at once, so the peak should stay flat as N grows; the last column is
the peak relative to the smallest size's, in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from beaker.entry import Entry
from beaker.sessions.purge import purge
from beaker.sessions.store import DEFAULT_NAMESPACE
from beaker.stores import DBMStore, FileStore, MemoryStore
from beaker.stores.base import Store

NOW = 1_700_000_000.0
PAYLOAD = b"x" * 200  # about the size of a small pickled session


def fill(store: Store, count: int) -> None:
    for n in range(count):
        expires = NOW - 10 if n % 2 else NOW + 3600
        store.set(DEFAULT_NAMESPACE, f"{n:032x}", Entry(PAYLOAD, NOW - 100, expires))


def make_store(kind: str, directory: Path) -> Store:
    if kind == "file":
        return FileStore(directory)
    if kind == "dbm":
        return DBMStore(directory)
    return MemoryStore()


def measure(kind: str, count: int, directory: Path) -> tuple[float, int]:
    """(seconds of a dry-run purge, peak bytes of the real purge) for ``count`` sessions."""
    store = make_store(kind, directory)
    fill(store, count)
    started = time.perf_counter()
    report = purge(store, now=NOW, dry_run=True)
    seconds = time.perf_counter() - started
    assert report.examined == count and report.expired == count // 2, report
    tracemalloc.start()
    report = purge(store, now=NOW)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.expired == count // 2, report
    store.close()
    return seconds, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--store", choices=["file", "dbm", "memory"], default="file")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"\nsession purge on {args.store} (dry run timed; real purge under tracemalloc)")
    print(f"{'sessions':>10}{'seconds':>10}{'us/session':>12}{'peak KiB':>10}{'peak ratio':>12}")
    first_peak = None
    for count in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            seconds, peak = measure(args.store, count, Path(tmp))
        first_peak = first_peak or peak
        print(
            f"{count:>10}{seconds:>10.2f}{seconds / count * 1e6:>12.1f}"
            f"{peak / 1024:>10.1f}{peak / first_peak:>12.2f}"
        )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
