"""Runs the Beaker-API application tests (``beaker_api_app.py``) against this package, and the
very same file against real Beaker 1.14.1 in its own virtualenv: the tests encode Beaker's
behaviour, not ours."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.compat import _real_beaker
from tests.compat.beaker_api_app import *

HERE = Path(__file__).parent


def test_the_same_tests_pass_against_real_beaker_114(tmp_path: Path) -> None:
    _real_beaker.require_beaker114()
    shutil.copy(HERE / "beaker_api_app.py", tmp_path / "test_beaker_api_app_real.py")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").touch()
    shutil.copy(HERE.parent / "_missing.py", tmp_path / "tests" / "_missing.py")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [
            str(_real_beaker.PYTHON),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            "test_beaker_api_app_real.py",
            "-W",
            "ignore::DeprecationWarning",
        ],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    # it really ran Beaker 1.14.1's code
    check = subprocess.run(
        [str(_real_beaker.PYTHON), "-c", "import beaker; print(beaker.__version__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip() == "1.14.1"
    assert " passed" in proc.stdout and "failed" not in proc.stdout
