"""AsyncioLock: FIFO exclusion among the tasks of a loop, timeouts, cancellation, bounded
registry, one set of names per loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from beaker.errors import LockError, LockTimeout
from beaker.locks import AsyncioLock
from beaker.locks.base import AsyncLock


def test_tasks_take_turns_in_order() -> None:
    lock = AsyncioLock()
    order: list[int] = []
    inside = 0

    async def worker(n: int) -> None:
        nonlocal inside
        async with await lock.acquire("name"):
            inside += 1
            assert inside == 1, "two tasks inside at once"
            await asyncio.sleep(0)
            order.append(n)
            inside -= 1

    async def scenario() -> None:
        await asyncio.gather(*(worker(n) for n in range(50)))
        assert lock.held_names() == 0

    asyncio.run(scenario())
    assert order == list(range(50))
    assert isinstance(lock, AsyncLock) and lock.scope == "loop"


def test_timeouts_and_double_release() -> None:
    lock = AsyncioLock()

    async def scenario() -> None:
        lease = await lock.acquire("name")
        with pytest.raises(LockTimeout):
            await lock.acquire("name", timeout=0)
        with pytest.raises(LockTimeout):
            await lock.acquire("name", timeout=0.01)
        other = await lock.acquire("other", timeout=0)  # names are independent
        await other.release()
        await lease.release()
        with pytest.raises(LockError):
            await lease.release()
        assert lock.held_names() == 0
        async with await lock.acquire("name", timeout=0):
            pass

    asyncio.run(scenario())


def test_a_lock_handed_to_a_cancelled_waiter_passes_on() -> None:
    """The holder releases and the first waiter is cancelled in the same loop iteration: the
    lock must go to the next waiter, not stay held by no one."""
    lock = AsyncioLock()

    async def scenario() -> None:
        lease = await lock.acquire("name")
        first = asyncio.create_task(lock.acquire("name"))
        second = asyncio.create_task(lock.acquire("name"))
        await asyncio.sleep(0)
        await lease.release()  # hands the lock to `first` ...
        first.cancel()  # ... which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await first
        lease2 = await asyncio.wait_for(second, 5)
        await lease2.release()
        assert lock.held_names() == 0

    asyncio.run(scenario())


def test_each_event_loop_has_its_own_names() -> None:
    lock = AsyncioLock()
    held = threading.Event()
    done = threading.Event()

    async def hold() -> None:
        async with await lock.acquire("name"):
            held.set()
            await asyncio.to_thread(done.wait, 10)

    thread = threading.Thread(target=asyncio.run, args=(hold(),))
    thread.start()
    assert held.wait(10)

    async def other_loop() -> None:
        async with await lock.acquire("name", timeout=0):  # not excluded by the other loop
            pass

    try:
        asyncio.run(other_loop())
    finally:
        done.set()
        thread.join()
