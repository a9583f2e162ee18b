"""Cache core benchmark: ns per operation for the hot paths, in one run.

    python benchmarks/bench_cache.py [--beaker-venv PATH]

Workloads: a dict get (the floor), Cache.get hit on a MemoryStore, a memoized call hit and
miss (two positional arguments), get_or_create miss, FileStore get hit and set (in a namespace
of one key and of NAMESPACE_SIZE keys), DBMStore get hit. With ``--beaker-venv`` the same
workloads run through real Beaker 1.14.1's CacheManager / cache_region in that virtualenv
(``benchmarks/beaker114_cache.py``) and each row shows ours / Beaker's.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

from _timing import ns_per_op, report, run_baseline

from beaker import compose
from beaker.locks import FileLock
from beaker.stores import DBMStore, FileStore, MemoryStore

# A memoized function's namespace holds one entry per distinct argument tuple; Beaker's file
# backend reads (and on a write rewrites) the whole namespace, ours one file per key.
NAMESPACE_SIZE = 100
VALUE = {"title": "a cached page fragment", "items": list(range(20))}


def measure(tmp: Path) -> dict[str, float]:
    results: dict[str, float] = {}
    plain = {"k": VALUE}
    results["dict get"] = ns_per_op(lambda: plain.get("k"))

    memory = compose(MemoryStore(), ttl=3600)
    memory.set("k", VALUE)
    results["memory Cache.get hit"] = ns_per_op(lambda: memory.get("k"))

    @memory.memoize(namespace="bench")
    def load(a: int, b: int) -> dict[str, object]:
        return VALUE

    load(1, 2)
    results["memoized call hit"] = ns_per_op(lambda: load(1, 2))
    fresh_args = itertools.count()
    results["memoized call miss"] = ns_per_op(lambda: load(next(fresh_args), 0))

    counter = itertools.count()
    results["get_or_create miss"] = ns_per_op(
        lambda: memory.get_or_create(f"miss-{next(counter)}", lambda: VALUE)
    )

    files = compose(FileStore(tmp / "files"), lock=FileLock(tmp / "locks"), ttl=3600)
    files.set("k", VALUE)
    results["file get hit (1 key in ns)"] = ns_per_op(lambda: files.get("k"))
    results["file set (1 key in ns)"] = ns_per_op(lambda: files.set("k", VALUE))
    for i in range(NAMESPACE_SIZE - 1):
        files.set(f"other-{i}", VALUE)
    results[f"file get hit ({NAMESPACE_SIZE} keys in ns)"] = ns_per_op(lambda: files.get("k"))
    results[f"file set ({NAMESPACE_SIZE} keys in ns)"] = ns_per_op(lambda: files.set("k", VALUE))

    dbm = compose(DBMStore(tmp / "dbm"), lock=FileLock(tmp / "locks"), ttl=3600)
    dbm.set("k", VALUE)
    results["dbm get hit"] = ns_per_op(lambda: dbm.get("k"))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beaker-venv", help="virtualenv with beaker==1.14.1 installed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours = measure(Path(tmp))
    baselines: dict[str, dict[str, float]] = {"dict get": {w: ours["dict get"] for w in ours}}
    if args.beaker_venv:
        script = Path(__file__).with_name("beaker114_cache.py")
        baselines["beaker 1.14.1"] = run_baseline(args.beaker_venv, script, [])
    report("cache core (ns/op; ratio = ours / baseline)", ours, baselines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
