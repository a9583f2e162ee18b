"""How ``beaker.backends`` entry points are loaded: Beaker's rules for ``clsmap`` (checked
against real Beaker 1.14.1, each side in a fresh process that sees a test distribution's entry
points) and the native registry's, both through one loader
(:func:`beaker.stores.registry.load_plugins`)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.compat import _real_beaker

#: name -> what loading the entry point meets.
POINTS = {
    "ep_good": "ep_mod:Good",
    "ep_invalid": "ep_mod:invalid",  # raises InvalidCacheBackendError: skipped silently
    "ep_syntax": "ep_syntax:X",  # a SyntaxError: skipped silently
    "ep_broken": "ep_mod:broken",  # raises RuntimeError: left out with a warning
    "ep_missing": "ep_nosuchmodule:X",  # ModuleNotFoundError: left out with a warning
    "memory": "ep_mod:Good",  # clashes with a built-in type: the built-in stays, a warning
}

MODULE = """
from beaker.container import NamespaceManager
from beaker.exceptions import InvalidCacheBackendError

class Good(NamespaceManager):
    def __init__(self, namespace, **kwargs):
        NamespaceManager.__init__(self, namespace)

class Other(Good):
    pass

def __getattr__(name):
    if name == "invalid":
        raise InvalidCacheBackendError("no client library here")
    if name == "broken":
        raise RuntimeError("boom")
    raise AttributeError(name)
"""


def _distribution(where: Path, points: dict[str, str], name: str = "ep_demo") -> Path:
    """A distribution's metadata and modules in ``where`` (put it on ``sys.path``)."""
    info = where / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{point} = {target}\n" for point, target in points.items())
    (info / "entry_points.txt").write_text(f"[beaker.backends]\n{lines}")
    (where / "ep_mod.py").write_text(MODULE)
    (where / "ep_syntax.py").write_text("X = (\n")
    return where


def _each(code: str, where: Path) -> tuple[Any, Any]:
    """``result`` of ``code`` (``WHERE`` on ``sys.path`` first) here and under Beaker 1.14.1,
    each in a fresh process."""
    code = f"import sys\nsys.path.insert(0, {str(where)!r})\n" + textwrap.dedent(code)
    ours = _real_beaker.run(code, cwd=where, python=sys.executable)
    return ours, _real_beaker.run(code, cwd=where)


def test_clsmap_loads_entry_points_with_beakers_rules(tmp_path: Path) -> None:
    where = _distribution(tmp_path, POINTS)
    ours, theirs = _each(
        f"""
import re, warnings
names = {list(POINTS)!r}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from beaker.cache import clsmap
    out = []
    for name in [*names, "nosuch", "nosuch"]:  # loaded once: no second round of warnings
        try:
            out.append([name, clsmap[name].__name__])
        except KeyError:
            out.append([name, "KeyError"])
# the point each warning names (Beaker's message holds its EntryPoint repr, then a traceback)
spelled = re.compile(r"entry point:? '(?:EntryPoint\\(name=')?([^']+)'")
warned = sorted(spelled.search(str(w.message)).group(1) for w in caught)
result = [out, warned, sorted({{w.category.__name__ for w in caught}}), len(caught)]
""",
        where,
    )
    assert ours == theirs
    assert ours[1] == ["ep_broken", "ep_missing", "memory"]
    assert ["memory", "MemoryNamespaceManager"] in ours[0]


def test_an_entry_point_left_out_is_an_unknown_type_and_the_first_of_two_names_wins(
    tmp_path: Path,
) -> None:
    where = _distribution(tmp_path / "one", POINTS)
    _distribution(tmp_path / "two", {"ep_good": "ep_mod:Other"}, "ep_second")
    ours, theirs = _each(
        f"""
import warnings
sys.path.insert(1, {str(tmp_path / "two")!r})
warnings.simplefilter("ignore")
from beaker.cache import Cache, CacheManager, clsmap
def outcome(make):
    try:
        return type(make()).__name__
    except TypeError:  # ours: UnknownBackendType, a TypeError too
        return "TypeError"
out = [clsmap["ep_good"].__name__]
for name in ["ep_invalid", "ep_syntax", "ep_broken", "ep_missing", "nosuch"]:
    out.append(outcome(lambda: Cache("ns", type=name)))
    out.append(outcome(lambda: CacheManager(type=name).get_cache("x").get("k")))
result = out
""",
        where,
    )
    assert ours == theirs
    assert ours[0] == "Good"


def test_extension_code_adds_a_manager_through_clsmap_clsmap(tmp_path: Path) -> None:
    # As packages do: beaker.session.clsmap._clsmap["ext:redis"] = TheirManager.
    ours, theirs = _each(
        """
import beaker.session
from beaker.cache import Cache, clsmap
from beaker.container import MemoryNamespaceManager
class Mine(MemoryNamespaceManager):
    pass
beaker.session.clsmap._clsmap["mine"] = Mine
beaker.session.clsmap._clsmap["ext:redis"] = Mine
cache = Cache("ns", type="mine")
cache.put("k", "v")
redis = Cache("ns2", type="ext:redis")
redis.put("k", "r")
result = [beaker.session.clsmap is clsmap, clsmap["mine"].__name__, cache.get("k"),
          clsmap["ext:redis"].__name__, redis.get("k")]
""",
        tmp_path,
    )
    assert ours == theirs == [True, "Mine", "v", "Mine", "r"]


def test_native_lookups_raise_what_loading_raises_and_list_the_entry_points(
    tmp_path: Path,
) -> None:
    where = _distribution(tmp_path / "one", POINTS)
    _distribution(tmp_path / "two", {"ep_good": "ep_mod:Other"}, "ep_second")
    code = f"""
sys.path.insert(1, {str(tmp_path / "two")!r})
from beaker.errors import ConfigError
from beaker.stores import registry
def outcome(name):
    try:
        return ["ok", type(registry.backend_type(name)).__name__]
    except ConfigError as exc:
        return ["ConfigError", exc.option, exc.value, exc.expected]
    except Exception as exc:
        return [type(exc).__name__, str(exc)]
result = [registry.names(), [outcome(name) for name in
    ["memory", "ep_good", "ep_invalid", "ep_syntax", "ep_broken", "ep_missing", "nosuch"]]]
"""
    names, outcomes = _real_beaker.run(
        f"import sys\nsys.path.insert(0, {str(where)!r})\n" + textwrap.dedent(code),
        cwd=where,
        python=sys.executable,
    )
    assert {"memory", "redis", "ep_good", "ep_broken"} <= set(names)
    assert names.count("memory") == names.count("ep_good") == 1
    memory, twice, invalid, syntax, broken, missing, unknown = outcomes
    assert memory == ["ok", "BackendType"]  # a registered type wins over an entry point
    assert twice[:3] == ["ConfigError", "type", "ep_good"]  # two packages, one name
    assert invalid == ["InvalidCacheBackendError", "no client library here"]
    assert syntax[0] == "SyntaxError"
    assert broken == ["RuntimeError", "boom"]
    assert missing[0] == "ModuleNotFoundError"
    assert unknown[:3] == ["ConfigError", "type", "nosuch"]
    assert "ep_broken" in unknown[3] and "redis" in unknown[3]
