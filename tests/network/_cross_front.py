"""The sync/async agreement checks of the network stores: processes that each run in a spawned
interpreter of its own (``multiprocessing`` spawn), so the two fronts share nothing but the
server, and the in-process checks that a store and its asyncio twin agree (versions, locks)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from typing import Any

from beaker import compose, compose_async
from beaker.entry import MISSING, Entry

#: What each front writes under its own key, and checks it reads under the other's.
VALUES = {"from-sync": {"written by": "sync", "n": 1}, "from-async": ["async", 2.5, None]}


def sync_side(make_store: Callable[[], Any], namespace: str) -> None:
    """The sync process: write ``from-sync``; if ``from-async`` is there, it must be exact."""
    store = make_store()
    cache = compose(store, namespace=namespace, ttl=300)
    cache.set("from-sync", VALUES["from-sync"])
    found = cache.get("from-async")
    store.close()
    assert found is MISSING or found == VALUES["from-async"], found


def async_side(make_store: Callable[[], Any], namespace: str) -> None:
    """The async process: read ``from-sync`` (it must be exact) and write ``from-async``."""

    async def run() -> None:
        store = make_store()
        cache = compose_async(store, namespace=namespace, ttl=300)
        found = await cache.get("from-sync")
        assert found == VALUES["from-sync"], f"the async front read {found!r}"
        await cache.set("from-async", VALUES["from-async"])
        await store.close()

    asyncio.run(run())


def in_process(target: Callable[..., None], *args: Any) -> None:
    """Run ``target(*args)`` in a spawned process; fail unless it exits cleanly."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    process.join(timeout=120)
    assert process.exitcode == 0, f"{target.__name__} in process {os.getpid()}: {process.exitcode}"


def check_fronts_share_entries(
    make_sync: Callable[[], Any], make_async: Callable[[], Any], namespace: str
) -> None:
    """A sync process writes, an async process reads it and writes, a sync process reads that:
    every value crosses between the fronts through the server alone."""
    in_process(sync_side, make_sync, namespace)
    in_process(async_side, make_async, namespace)
    store = make_sync()
    cache = compose(store, namespace=namespace, ttl=300)
    try:
        assert cache.get("from-async") == VALUES["from-async"]
        cache.clear()
    finally:
        store.close()


def _note_run(counter: str) -> None:
    with open(counter, "a") as file:
        file.write(f"{os.getpid()}\n")


def dogpile_worker(make_cache: Callable[[], Any], key: str, counter: str, tasks: int) -> None:
    """One process: ``tasks`` coroutines ask ``key`` of the cache at once; each creator run
    appends a line to ``counter``."""

    async def create() -> str:
        _note_run(counter)
        await asyncio.sleep(0.5)  # long enough for every process to arrive and wait
        return "made once"

    async def run() -> None:
        cache = make_cache()
        results = await asyncio.gather(*(cache.get_or_create(key, create) for _ in range(tasks)))
        assert results == ["made once"] * tasks, results
        await cache.store.close()

    asyncio.run(run())


def check_cancellation_leaves_no_lease(cache: Any, probe: Any) -> None:
    """Cancel a creating task and three waiting ones of ``cache`` (an AsyncCache on a
    distributed async lock) on one cold key: afterwards ``probe`` (the sync twin of that lock)
    gets the key's lock at once and nothing was stored. Closes the cache's store."""

    async def scenario() -> None:
        started = asyncio.Event()

        async def slow() -> str:
            started.set()
            await asyncio.sleep(60)
            return "never"

        creator = asyncio.create_task(cache.get_or_create("k", slow))
        await started.wait()
        waiters = [asyncio.create_task(cache.get_or_create("k", slow)) for _ in range(3)]
        await asyncio.sleep(0.05)
        for task in (creator, *waiters):
            task.cancel()
        await asyncio.gather(creator, *waiters, return_exceptions=True)
        probe.acquire(cache._lock_name("k"), timeout=0).release()  # no lease left
        assert await cache.store.get(cache.name, "k") is None
        await cache.store.close()

    asyncio.run(scenario())


def check_sync_and_async_locks_exclude(sync: Any, asynchronous: Any) -> None:
    """A sync lock and its async twin (same server and prefix) exclude each other both ways.
    Closes the async lock."""
    from beaker.errors import LockTimeout

    async def scenario() -> None:
        held = sync.acquire("name")
        try:
            await asynchronous.acquire("name", timeout=0)
            raise AssertionError("the async lock was taken while the sync one held it")
        except LockTimeout:
            pass
        held.release()
        async with await asynchronous.acquire("name", timeout=0):
            try:
                sync.acquire("name", timeout=0)
                raise AssertionError("the sync lock was taken while the async one held it")
            except LockTimeout:
                pass
        sync.acquire("name", timeout=0).release()
        await asynchronous.close()

    asyncio.run(scenario())


def check_twins_share_versions(sync: Any, twin: Any) -> None:
    """A version read by either of a versioned store and its asyncio twin is the other's:
    a compare-and-set given it succeeds once, by either, and the next is refused. Leaves key
    ``k`` of namespace ``ns`` holding ``two``; closes the twin."""
    one, two = Entry(b"one", 1.0, None), Entry(b"two", 2.0, None)

    async def scenario() -> None:
        read = await twin.get_versioned("ns", "k")
        assert sync.compare_and_set("ns", "k", one, read.version)
        assert not await twin.compare_and_set("ns", "k", one, read.version)
        current = sync.get_versioned("ns", "k")
        assert (await twin.get_versioned("ns", "k")).version == current.version
        assert await twin.compare_and_set("ns", "k", two, current.version)
        assert sync.get("ns", "k") == two
        await twin.close()

    asyncio.run(scenario())
