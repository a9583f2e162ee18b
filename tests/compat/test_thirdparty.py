"""A third-party backend package (tests/compat/thirdparty_backend: a NamespaceManager and a
Container subclass under the ``beaker.backends`` entry point, installed into this virtualenv
and real Beaker 1.14.1's by .ci/run) works the same under both, and our lock protects it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from beaker.stores import registry
from beaker.stores.base import Store
from beaker.testing import StoreMachine
from tests._missing import skip_or_fail
from tests.compat import _real_beaker
from tests.compat.test_container import _both

PACKAGE = Path(__file__).with_name("thirdparty_backend")


def _install(python: str) -> None:
    """Install the test backend into ``python``'s environment without its dependencies (the
    environment's own beaker satisfies its ``beaker<2``; nothing is replaced)."""
    command = [python, "-m", "pip", "install", "-q", "--no-deps", str(PACKAGE)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        skip_or_fail(f"cannot install the test backend ({' '.join(command)}): {done.stderr}")


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    if importlib.util.find_spec("beaker_thirdparty_demo") is None:
        _install(sys.executable)
        importlib.invalidate_caches()
        from beaker.compat.config import clsmap

        clsmap.reload()  # entry points are read once per process
    _real_beaker.require_beaker114()
    probe = subprocess.run(
        [str(_real_beaker.PYTHON), "-c", "import beaker_thirdparty_demo"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        _install(str(_real_beaker.PYTHON))


class ThirdPartyStoreMachine(StoreMachine):
    """The package's manager, as the native registry builds it from its entry-point name
    (``thirdparty``, what ``cache.type = thirdparty`` translates to), is a conforming native
    store."""

    def make_store(self) -> Store:
        return registry.backend("thirdparty", options=(("required_option", "yes"),)).store


TestThirdPartyStore = ThirdPartyStoreMachine.TestCase


def test_registry_finds_the_entry_point_and_locks_with_ours(tmp_path: Path) -> None:
    import beaker_thirdparty_demo as demo

    assert "thirdparty" in {point.name for point in registry.plugins()}
    built = registry.shared(
        "thirdparty", options=(("required_option", "yes"),), lock_dir=str(tmp_path)
    )
    assert isinstance(built.store.manager("ns"), demo.DictNamespaceManager)
    assert type(built.lock.fallback).__name__ == "FileLock"
    assert built is registry.shared(
        "thirdparty", options=(("required_option", "yes"),), lock_dir=str(tmp_path)
    )


def test_cache_manager_regions_and_container_match_beaker(tmp_path: Path) -> None:
    ours, theirs = _both(
        """
from beaker.cache import CacheManager, Cache, cache_region, cache_regions, region_invalidate
from beaker.exceptions import MissingCacheParameter
from beaker.util import parse_cache_config_options
import beaker_thirdparty_demo as demo
manager = CacheManager(**parse_cache_config_options({
    "cache.type": "thirdparty", "cache.required_option": "yes",
    "cache.regions": "short", "cache.short.expire": "60",
    "cache.short.required_option": "yes"}))
calls = []
@cache_region("short", "tp")
def load(a):
    calls.append(a)
    return a * 2
@manager.cache("m")
def other(a):
    calls.append(-a)
    return a
out = [load(2), load(2), other(3), other(3), list(calls)]
region_invalidate(load, None, "tp", 2)
out += [load(2), list(calls)]
cache = manager.get_cache("plain")
cache.put("k", "v")
out += [cache.get("k"), "k" in cache, cache.has_key("nope")]
try:
    Cache("x", type="thirdparty").get("k")
except MissingCacheParameter as exc:
    out.append("missing")
value = demo.DictContainer("ck", {}, "container-ns", createfunc=lambda: 42,
                           required_option="yes")
out += [value.get_value(), value.has_current_value()]
result = out
""",
        tmp_path,
    )
    assert ours == theirs


def test_our_lock_gives_dogpile_protection_the_backend_lacks(tmp_path: Path) -> None:
    # Difference: the backend's creation lock is a null_synchronizer, so under Beaker every
    # concurrent miss runs the creator; ours falls back to our lock, so it runs once.
    code = """
import threading, time
from beaker.cache import Cache
cache = Cache("dogpile-ns", type="thirdparty", required_option="yes")
calls = []
def create():
    calls.append(1)
    time.sleep(0.3)
    return "v"
threads = [threading.Thread(target=lambda: cache.get("k", createfunc=create)) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
result = len(calls)
"""
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - our own test code
    assert namespace["result"] == 1
    assert _real_beaker.run(code) > 1


def _wheel(directory: Path, requirement: str) -> Path:
    """A minimal wheel of a package that only requires ``requirement``."""
    path = directory / "needs_beaker-1.0-py3-none-any.whl"
    info = "needs_beaker-1.0.dist-info"
    files = {
        "needs_beaker.py": "",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: needs-beaker\nVersion: 1.0\n"
        f"Requires-Dist: {requirement}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.mark.parametrize("requirement", ["beaker<2", "Beaker>=1.11,<2"])
def test_pip_keeps_our_package_for_a_dependent_pinning_beaker_below_2(
    tmp_path: Path, requirement: str
) -> None:
    # With no index at all, pip can only satisfy the pin with the installed package: ours.
    import beaker

    installed = importlib.metadata.version("beaker")
    if installed != beaker.__version__:
        skip_or_fail(
            f"the installed metadata says beaker {installed}, the source {beaker.__version__}:"
            " re-run pip install -e . to refresh it"
        )
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-index",
            "--dry-run",
            "--quiet",
            "--report",
            str(report),
            str(_wheel(tmp_path, requirement)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    installs = [item["metadata"]["name"] for item in json.loads(report.read_text())["install"]]
    assert installs == ["needs-beaker"]  # beaker itself stays ours, nothing replaced
