"""A mutual-exclusion check for any AsyncLock: tasks of one event loop, and optionally event
loops in several processes, contending for one name."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from beaker.locks.base import AsyncLock
from beaker.testing.locks import _run_processes

_NAME = "conformance-async-lock"


async def _contend(lock: AsyncLock, counter: Path, tasks: int, rounds: int, hold: float) -> None:
    """``tasks`` tasks each increment ``counter`` ``rounds`` times, a read, an ``await`` of
    ``hold`` seconds and a write done while holding the lock: without exclusion the tasks
    interleave at the ``await`` and overwrite each other's increments."""
    marker = counter.with_suffix(".inside")

    async def task() -> None:
        for _ in range(rounds):
            async with await lock.acquire(_NAME, timeout=60):
                if marker.exists():
                    raise AssertionError("two holders inside the lock at once")
                marker.touch()
                value = int(counter.read_text())
                await asyncio.sleep(hold)
                counter.write_text(str(value + 1))
                marker.unlink()

    try:
        await asyncio.gather(*(task() for _ in range(tasks)))
    finally:
        closing = getattr(lock, "close", None)  # a network lock's clients belong to this loop
        if closing is not None:
            await closing()


def _process(lock: AsyncLock, counter: str, tasks: int, rounds: int, hold: float) -> None:
    asyncio.run(_contend(lock, Path(counter), tasks, rounds, hold))


def check_async_lock_exclusion(
    lock: AsyncLock, tasks: int = 8, rounds: int = 10, processes: int = 0, hold: float = 0.001
) -> None:
    """Assert that ``lock`` excludes ``tasks`` tasks of an event loop from each other, and with
    ``processes`` > 0 the tasks of that many processes (each with its own loop).

    Each task increments a counter file ``rounds`` times under the lock, awaiting ``hold``
    seconds between read and write. The final count must be every increment, and no two
    holders may be inside at once. With processes the lock must be picklable and its scope at
    least ``"host"``. A lock with an async ``close()`` (a network lock) is closed at the end of
    each event loop.

    Raises:
        AssertionError: exclusion was violated or a worker failed.
    """
    with tempfile.TemporaryDirectory() as tmp:
        counter = Path(tmp, "counter")
        counter.write_text("0")
        if processes:
            _run_processes(_process, (lock, str(counter), tasks, rounds, hold), processes)
        else:
            asyncio.run(_contend(lock, counter, tasks, rounds, hold))
        expected = max(processes, 1) * tasks * rounds
        total = int(counter.read_text())
        assert total == expected, (
            f"{total} increments survived of {expected}: the lock did not exclude"
        )
