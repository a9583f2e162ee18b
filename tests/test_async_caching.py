"""The asyncio front (AsyncCache, compose_async): the same rules as Cache, awaited; dogpile
protection among coroutines; cancellation never leaves a lock held."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from beaker import MISSING, AsyncCache, compose, compose_async
from beaker.entry import Entry
from beaker.errors import ComponentTypeError, ConfigError, LockTimeout, StoreUnavailable
from beaker.locks import AsyncioLock, AsyncNullLock, NullLock
from beaker.policies import HashedKey
from beaker.stores import AsyncMemoryStore, MemoryStore
from beaker.stores._twins import DirectTwin
from beaker.testing import FakeClock

run = asyncio.run


def _lock_name(key: str, namespace: str = "default") -> str:
    return f"{len(namespace)}:{namespace}:{key}"


def test_set_get_delete_clear_and_none_is_a_value() -> None:
    async def scenario() -> None:
        cache = compose_async(AsyncMemoryStore())
        assert await cache.get("k") is MISSING
        assert await cache.get("k", "fallback") == "fallback"
        await cache.set("k", None)
        assert await cache.get("k") is None and await cache.contains("k")
        await cache.delete("k")
        await cache.delete("never-there")
        assert await cache.get("k") is MISSING
        other = cache.namespace("other")
        await cache.set("a", 1)
        await other.set("a", 2)
        await other.clear()
        assert await cache.get("a") == 1 and await other.get("a") is MISSING

    run(scenario())


def test_expiry_and_keys_follow_the_same_rules_as_the_sync_cache() -> None:
    """One store, one clock: what the sync front writes the async front reads, under the same
    stored keys, expiring at the same moment."""
    clock = FakeClock()
    store = MemoryStore()
    options: dict[str, Any] = {"ttl": 10, "clock": clock, "key": HashedKey(20)}
    sync = compose(store, **options)
    asynchronous = compose_async(AsyncMemoryStore.of(store), **options)
    long_key = "k" * 50

    async def scenario() -> None:
        sync.set(long_key, "from sync")
        await asynchronous.set("short", "from async")
        assert await asynchronous.get(long_key) == "from sync"
        assert sync.get("short") == "from async"
        clock.advance(10)
        assert await asynchronous.get(long_key) is MISSING and sync.get("short") is MISSING

    run(scenario())
    assert sorted(store.keys("default")) == sorted(["short", HashedKey(20)("default", long_key)])


def test_a_thousand_coroutines_on_a_cold_key_run_the_creator_once() -> None:
    cache = compose_async(AsyncMemoryStore(), ttl=60)
    calls = 0

    async def create() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)  # let every other coroutine arrive and wait
        return "value"

    async def scenario() -> list[Any]:
        results = await asyncio.gather(*(cache.get_or_create("cold", create) for _ in range(1000)))
        assert isinstance(cache.lock, AsyncioLock) and cache.lock.held_names() == 0
        return results

    assert run(scenario()) == ["value"] * 1000
    assert calls == 1


def test_without_a_lock_the_dogpile_happens() -> None:
    """The check above can fail: with NullLock every coroutine creates."""
    cache = compose_async(AsyncMemoryStore(), lock=AsyncNullLock())
    calls = 0

    async def create() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return calls

    async def scenario() -> None:
        await asyncio.gather(*(cache.get_or_create("cold", create) for _ in range(20)))

    run(scenario())
    assert calls == 20


def test_cancelling_a_waiting_or_a_creating_task_leaves_the_lock_free() -> None:
    lock = AsyncioLock()
    cache = compose_async(AsyncMemoryStore(), lock=lock)

    async def scenario() -> None:
        creating = asyncio.Event()

        async def slow() -> str:
            creating.set()
            await asyncio.sleep(60)
            return "never"

        creator = asyncio.create_task(cache.get_or_create("k", slow))
        await creating.wait()
        waiters = [asyncio.create_task(cache.get_or_create("k", slow)) for _ in range(3)]
        await asyncio.sleep(0.01)  # the waiters queue on the lock
        waiters[1].cancel()  # a waiter
        creator.cancel()  # the creator, inside its creator call
        for task in (creator, waiters[1]):
            with pytest.raises(asyncio.CancelledError):
                await task
        # The lock passed on to a live waiter, which now creates; cancel the rest too.
        await asyncio.sleep(0.01)
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        assert lock.held_names() == 0
        assert await cache.get("k") is MISSING  # nothing was stored
        async with await lock.acquire(_lock_name("k"), timeout=0):
            pass  # free: taken at once
        assert await cache.get_or_create("k", lambda: "made") == "made"

    run(scenario())


def test_lock_timeout_and_stale_while_revalidate() -> None:
    clock = FakeClock()
    lock = AsyncioLock()
    cache = compose_async(
        AsyncMemoryStore(), lock=lock, ttl=10, stale_while_revalidate=30, clock=clock
    )

    async def scenario() -> None:
        held = await lock.acquire(_lock_name("k"))
        with pytest.raises(LockTimeout):
            await cache.evolve(lock_timeout=0.01).get_or_create("k", lambda: 1)
        await held.release()
        assert await cache.get_or_create("k", lambda: "old") == "old"
        clock.advance(15)  # expired, inside the stale window
        assert await cache.get("k") is MISSING
        async with await lock.acquire(_lock_name("k")):  # someone is recreating
            assert await cache.get_or_create("k", lambda: "new") == "old"
        assert await cache.get_or_create("k", lambda: "new") == "new"
        clock.advance(100)  # past the stale window: a plain miss
        assert await cache.get_or_create("k", lambda: "newer") == "newer"

    run(scenario())


def test_creator_errors_propagate_and_store_nothing() -> None:
    cache = compose_async(AsyncMemoryStore())

    async def boom() -> str:
        raise RuntimeError("creator failed")

    async def scenario() -> None:
        with pytest.raises(RuntimeError):
            await cache.get_or_create("k", boom)
        assert await cache.get("k") is MISSING

    run(scenario())


@attrs.frozen(init=False)
class _DownStore(DirectTwin[MemoryStore]):
    """An async store whose server is unreachable (as a network store reports it)."""

    holds_objects = False
    sync: MemoryStore

    def __init__(self) -> None:
        self.__attrs_init__(MemoryStore())

    async def get(self, namespace: str, key: str) -> Entry | None:
        raise StoreUnavailable("redis://127.0.0.1:1/0", "connection refused")

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        raise StoreUnavailable("redis://127.0.0.1:1/0", "connection refused")

    async def keys(self, namespace: str) -> Iterator[str]:
        raise StoreUnavailable("redis://127.0.0.1:1/0", "connection refused")


def test_store_outage_raises_by_default_and_computes_when_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        with pytest.raises(StoreUnavailable, match="127.0.0.1:1"):
            await compose_async(_DownStore()).get_or_create("k", lambda: 1)
        cache = compose_async(_DownStore(), on_store_error="compute")
        with caplog.at_level(logging.WARNING, logger="beaker.cache"):
            assert await cache.get("k") is MISSING
            assert await cache.get_or_create("k", lambda: 42) == 42
            await cache.set("k", 1)
        assert "unavailable" in caplog.text

    run(scenario())


def test_memoize_async_functions_with_the_sync_keys() -> None:
    store = MemoryStore()
    sync = compose(store)
    cache = compose_async(AsyncMemoryStore.of(store))
    calls: list[tuple[Any, ...]] = []

    async def add(a: int, b: int = 0, *, scale: int = 1) -> int:
        calls.append((a, b, scale))
        return (a + b) * scale

    def add_sync(a: int, b: int = 0, *, scale: int = 1) -> int:
        raise AssertionError("the async call stored this entry")

    memo = cache.memoize("part", namespace="ns")(add)
    twin = sync.memoize("part", namespace="ns")(add_sync)

    async def scenario() -> None:
        assert await memo(1, 2) == 3 and await memo(1, b=2) == 3 and await memo(a=1, b=2) == 3
        assert len(calls) == 1
        assert memo.key(1, b=2) == twin.key(1, 2) == "part 1 2"
        assert twin(1, 2) == 3  # the sync twin reads the entry the coroutine stored
        assert await memo(1, 2, scale=3) == 9 and len(calls) == 2
        await memo.invalidate(1, b=2)
        assert await memo(1, 2) == 3 and len(calls) == 3
        assert memo.cache.name == "ns" and isinstance(memo.cache, AsyncCache)
        assert memo.__name__ == "add" and asyncio.iscoroutinefunction(memo)

    run(scenario())
    assert cache.memoize()(add).cache.name == f"{__file__}|add"  # Beaker's namespace


def test_memoize_refuses_a_plain_function() -> None:
    with pytest.raises(ComponentTypeError, match="async def"):
        compose_async(AsyncMemoryStore()).memoize()(lambda: 1)


def test_sync_and_async_parts_go_to_their_own_front() -> None:
    with pytest.raises(ComponentTypeError, match="compose_async"):
        compose(AsyncMemoryStore())
    with pytest.raises(ComponentTypeError, match="AsyncStore"):
        compose_async(MemoryStore())  # type: ignore[arg-type]
    with pytest.raises(ComponentTypeError, match="AsyncLock"):
        compose_async(AsyncMemoryStore(), lock=NullLock())  # type: ignore[arg-type]
    with pytest.raises(ComponentTypeError, match="compose_async"):
        compose(MemoryStore(), lock=AsyncioLock())  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        compose_async(AsyncMemoryStore(), ttl=1, expiry=object())  # type: ignore[arg-type]


def test_a_memoized_miss_reads_the_store_twice_and_a_hit_once() -> None:
    from tests.test_caching import CountingStore

    counting = CountingStore(MemoryStore())
    cache = compose_async(AsyncMemoryStore.of(counting))  # type: ignore[arg-type]
    calls: list[int] = []

    @cache.memoize(namespace="m")
    async def double(n: int) -> int:
        calls.append(n)
        return 2 * n

    async def scenario() -> None:
        assert await double(3) == 6 and calls == [3]
        assert len(counting.reads) == 2  # the first read, then the read under the lock
        assert await double(3) == 6 and calls == [3] and len(counting.reads) == 3

    run(scenario())
