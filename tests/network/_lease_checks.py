"""Checks shared by the tests of the locks that hold a token lease on a server
(``test_redis_lock.py``, ``test_memcached_lock.py``): timeouts, double release, an expired
lease that must not remove its successor's, pickling, the dogpile across processes and a
SIGKILLed holder.

Each check takes the lock (and, where the server is asked directly, a callable that asks it),
so the server-specific assertions stay in the test files.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.synchronize
import os
import pickle
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from beaker.caching import compose
from beaker.errors import LockError, LockTimeout
from beaker.locks.base import Lock

SPAWN = multiprocessing.get_context("spawn")


def name() -> str:
    """A fresh lock name."""
    return f"lock-{secrets.token_hex(4)}"


def check_timeouts(lock: Lock) -> None:
    """``timeout=0`` tries once, a short timeout gives up, a released name is free again."""
    held = name()
    lease = lock.acquire(held)
    with pytest.raises(LockTimeout) as caught:
        lock.acquire(held, timeout=0)
    assert caught.value.name == held and caught.value.timeout == 0, repr(caught.value)
    with pytest.raises(LockTimeout):
        lock.acquire(held, timeout=0.05)
    lease.release()
    with lock.acquire(held, timeout=0):  # free again: one try suffices
        pass
    with lock.acquire(held, timeout=None):
        pass


def check_double_release(lock: Lock) -> None:
    """Releasing a lease twice is a ``LockError``."""
    lease = lock.acquire(name())
    lease.release()
    with pytest.raises(LockError, match="released twice"):
        lease.release()


def check_expired_lease_keeps_successor(
    lock: Lock, logger: str, caplog: pytest.LogCaptureFixture, held_on_server: Callable[[str], bool]
) -> None:
    """A lease released after it expired (``lock`` has a short ``expire``) warns on ``logger``
    and leaves the successor's lease in place; ``held_on_server(name)`` asks the server."""
    held = name()
    first = lock.acquire(held)
    second = lock.acquire(held, timeout=30)  # waits for the first lease to expire
    with caplog.at_level(logging.WARNING, logger=logger):
        first.release()  # compare-and-delete: the token no longer matches, nothing is touched
    assert "expired before it was released" in caplog.text, caplog.text
    assert held_on_server(held), "the successor's lease is gone"
    second.release()
    assert not held_on_server(held), "the successor's lease outlived its release"


def check_pickles_without_connections(lock: Any) -> None:
    """A pickled copy of a lock in use is equal to it and works on its own connections."""
    with lock.acquire(name()):
        clone = pickle.loads(pickle.dumps(lock))
    assert clone == lock, f"{clone!r} != {lock!r}"
    with clone.acquire(name(), timeout=0):
        pass
    lock.close()
    clone.close()


# -- across processes ----------------------------------------------------------------------------


def _dogpile_worker(
    store: Any,
    lock: Lock,
    namespace: str,
    log_path: str,
    barrier: multiprocessing.synchronize.Barrier,
) -> None:
    cache = compose(store, lock=lock, namespace=namespace)

    def creator() -> str:
        with open(log_path, "a") as log:
            log.write(f"{os.getpid()}\n")
        time.sleep(0.3)  # long enough that the others arrive while it runs
        return f"made by {os.getpid()}"

    barrier.wait()
    value = cache.get_or_create("cold", creator)
    with open(log_path + ".results", "a") as out:
        out.write(value + "\n")


def check_creator_runs_once_across_processes(
    store: Any, lock: Lock, namespace: str, tmp_path: Path
) -> None:
    """Four spawned processes ask a cache on ``store`` guarded by ``lock`` (both pickled into
    them, connections opened there) for one cold key: one runs the creator, all get its value."""
    log_path = str(tmp_path / "creator.log")
    barrier = SPAWN.Barrier(4)
    procs = [
        SPAWN.Process(target=_dogpile_worker, args=(store, lock, namespace, log_path, barrier))
        for _ in range(4)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    exitcodes = [proc.exitcode for proc in procs]
    assert exitcodes == [0, 0, 0, 0], f"worker exit codes {exitcodes}"
    creators = Path(log_path).read_text().split()
    assert len(creators) == 1, f"creator ran in {creators}"
    results = Path(log_path + ".results").read_text().split("\n")[:-1]
    assert results == [f"made by {creators[0]}"] * 4, f"values {results} (creator {creators[0]})"


def _hold_forever(lock: Lock, lock_name: str, ready: str) -> None:
    lock.acquire(lock_name)
    Path(ready).touch()
    while True:
        time.sleep(1)


@contextmanager
def killed_holder(lock: Lock, held: str, tmp_path: Path) -> Iterator[None]:
    """Within the block, a spawned process that took ``held`` with ``lock`` (pickled into it)
    has been killed with SIGKILL, leaving its lease behind."""
    ready = tmp_path / "ready"
    holder = SPAWN.Process(target=_hold_forever, args=(lock, held, str(ready)))
    holder.start()
    try:
        for _ in range(1200):
            if ready.exists() or not holder.is_alive():
                break
            time.sleep(0.05)
        assert ready.exists(), "holder never acquired the lock"
        os.kill(holder.pid, signal.SIGKILL)  # type: ignore[arg-type]
        holder.join()
        yield
    finally:
        if holder.is_alive():
            holder.kill()
            holder.join()
