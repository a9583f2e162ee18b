"""What the private-server helpers of the memcached and Redis tests share: finding the server
program, a free loopback port, and starting, awaiting and stopping the server process.

Imports only the standard library and pytest (never a client library or ``beaker``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable

import pytest


def server_bin(program: str, variable: str) -> str:
    """Path of ``program``: the environment ``variable`` or the one on ``PATH``.

    Skips the test when there is none (fails it under ``CI=true``).
    """
    found = os.environ.get(variable) or shutil.which(program)
    if found:
        return found
    message = f"no {program}: run `bash .ci/services.sh start` (it installs one)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(args: list[str]) -> subprocess.Popen[bytes]:
    """Start a server process with its output discarded."""
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def await_answer(
    process: subprocess.Popen[bytes],
    probe: Callable[[], object],
    errors: type[BaseException] | tuple[type[BaseException], ...],
    name: str,
    port: int,
    on_error: Callable[[], None] = lambda: None,
) -> None:
    """Call ``probe()`` until it raises none of ``errors``, for up to ~10 s.

    ``on_error()`` runs after each failed probe. Raises RuntimeError naming ``name`` if the
    process exits or never answers.
    """
    for _ in range(200):
        try:
            probe()
            return
        except errors:
            on_error()
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}") from None
            time.sleep(0.05)
    raise RuntimeError(f"{name} on port {port} did not answer")


def end(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to a still running ``process`` and wait for it to exit."""
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        process.wait(timeout=30)
