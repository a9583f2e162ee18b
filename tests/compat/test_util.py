"""beaker.util helpers: the same results as real Beaker 1.14.1 where Beaker computes paths or
names, and the documented behaviour of the small utilities."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from beaker.util import (
    DEFAULT_CACHE_KEY_LENGTH,
    SyncDict,
    ThreadLocal,
    asbool,
    aslist,
    encoded_path,
    func_namespace,
    has_self_arg,
    verify_directory,
)
from tests.compat import _real_beaker


def test_encoded_path_matches_beaker_114(tmp_path: Path) -> None:
    cases = [
        (["abc"], ".cache", 3, False),
        (["0123456789abcdef0123456789abcdef"], ".cache", 3, False),
        (["my.namespace", "x"], ".enc", 3, True),
        (["caf\u00e9"], ".dbm", 4, True),
    ]
    theirs = _real_beaker.run(
        f"""
        from beaker.util import encoded_path
        result = [encoded_path({str(tmp_path)!r}, i, extension=e, depth=d, digest_filenames=g)
                  for i, e, d, g in {cases!r}]
        """
    )
    ours = [
        encoded_path(str(tmp_path), i, extension=e, depth=d, digest_filenames=g)
        for i, e, d, g in cases
    ]
    assert ours == theirs
    assert all(Path(path).parent.is_dir() for path in ours)


def test_func_namespace_matches_beaker_114(tmp_path: Path) -> None:
    module = tmp_path / "nsmod.py"
    module.write_text("def f(a): pass\nclass K:\n    def m(self): pass\n")
    theirs = _real_beaker.run(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import nsmod
        from beaker.util import func_namespace
        result = [func_namespace(nsmod.f), func_namespace(nsmod.K().m)]
        """
    )
    import importlib.util

    spec = importlib.util.spec_from_file_location("nsmod", module)
    assert spec is not None and spec.loader is not None
    nsmod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nsmod)
    ours = [func_namespace(nsmod.f), func_namespace(nsmod.K().m)]
    assert json.loads(json.dumps(ours)) == theirs
    assert ours[0] == f"{module}|f"


def test_small_utilities(tmp_path: Path) -> None:
    assert DEFAULT_CACHE_KEY_LENGTH == 250
    assert asbool(" Yes ") is True and asbool("off") is False and asbool(0) is False
    assert aslist("a b") == ["a", "b"] and aslist(None) == [] and aslist(3) == [3]

    def method(self: object, x: int) -> None: ...

    assert has_self_arg(method) and not has_self_arg(lambda x: x)
    target = tmp_path / "a" / "b"
    verify_directory(target)
    verify_directory(target)  # existing is fine
    assert target.is_dir()


def test_syncdict_creates_once_among_threads() -> None:
    made: list[int] = []
    registry = SyncDict()
    barrier = threading.Barrier(8)

    def create() -> object:
        made.append(1)
        return object()

    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        results.append(registry.get("k", create))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len({id(r) for r in results}) == 1
    assert "k" in registry and registry.has_key("k")


def test_thread_local_is_per_thread() -> None:
    local = ThreadLocal()
    local.put(1)
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(local.get("none")))
    thread.start()
    thread.join()
    assert local.get() == 1 and seen == ["none"] and local.has()
    local.remove()
    assert not local.has()
