"""The cache core workloads through real Beaker 1.14.1 (run by bench_cache.py inside a
virtualenv that has ``beaker==1.14.1``). Prints one JSON object: workload -> ns/op."""

from __future__ import annotations

import itertools
import json
import tempfile

from _timing import ns_per_op

import beaker
from beaker.cache import CacheManager, cache_region, cache_regions

assert beaker.__version__ == "1.14.1", beaker.__version__

NAMESPACE_SIZE = 100  # as in bench_cache.py
VALUE = {"title": "a cached page fragment", "items": list(range(20))}


def main() -> None:
    results: dict[str, float] = {}
    tmp = tempfile.mkdtemp()
    memory = CacheManager(type="memory", expire=3600).get_cache("bench")
    memory.put("k", VALUE)
    results["memory Cache.get hit"] = ns_per_op(lambda: memory.get("k"))

    cache_regions.update({"bench": {"type": "memory", "expire": 3600}})

    @cache_region("bench")
    def load(a: int, b: int) -> dict[str, object]:
        return VALUE

    load(1, 2)
    results["memoized call hit"] = ns_per_op(lambda: load(1, 2))
    fresh_args = itertools.count()
    results["memoized call miss"] = ns_per_op(lambda: load(next(fresh_args), 0))

    counter = itertools.count()
    results["get_or_create miss"] = ns_per_op(
        lambda: memory.get(f"miss-{next(counter)}", createfunc=lambda: VALUE)
    )

    files = CacheManager(
        type="file", data_dir=tmp + "/file", lock_dir=tmp + "/lock", expire=3600
    ).get_cache("bench")
    files.put("k", VALUE)
    results["file get hit (1 key in ns)"] = ns_per_op(lambda: files.get("k"))
    results["file set (1 key in ns)"] = ns_per_op(lambda: files.put("k", VALUE))
    for i in range(NAMESPACE_SIZE - 1):
        files.put(f"other-{i}", VALUE)
    results[f"file get hit ({NAMESPACE_SIZE} keys in ns)"] = ns_per_op(lambda: files.get("k"))
    results[f"file set ({NAMESPACE_SIZE} keys in ns)"] = ns_per_op(lambda: files.put("k", VALUE))

    dbm = CacheManager(
        type="dbm", data_dir=tmp + "/dbm", lock_dir=tmp + "/lock", expire=3600
    ).get_cache("bench")
    dbm.put("k", VALUE)
    results["dbm get hit"] = ns_per_op(lambda: dbm.get("k"))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
