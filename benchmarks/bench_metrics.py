"""Metrics benchmark: what cache.stats() costs on a memory hit, as ratios in one run.

    python benchmarks/bench_metrics.py [--rounds N]

Rows (ns per ``Cache.get`` hit on a ``MemoryStore``, best of alternating rounds):

* ``unmetered``: the hit path as it was before metrics existed (a subclass whose ``get``
  judges the entry through the class's method; nothing else differs);
* ``metrics off``: ``compose(...)`` as shipped (the null recorder; the hit path calls nothing
  of it);
* ``metrics on``: ``compose(..., metrics=True)`` (in-process counters).

Targets (issue 12): off / unmetered <= 1.05, on / unmetered <= 1.25. Taken while other work
runs on the machine, the ratios are noisy: rerun on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import attrs
from _timing import best_alternating

from beaker import MISSING, compose
from beaker.caching import Cache
from beaker.stores import MemoryStore

VALUE = {"title": "a cached page fragment", "items": list(range(20))}


@attrs.frozen
class Unmetered(Cache):
    """``Cache.get`` as before metrics: no counting callable anywhere on the path."""

    def get(self, key: str, default: Any = MISSING) -> Any:
        if not self._plain_key and len(key) > self._key_limit:
            key = self.key(self.name, key)
        entry = self._store_get(self.name, key)
        if entry is None:
            return default
        return self._fresh_value(key, entry, default)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.2)
    args = parser.parse_args()
    off = compose(MemoryStore(), ttl=3600)
    on = compose(MemoryStore(), ttl=3600, metrics=True)
    base = Unmetered(store=MemoryStore(), expiry=off.expiry)
    for cache in (off, on, base):
        cache.set("k", VALUE)
    mine, (metered, unmetered) = best_alternating(
        lambda: off.get("k"),
        [lambda: on.get("k"), lambda: base.get("k")],
        args.min_seconds,
        args.rounds,
    )
    assert on.stats().hits > 0
    print("memory Cache.get hit (ns/op)")
    print(f"  unmetered    {unmetered:8.0f}")
    print(
        f"  metrics off  {mine:8.0f}   off / unmetered = {mine / unmetered:.3f}  (target <= 1.05)"
    )
    print(
        f"  metrics on   {metered:8.0f}   on / unmetered  = {metered / unmetered:.3f}  (target <= 1.25)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
