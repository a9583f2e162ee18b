"""Compat benchmark: Beaker's API through this package vs real Beaker 1.14.1, the same code
(``beaker114_compat.py``) running in both, ns per operation and the ratio per workload.

    source /tmp/beaker-services/env.sh   # optional: redis, memcached, PostgreSQL workloads
    .venv/bin/python benchmarks/bench_compat.py --beaker-venv /tmp/beaker114 [--rounds 3]

Workloads: ``Cache.get`` hit and ``put`` for the memory, file, dbm, SQLite database (and,
when their servers are up, redis, memcached and PostgreSQL) types; a ``cache_region`` and a
``CacheManager.cache`` decorated call hit, and a ``cache_region`` miss that creates and
stores; one SessionMiddleware request that increments a counter for cookie, encrypted
cookie, file, memory (and redis) sessions; an untouched request.
Targets: no workload slower than Beaker; memory ``Cache.get`` hit at most half of Beaker's
time, ``cache_region`` hit a quarter, its miss + create 0.6, a cookie-session request 0.35.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _timing import alternate, print_targets, report
from beaker114_compat import measure

#: Ratio targets (ours / Beaker's) beyond "not slower": issue 5's halves, issue 8's tighter ones.
TARGETS = {
    "memory get hit": 0.5,
    "cache_region hit": 0.25,
    "cache_region miss + create": 0.6,
    "session: cookie request": 0.35,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--beaker-venv", help="virtualenv with beaker==1.14.1 installed")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternate ours and Beaker's this many times, keep each best",
    )
    args = parser.parse_args()
    import beaker

    assert hasattr(beaker, "compose"), "run with this package's environment"
    script = Path(__file__).with_name("beaker114_compat.py")
    ours, theirs = alternate(args.rounds, measure, args.beaker_venv, script)
    baselines = {"beaker 1.14.1": theirs} if theirs else {}
    report(
        "Beaker API: compat layer vs Beaker 1.14.1 (ns/op; ratio = ours / Beaker)", ours, baselines
    )
    if theirs:
        targets = {name: TARGETS.get(name, 1.0) for name in ours if name in theirs}
        print_targets(ours, theirs, targets, 36)
        only_ours = sorted(set(ours) - set(theirs))
        if only_ours:
            print(f"  not measurable under Beaker 1.14.1: {', '.join(only_ours)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
