"""Shared measuring helpers for the benchmark scripts (not part of the package).

Every figure is nanoseconds per operation, the best of several repeats (the least disturbed
run), and every comparison is a ratio of two figures taken in the same run.

Imported by the baseline scripts too, which run inside real Beaker 1.14.1's virtualenv, so it
must not import ``beaker`` (either one) or anything beyond the standard library.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

REPEATS = 5


def ns_per_op(operation: Callable[[], object], min_seconds: float = 0.2) -> float:
    """Time ``operation`` (a no-argument callable): best of :data:`REPEATS` runs, in ns/op."""
    timer = timeit.Timer(operation)
    number = 1
    while True:  # grow the loop count until one run takes at least min_seconds
        if timer.timeit(number) >= min_seconds:
            break
        number *= 4
    best = min(timer.repeat(repeat=REPEATS, number=number))
    return best / number * 1e9


def best_alternating(
    operation: Callable[[], object],
    baselines: list[Callable[[], object]],
    min_seconds: float,
    rounds: int,
) -> tuple[float, list[float]]:
    """Best ns/op of ``operation`` and of each baseline over ``rounds`` rounds, measured in
    alternation, so drift in the machine's load (other processes) falls on every side alike."""
    mine = float("inf")
    theirs = [float("inf")] * len(baselines)
    for _ in range(rounds):
        mine = min(mine, ns_per_op(operation, min_seconds))
        for index, baseline in enumerate(baselines):
            theirs[index] = min(theirs[index], ns_per_op(baseline, min_seconds))
    return mine, theirs


def sync_batch(operation: Callable[[], object], size: int = 1000) -> Callable[[], float]:
    """A batch for :func:`paired`: times ``operation`` called ``size`` times; returns ns per
    call."""

    def batch() -> float:
        started = time.perf_counter_ns()
        for _ in range(size):
            operation()
        return (time.perf_counter_ns() - started) / size

    return batch


class Paired(NamedTuple):
    """Two sides measured in interleaved batches (:func:`paired`)."""

    #: Fastest batch of ours and of the baseline, in ns per operation.
    ours: float
    theirs: float
    #: The median over samples of ours / baseline, each pair of batches run back to back.
    ratio: float


def paired(mine: Callable[[], float], theirs: Callable[[], float], samples: int) -> Paired:
    """Run ``mine`` and ``theirs`` (each times one batch of operations and returns its ns per
    operation) back to back ``samples`` times, which one goes first alternating. Load that
    drifts (other processes) falls on both batches of a pair alike, so the median of the
    pairs' ratios is steady where one long run of each side is not."""
    ratios: list[float] = []
    best_mine = best_theirs = float("inf")
    for sample in range(max(1, samples)):
        if sample % 2:
            b, a = theirs(), mine()
        else:
            a, b = mine(), theirs()
        best_mine, best_theirs = min(best_mine, a), min(best_theirs, b)
        ratios.append(a / b)
    return Paired(best_mine, best_theirs, statistics.median(ratios))


def print_ratios(title: str, results: Mapping[str, Paired], targets: Mapping[str, float]) -> None:
    """Print ``title``, then one ``ratio`` line per workload of :func:`paired` results: the
    median ratio, its target with ``met`` or ``MISSED``, and each side's fastest batch."""
    print(f"\n{title}\n(ratio: median of interleaved batch pairs; ns/op: fastest batch)")
    width = max(map(len, results))
    for workload, result in results.items():
        target = targets.get(workload)
        verdict = "" if target is None else "met" if result.ratio <= target else "MISSED"
        goal = "" if target is None else f"<= {target} {verdict}"
        print(
            f"ratio  {workload:<{width}}  {result.ratio:6.3f}  {goal:<14}"
            f"ours {result.ours:9.0f} ns/op  baseline {result.theirs:9.0f} ns/op"
        )
    sys.stdout.flush()


def callgrind_instructions(argv: list[str], env: Mapping[str, str] | None = None) -> int:
    """The user-space instructions valgrind's callgrind counts for the process ``argv``
    (time in system calls and in other processes, such as a server, is not counted; neither
    is the machine's load, which leaves the count steady)."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        check=False,
    )
    found = re.search(r"Collected : ([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{argv} failed under callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def run_baseline(venv: str | os.PathLike[str], script: Path, args: list[str]) -> dict[str, float]:
    """Run ``script`` with the python of the virtualenv ``venv`` (e.g. one holding real Beaker
    1.14.1, which shares our import name) and return the JSON object it prints last."""
    python = Path(venv) / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"--beaker-venv {venv}: no {python}")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # must import the venv's beaker, not ours
    out = subprocess.run(
        [str(python), str(script), *args],
        check=True,
        capture_output=True,
        text=True,
        cwd="/",
        env=env,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def keep_best(best: dict[str, float], new: Mapping[str, float]) -> None:
    """Fold ``new`` figures into ``best``, keeping each workload's lowest."""
    for workload, value in new.items():
        best[workload] = min(value, best.get(workload, value))


def alternate(
    rounds: int,
    measure: Callable[[str], Mapping[str, float]],
    venv: str | None,
    script: Path,
) -> tuple[dict[str, float], dict[str, float]]:
    """Measure ours (``measure`` of a fresh temporary directory) and, with ``venv``, the
    baseline ``script`` (:func:`run_baseline`) in turn, ``rounds`` times (at least once);
    return each one's best figures (the baseline's empty without ``venv``)."""
    ours: dict[str, float] = {}
    theirs: dict[str, float] = {}
    for _ in range(max(1, rounds)):
        with tempfile.TemporaryDirectory() as tmp:
            keep_best(ours, measure(tmp))
        if venv:
            keep_best(theirs, run_baseline(venv, script, []))
    return ours, theirs


def print_targets(
    ours: Mapping[str, float],
    theirs: Mapping[str, float],
    targets: Mapping[str, float],
    width: int,
    against: str = "Beaker's",
) -> None:
    """Print each target ratio (ours / theirs) with ``met`` or ``MISSED``."""
    print(f"\ntargets (ours / {against}):")
    for workload, target in targets.items():
        ratio = ours[workload] / theirs[workload]
        verdict = "met" if ratio <= target else "MISSED"
        print(f"  {workload:<{width}} {ratio:6.3f} <= {target:<4} {verdict}")


def report(
    title: str, ours: Mapping[str, float], baselines: Mapping[str, Mapping[str, float]]
) -> None:
    """Print one table: each workload's ns/op, then each baseline's ns/op and ours / theirs."""
    print(f"\n{title}")
    names = list(baselines)
    first = max([len("workload"), *map(len, ours)]) + 2
    widths = [max(len(name) + 8, 12) for name in names]  # room for "<name> ns/op"
    header = f"{'workload':<{first}}{'ours ns/op':>12}"
    for name, width in zip(names, widths):
        header += f"{name + ' ns/op':>{width}}{'ratio':>8}"
    print(header)
    for workload, value in ours.items():
        row = f"{workload:<{first}}{value:>12.0f}"
        for name, width in zip(names, widths):
            theirs = baselines[name].get(workload)
            if theirs is None:
                row += f"{'-':>{width}}{'-':>8}"
            else:
                row += f"{theirs:>{width}.0f}{value / theirs:>8.3f}"
        print(row)
    sys.stdout.flush()
