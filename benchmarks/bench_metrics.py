"""Metrics benchmark: what cache.stats() costs on a memory hit, as ratios in one run.

    PYTHONPATH=. python benchmarks/bench_metrics.py [--samples N]
    PYTHONPATH=. python benchmarks/bench_metrics.py --instructions

Sides (a ``Cache.get`` hit on a ``MemoryStore``, ttl 3600 s, a small dict value):

* ``unmetered`` (the baseline): ``Cache.get`` as it was before metrics existed (e2efab8^),
  line for line: the key strategy, the store read under the outage guard, ``None`` a miss,
  else the entry judged by the class's method. It runs on today's :class:`~beaker.Cache`,
  so everything but ``get`` itself is shared with the other sides;
* ``metrics off``: ``compose(MemoryStore(), ttl=3600)`` as shipped (the plain ``Cache``);
* ``metrics on``: ``compose(..., metrics=True)`` (``MeteredCache`` with in-process
  ``Counters``).

Each side is timed in batches of hits, a batch of it and one of the baseline back to back,
many times (which one goes first alternating), so load that drifts falls on both alike; the
ratio is the median of the pairs' ratios. ``--instructions`` counts the same hits in
user-space CPU instructions under valgrind's callgrind instead (a fresh process per side, run
with 0 and :data:`COUNTED_HITS` hits): a figure the machine's load does not move.

Targets (issue 12): off / unmetered <= 1.05, on / unmetered <= 1.25.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import attrs
from _timing import callgrind_instructions, paired, print_ratios, sync_batch

from beaker import MISSING, compose
from beaker.caching import Cache
from beaker.errors import StoreUnavailable
from beaker.stores import MemoryStore

VALUE = {"title": "a cached page fragment", "items": list(range(20))}
#: Hits counted under callgrind by ``--instructions``.
COUNTED_HITS = 20_000
TARGETS = {"metrics off / unmetered": 1.05, "metrics on / unmetered": 1.25}


@attrs.frozen
class Unmetered(Cache):
    """``Cache.get`` of e2efab8^ (before metrics), on today's parts."""

    def get(self, key: str, default: Any = MISSING) -> Any:
        if not self._plain_key and len(key) > self._key_limit:
            key = self.key(self.name, key)
        try:
            entry = self._store_get(self.name, key)
        except StoreUnavailable as error:
            self._outage(error, key, "treated as a miss")
            return default
        if entry is None:
            return default
        return self._fresh_value(key, entry, default)


def hits() -> dict[str, Callable[[], object]]:
    """Each side's hit (a no-argument callable), its entry written."""
    off = compose(MemoryStore(), ttl=3600)
    on = compose(MemoryStore(), ttl=3600, metrics=True)
    base = Unmetered(store=MemoryStore(), expiry=off.expiry)
    for cache in (off, on, base):
        cache.set("k", VALUE)
    return {
        "unmetered": lambda: base.get("k"),
        "metrics off": lambda: off.get("k"),
        "metrics on": lambda: on.get("k"),
    }


def count_child(side: str, count: int) -> None:
    """``--instructions``'s child: ``count`` hits of ``side``."""
    hit = hits()[side]
    sync_batch(hit, 100)()  # warm: the code paths taken once
    if count:
        sync_batch(hit, count)()


def count_instructions() -> None:
    """Print each side's instructions per hit and the ratios to the baseline's."""
    per_hit = {}
    for side in ("unmetered", "metrics off", "metrics on"):
        runs = [
            callgrind_instructions(
                [sys.executable, __file__, "--count-child", side, str(count)], os.environ
            )
            for count in (0, COUNTED_HITS)
        ]
        per_hit[side] = (runs[1] - runs[0]) / COUNTED_HITS
    base = per_hit["unmetered"]
    print(f"instructions per memory Cache.get hit: unmetered {base:.0f}")
    for side in ("metrics off", "metrics on"):
        ratio, target = per_hit[side] / base, TARGETS[f"{side} / unmetered"]
        verdict = "met" if ratio <= target else "MISSED"
        print(
            f"instructions  {side} / unmetered  {ratio:6.3f}  <= {target} {verdict}"
            f"  ({per_hit[side]:.0f} instr/hit)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--samples", type=int, default=400, help="batch pairs per side (default 400)"
    )
    parser.add_argument("--instructions", action="store_true", help="count under callgrind")
    parser.add_argument("--count-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_child:
        side, count = args.count_child
        count_child(side, int(count))
        return 0
    if args.instructions:
        count_instructions()
        return 0
    side = hits()
    baseline = sync_batch(side["unmetered"])
    results = {
        f"{name} / unmetered": paired(sync_batch(side[name]), baseline, args.samples)
        for name in ("metrics off", "metrics on")
    }
    print_ratios("memory Cache.get hit: metrics off and on / unmetered", results, TARGETS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
