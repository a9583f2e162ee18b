"""Compat benchmark: Beaker's API through this package vs real Beaker 1.14.1, the same code
(``beaker114_compat.py``) running in both, ns per operation and the ratio per workload.

    source /tmp/beaker-services/env.sh   # optional: redis, memcached, PostgreSQL workloads
    .venv/bin/python benchmarks/bench_compat.py --beaker-venv /tmp/beaker114 [--rounds 3]

Workloads: ``Cache.get`` hit and ``put`` for the memory, file, dbm, SQLite database (and,
when their servers are up, redis, memcached and PostgreSQL) types; a ``cache_region`` and a
``CacheManager.cache`` decorated call hit; one SessionMiddleware request that increments a
counter for cookie, encrypted cookie, file, memory (and redis) sessions; an untouched request.
Targets (closing note of issue 5): no workload slower than Beaker; memory ``Cache.get`` hit,
``cache_region`` hit and cookie-session request at most half of Beaker's time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _timing import report, run_baseline
from beaker114_compat import measure

HALF = ("memory get hit", "cache_region hit", "session: cookie request")


def _keep_best(best: dict[str, float], new: dict[str, float]) -> None:
    for workload, value in new.items():
        best[workload] = min(value, best.get(workload, value))


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

    assert not beaker.__version__.startswith("1."), "run with this package's environment"
    ours: dict[str, float] = {}
    theirs: dict[str, float] = {}
    script = Path(__file__).with_name("beaker114_compat.py")
    for _ in range(max(1, args.rounds)):
        with tempfile.TemporaryDirectory() as tmp:
            _keep_best(ours, measure(tmp))
        if args.beaker_venv:
            _keep_best(theirs, run_baseline(args.beaker_venv, script, []))
    baselines = {"beaker 1.14.1": theirs} if theirs else {}
    report(
        "Beaker API: compat layer vs Beaker 1.14.1 (ns/op; ratio = ours / Beaker)", ours, baselines
    )
    if theirs:
        print("\ntargets (ours / Beaker's):")
        for workload, value in ours.items():
            if workload not in theirs:
                continue
            target = 0.5 if workload in HALF else 1.0
            ratio = value / theirs[workload]
            verdict = "met" if ratio <= target else "MISSED"
            print(f"  {workload:<36} {ratio:6.3f} <= {target:<4} {verdict}")
        only_ours = sorted(set(ours) - set(theirs))
        if only_ours:
            print(f"  not measurable under Beaker 1.14.1: {', '.join(only_ours)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
