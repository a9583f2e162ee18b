"""Compat benchmark in CPU instructions: the workloads of ``bench_compat.py`` counted by
valgrind's callgrind for this package's compat layer and for real Beaker 1.14.1, so the ratio
does not move with the machine's load (wall-clock ratios on a shared machine do).

    .venv/bin/python benchmarks/bench_compat_instructions.py --beaker-venv /tmp/beaker114 \
        ["cache_region hit" "session: cookie request" ...]

Each workload runs in a fresh interpreter under callgrind twice, 0 and N times; the difference
divided by N is its instructions per operation (user space only: time in system calls, disk
flushes and servers is not counted, so file, dbm and network workloads belong to
``bench_compat.py``). Needs ``valgrind``; a few minutes per workload.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _timing import callgrind_instructions

HERE = Path(__file__).resolve().parent
#: Workload -> operations counted (enough that interpreter start-up noise is negligible).
WORKLOADS = {
    "memory get hit": 20000,
    "memory put": 20000,
    "cache_region hit": 20000,
    "cache_region miss + create": 5000,
    "CacheManager.cache hit": 20000,
    "session: cookie request": 1000,
    "session: memory request": 1000,
    "session: untouched request": 5000,
}
#: Ratio targets beyond "not slower" (issue 8's, as in ``bench_compat.py``).
TARGETS = {
    "cache_region hit": 0.25,
    "cache_region miss + create": 0.6,
    "session: cookie request": 0.35,
}


def child(label: str, count: int) -> None:
    """Build ``label``'s operation (as ``bench_compat.py`` does) and run it ``count`` times."""
    sys.path.insert(0, str(HERE))
    from beaker114_compat import workloads

    with tempfile.TemporaryDirectory() as tmp:
        builders = workloads(tmp)
        operation = builders[label]() if label in builders else None  # one-operation builders
        for build in builders.values():
            if operation is not None:
                break
            try:
                built = build()
            except Exception as exc:  # noqa: BLE001 - a workload this side cannot build
                print(f"skipped a builder: {exc!r}", file=sys.stderr)
                continue
            operation = built.get(label) if isinstance(built, dict) else None
        if operation is None:
            raise SystemExit(f"no workload {label!r}")
        operation()
        for _ in range(count):
            operation()


def instructions(python: str, label: str, count: int) -> int:
    """Instructions callgrind counts for ``python`` running ``label`` ``count`` times."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return callgrind_instructions([python, __file__, "--child", label, str(count)], env)


def per_op(python: str, label: str, count: int) -> float:
    return (instructions(python, label, count) - instructions(python, label, 0)) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--beaker-venv", help="virtualenv with beaker==1.14.1 (required)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("workloads", nargs="*", help="workload names (default: all)")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    if not args.beaker_venv:
        parser.error("--beaker-venv is required")
    theirs_python = str(Path(args.beaker_venv) / "bin" / "python")
    print(f"{'workload':36s} {'ours instr/op':>14s} {'beaker instr/op':>16s}  ratio  target")
    for label in args.workloads or list(WORKLOADS):
        count = WORKLOADS.get(label, 1000)
        ours, theirs = per_op(sys.executable, label, count), per_op(theirs_python, label, count)
        target = TARGETS.get(label, 1.0)
        verdict = "met" if ours / theirs <= target else "MISSED"
        print(
            f"{label:36s} {ours:14.0f} {theirs:16.0f}  {ours / theirs:5.3f}  <= {target} {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
