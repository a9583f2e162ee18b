"""What the network store tests share: finding the server program, a free loopback port,
starting, awaiting and stopping a private server process; fresh names, entries, the check that
``clear``/``keys`` stay within one namespace, and :func:`machine_case`, which runs a
Hypothesis state machine against the server a pytest fixture names.

Imports only the standard library, pytest and ``beaker`` (never a client library).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings

from beaker.entry import Entry
from beaker.stores.base import Store
from tests._missing import skip_or_fail


def server_bin(program: str, variable: str) -> str:
    """Path of ``program``: the environment ``variable`` or the one on ``PATH``.

    Skips the test when there is none (fails it under ``CI=true``).
    """
    found = os.environ.get(variable) or shutil.which(program)
    if found:
        return found
    skip_or_fail(f"no {program}: run `bash .ci/services.sh start` (it installs one)")


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


def machine_case(machine: type[Any], fixture: str, *, examples: int, steps: int) -> type[Any]:
    """The pytest test case of the Hypothesis state machine ``machine``, whose class attribute
    ``where`` is set to the value of the pytest fixture named ``fixture`` (a server's URL, a
    temporary directory …) before each run, with ``examples`` runs of at most ``steps`` steps
    (and the rest of Hypothesis's settings for state machine test cases: no deadline, no
    health check).
    The machine's factory method (``make_store``, ``make_twins`` …) reads ``self.where``."""
    case: type[Any] = machine.TestCase

    @pytest.fixture(autouse=True)
    def _where(self: Any, request: pytest.FixtureRequest) -> None:
        machine.where = request.getfixturevalue(fixture)

    case._where = _where
    case.settings = settings(case.settings, max_examples=examples, stateful_step_count=steps)
    return case


#: Seconds each reply or connection may take in the conformance machines' stores. They check
#: contracts, not timeouts, and on a busy 2-core CI machine the 0.25 s defaults were once
#: exceeded while a new connection was made (a twin run failed, and Hypothesis saw a flake).
PATIENT = 5.0
#: :data:`PATIENT` as the keyword arguments of the Redis stores and locks (sync and async).
REDIS_PATIENT = {"socket_timeout": PATIENT, "socket_connect_timeout": PATIENT}
#: :data:`PATIENT` as the keyword arguments of the memcached stores and locks (sync and async).
MEMCACHED_PATIENT = {"socket_timeout": PATIENT, "connect_timeout": PATIENT}


def fresh(prefix: str = "ns") -> str:
    """``prefix`` plus a random suffix, so runs never see each other's data."""
    return f"{prefix}-{secrets.token_hex(4)}"


def entry(value: bytes = b"v", ttl: float | None = None) -> Entry:
    """An :class:`Entry` stored now, expiring ``ttl`` seconds from now (None: never)."""
    now = time.time()
    return Entry(value, now, None if ttl is None else now + ttl)


def check_clear_and_keys_per_namespace(
    store: Store, namespaces: list[str], keys: list[str]
) -> None:
    """Fill every namespace with ``keys``, clear the first: ``keys`` and ``get`` must show the
    others untouched. Clears every namespace and closes ``store`` at the end."""
    try:
        for ns in namespaces:
            for key in keys:
                store.set(ns, key, entry(f"{ns}/{key}".encode()))
        for ns in namespaces:
            assert set(store.keys(ns)) == set(keys)
        store.clear(namespaces[0])
        assert set(store.keys(namespaces[0])) == set()
        for ns in namespaces[1:]:
            assert set(store.keys(ns)) == set(keys)
            for key in keys:
                got = store.get(ns, key)
                assert got is not None and got.value == f"{ns}/{key}".encode()
    finally:
        for ns in namespaces:
            store.clear(ns)
        store.close()
