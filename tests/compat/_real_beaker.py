"""Run code under real Beaker 1.14.1 (its own virtualenv, /tmp/beaker114 or
``$BEAKER114_VENV``) in a subprocess, to check that the compat layer matches it.

Tests that use it are skipped when that virtualenv is absent (and fail under ``CI=true``).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from tests._missing import skip_or_fail

VENV = Path(os.environ.get("BEAKER114_VENV", "/tmp/beaker114"))
PYTHON = VENV / "bin" / "python"

#: Turns results into JSON the same way in both interpreters.
CANON = textwrap.dedent(
    """
    import datetime as _dt

    def canon(obj):
        if isinstance(obj, dict):
            return sorted([str(k), canon(v)] for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            return [canon(v) for v in obj]
        if isinstance(obj, _dt.timedelta):
            return ["timedelta", obj.total_seconds()]
        if isinstance(obj, _dt.datetime):
            return ["datetime", obj.isoformat()]
        if isinstance(obj, bytes):
            return ["bytes", obj.decode("latin-1")]
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        return ["repr", type(obj).__name__]
    """
)


def require_beaker114() -> None:
    """Skip (or fail under CI) when the real-Beaker virtualenv is missing."""
    if PYTHON.exists():
        return
    skip_or_fail(f"real Beaker 1.14.1 virtualenv not found at {VENV} (set BEAKER114_VENV)")


def run(
    code: str,
    cwd: str | os.PathLike[str] = "/",
    timeout: float = 120,
    python: str | os.PathLike[str] = PYTHON,
) -> Any:
    """Run ``code`` (which must assign ``result``) under real Beaker; return ``canon(result)``.

    The code runs with ``canon`` defined; ``result`` is printed as JSON on the last line.
    ``python``: another interpreter (``sys.executable``: ours, in a fresh process).
    """
    require_beaker114()
    script = (
        CANON + "\n" + textwrap.dedent(code) + "\nimport json\nprint(json.dumps(canon(result)))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(python), "-c", script],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{python} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def canon(obj: Any) -> Any:
    """Our side of :data:`CANON` (same definition, run here)."""
    namespace: dict[str, Any] = {}
    exec(CANON, namespace)  # noqa: S102 - our own constant
    return namespace["canon"](obj)
