"""A mutual-exclusion check for any Lock, across threads or processes."""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path

from beaker.locks.base import Lock

_NAME = "conformance-lock"


def _worker(lock: Lock, counter: str, rounds: int, hold: float) -> None:
    """Increment the number in ``counter`` ``rounds`` times, each a read-pause-write done
    while holding the lock: without exclusion the increments overwrite each other."""
    path = Path(counter)
    for _ in range(rounds):
        with lock.acquire(_NAME, timeout=60):
            inside = path.with_suffix(".inside")
            if inside.exists():
                raise AssertionError("two holders inside the lock at once")
            inside.touch()
            value = int(path.read_text() or 0)
            time.sleep(hold)
            path.write_text(str(value + 1))
            inside.unlink()


def check_lock_exclusion(
    lock: Lock, workers: int = 4, rounds: int = 20, processes: bool = False, hold: float = 0.001
) -> None:
    """Assert that ``lock`` excludes ``workers`` threads (or processes) from each other.

    Each worker increments a counter file ``rounds`` times under the lock, pausing ``hold``
    seconds between read and write. The final count must be ``workers * rounds`` and no two
    workers may be inside at once. With ``processes=True`` the lock must be picklable and its
    scope at least ``"host"``.

    Raises:
        AssertionError: exclusion was violated or a worker failed.
    """
    with tempfile.TemporaryDirectory() as tmp:
        counter = os.path.join(tmp, "counter")
        Path(counter).write_text("0")
        args = (lock, counter, rounds, hold)
        if processes:
            context = multiprocessing.get_context("spawn")
            procs = [context.Process(target=_worker, args=args) for _ in range(workers)]
            for proc in procs:
                proc.start()
            for proc in procs:
                proc.join(timeout=300)
            codes = [proc.exitcode for proc in procs]
            assert codes == [0] * workers, f"worker processes failed: exit codes {codes}"
        else:
            errors: list[Exception] = []

            def run() -> None:
                try:
                    _worker(*args)
                except Exception as exc:  # noqa: BLE001 - any failure is reported below
                    errors.append(exc)

            threads = [threading.Thread(target=run) for _ in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors, f"worker threads failed: {errors!r}"
        total = int(Path(counter).read_text())
        assert total == workers * rounds, (
            f"{total} increments survived of {workers * rounds}: the lock did not exclude"
        )
