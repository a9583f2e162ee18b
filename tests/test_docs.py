"""The API reference builds from the docstrings with no warning (``sphinx-build -W``), as
``.ci/run`` builds it: a docstring that breaks the docs fails this test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests._missing import import_or_fail

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.slow
def test_api_reference_builds_without_warnings(tmp_path: Path) -> None:
    import_or_fail("sphinx", "test")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-E",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert (tmp_path / "html" / "_api" / "beaker.stores.html").exists()
