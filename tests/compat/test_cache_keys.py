"""Decorator keys and namespaces are exactly Beaker 1.14.1's: the same functions called with
the same arguments leave the same keys, in the same namespaces, under real Beaker and here."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

from beaker.compat import cache as compat_cache
from tests.compat import _real_beaker

MODULE = textwrap.dedent(
    """
    from beaker.cache import cache_region, cache_regions, CacheManager

    cache_regions.update({
        "short": {"type": "memory", "expire": 60},
        "tiny": {"type": "memory", "expire": 60, "key_length": 30},
    })
    manager = CacheManager(type="memory")

    @cache_region("short", "load_things")
    def load(search_term, limit, offset):
        return [search_term, limit, offset]

    @cache_region("short")
    def no_parts(a, b=2, *rest, c=3, **extra):
        return a

    @cache_region("short")
    def nothing():
        return 1

    @cache_region("tiny", "x")
    def hashed(text):
        return text

    @manager.cache("mgr", expire=10)
    def managed(a, b):
        return a + b

    class Thing:
        @cache_region("short", "some_data")
        def load(self, term, limit):
            return term

        @classmethod
        @cache_region("short", "cls_data")
        def cload(cls, term):
            return term

    def exercise():
        load("rabbits", 20, 0)
        load("caf\\u00e9 \\u2603", None, 1.5)
        load("kw", limit=5, offset=6)
        load(search_term="allkw", limit=1, offset=2)
        no_parts(1)
        no_parts(1, 5)
        no_parts(1, b=7)
        no_parts(1, 2, 3, 4)
        no_parts(1, c=9, z="zed")
        nothing()
        hashed("short")
        hashed("a much longer argument that will not fit in thirty characters")
        managed(1, 2)
        Thing().load("gophers", 10)
        Thing.cload("classy")
        Thing().cload("classy2")
    """
)

REAL_DUMP = """
import sys
sys.path.insert(0, {directory!r})
import keysmod
keysmod.exercise()
from beaker.container import MemoryNamespaceManager
result = {{ns: sorted(k.decode("ascii") if isinstance(k, bytes) else k for k in d.keys())
          for ns, d in MemoryNamespaceManager.namespaces.dict.items() if d}}
"""


def _import_ours(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("keysmod", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["keysmod"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["keysmod"]
    return module


def _as_beaker_stores(key: str) -> str:
    # Beaker keeps str keys as ASCII bytes with backslash escapes.
    return key.encode("ascii", "backslashreplace").decode("ascii")


def _keys_of_both(tmp_path: Path, source: str) -> tuple[dict[str, list[str]], Any]:
    """Run ``exercise()`` of module ``source`` (saved as keysmod.py) under real Beaker 1.14.1
    and under ours; each one's memory keys by namespace (ours as Beaker would store them)."""
    path = tmp_path / "keysmod.py"
    path.write_text(source)
    theirs = _real_beaker.run(REAL_DUMP.format(directory=str(tmp_path)), cwd=tmp_path)
    module = _import_ours(path)
    module.exercise()
    memory = _memory_store()
    namespaces = {ns for ns, _ in memory._data}
    ours = {ns: sorted(_as_beaker_stores(k) for k in memory.keys(ns)) for ns in namespaces}
    return ours, theirs


def _memory_store() -> Any:
    from beaker.compat.backends import backend
    from beaker.compat.config import CacheOptions

    return backend(CacheOptions()).store


def test_decorator_keys_and_namespaces_match_beaker_114(tmp_path: Path) -> None:
    ours, theirs = _keys_of_both(tmp_path, MODULE)
    assert json.loads(json.dumps(_real_beaker.canon(ours))) == theirs
    # and the namespaces are the documented "<source file>|<name>"
    assert f"{tmp_path / 'keysmod.py'}|load" in ours


def test_region_invalidate_removes_what_the_decorator_stored(tmp_path: Path) -> None:
    path = tmp_path / "keysmod.py"
    path.write_text(MODULE)
    module = _import_ours(path)
    module.exercise()
    memory = _memory_store()
    before = {ns: set(memory.keys(ns)) for ns, _ in memory._data}
    compat_cache.region_invalidate(module.load, None, "load_things", "rabbits", 20, 0)
    compat_cache.region_invalidate(
        module.hashed, None, "x", "a much longer argument that will not fit in thirty characters"
    )
    compat_cache.region_invalidate(module.Thing().load, None, "some_data", "gophers", 10)
    module.manager.invalidate(module.managed, "mgr", 1, 2)
    after = {ns: set(memory.keys(ns)) for ns, _ in memory._data}
    removed = {ns: before[ns] - after.get(ns, set()) for ns in before}
    assert removed[f"{path}|load"] == {"load_things rabbits 20 0", "some_data gophers 10"}
    assert len(removed[f"{path}|hashed"]) == 1
    assert len(next(iter(removed[f"{path}|hashed"]))) == 40  # the SHA-1 hex of the long key
    assert removed[f"{path}|managed"] == {"mgr 1 2"}


def test_manager_decorator_key_length_applies_to_every_call() -> None:
    # Beaker 1.14.1 pops key_length from the decorator's options during the first call, so
    # only that call honours it; here it holds for every call (and for invalidate()).
    manager = compat_cache.CacheManager(type="memory")

    @manager.cache(key_length=20)
    def managed_short(text: str) -> str:
        return text

    managed_short("tiny")
    managed_short("this one is far too long for twenty")
    memory = _memory_store()
    keys = set(memory.keys(managed_short._arg_namespace))
    assert len(keys) == 2 and all(len(key) == 40 for key in keys)
    manager.invalidate(managed_short, "tiny", key_length=20)
    assert len(set(memory.keys(managed_short._arg_namespace))) == 1


RANDOM_MODULE = textwrap.dedent(
    """
    import random
    from beaker.cache import cache_region, cache_regions

    cache_regions.update({"r": {"type": "memory", "key_length": 120}})

    @cache_region("r", "p%s", 7)
    def f(a, b=None, *rest, c=0, **kw):
        return a

    class C:
        @cache_region("r")
        def m(self, x, y="d"):
            return x

    def value(rng):
        kind = rng.randrange(6)
        if kind == 0:
            return rng.randrange(-1000, 1000)
        if kind == 1:
            return rng.choice([None, True, 1.5, -0.0, (1, "a")])
        alphabet = "ab %%:\\u00e9\\u2603\\n"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))

    def exercise():
        rng = random.Random(1234)
        for _ in range(150):
            args = [value(rng) for _ in range(rng.randrange(1, 5))]
            kwargs = {}
            if rng.random() < 0.3:
                kwargs["c"] = value(rng)
            if rng.random() < 0.2:
                kwargs["extra"] = value(rng)
            f(*args, **kwargs)
            C().m(value(rng), **({"y": value(rng)} if rng.random() < 0.5 else {}))
    """
)


def test_random_calls_leave_the_same_keys_as_beaker_114(tmp_path: Path) -> None:
    ours, theirs = _keys_of_both(tmp_path, RANDOM_MODULE)
    assert sum(len(keys) for keys in ours.values()) > 200
    assert json.loads(json.dumps(_real_beaker.canon(ours))) == theirs
