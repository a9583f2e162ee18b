"""AsyncFileLock: FileLock's files, polled from the event loop; excludes tasks, processes and
sync FileLock users alike; cancellation and timeouts leave nothing held."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import pytest

from beaker.errors import LockTimeout
from beaker.locks import AsyncFileLock, FileLock
from beaker.testing import check_async_lock_exclusion


def test_excludes_the_tasks_of_a_loop(tmp_path: Path) -> None:
    check_async_lock_exclusion(AsyncFileLock(tmp_path), tasks=8, rounds=10)


@pytest.mark.slow
def test_excludes_tasks_of_several_processes(tmp_path: Path) -> None:
    lock = AsyncFileLock(tmp_path)
    assert pickle.loads(pickle.dumps(lock)) == lock
    check_async_lock_exclusion(lock, tasks=4, rounds=5, processes=3)


def test_a_sync_holder_excludes_async_tasks_until_it_releases(tmp_path: Path) -> None:
    sync, asynchronous = FileLock(tmp_path), AsyncFileLock(tmp_path)

    async def scenario() -> None:
        held = sync.acquire("name")
        with pytest.raises(LockTimeout):
            await asynchronous.acquire("name", timeout=0)
        with pytest.raises(LockTimeout):
            await asynchronous.acquire("name", timeout=0.02)
        waiter = asyncio.create_task(asynchronous.acquire("name", timeout=10))
        await asyncio.sleep(0.01)
        held.release()
        lease = await waiter
        with pytest.raises(LockTimeout):
            sync.acquire("name", timeout=0)
        await lease.release()
        sync.acquire("name", timeout=0).release()

    asyncio.run(scenario())


def test_cancelled_waiters_hold_nothing(tmp_path: Path) -> None:
    lock = AsyncFileLock(tmp_path)

    async def scenario() -> None:
        lease = await lock.acquire("name")
        waiters = [asyncio.create_task(lock.acquire("name")) for _ in range(3)]
        await asyncio.sleep(0.01)  # one polls the file, two queue in the loop
        for task in waiters:
            task.cancel()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(result, asyncio.CancelledError) for result in results)
        await lease.release()
        async with await lock.acquire("name", timeout=0):
            pass
        assert list(tmp_path.iterdir()) == []  # no lock file left behind

    asyncio.run(scenario())
