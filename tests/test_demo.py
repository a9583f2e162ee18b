"""The README's demo command runs end to end over real HTTP and reports what it should."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("mode", [[], ["--asgi"]])
def test_demo_runs_and_reports_hits_misses_and_sessions(mode: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "beaker", "demo", *mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "4 hits, 3 misses" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("GET /?")]
    assert [row[2] for row in rows] == ["miss", "hit", "miss", "hit", "hit", "miss", "hit"]
    assert "memoized coroutine on a cold key: 1 computation" in out
    assert ("on the ASGI middleware under uvicorn" in out) == bool(mode)
    assert '{"user": "ada", "visits": 3}' in out
    login = next(line for line in out.splitlines() if line.startswith("GET /login"))
    assert "->" in login  # the session id cookie changed on login


def test_unknown_command_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "beaker", "nonsense"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "usage" in result.stderr
