"""Conformance checks of namespace and tag invalidation (``compose(..., invalidation=True)``
and ``compose_async(..., invalidation=True)``) for any store: :func:`check_invalidation` and
:func:`check_async_invalidation` in one process (one scenario, run on either front), and
:func:`check_invalidation_across_processes`, where another process invalidates and writes, on
the sync front, the async front, or one of each (a sync and an async process sharing a store).

Namespaces and tags are unique per call, so a shared server is safe.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from beaker.async_caching import AsyncCache, compose_async
from beaker.caching import Cache, compose
from beaker.entry import MISSING
from beaker.stores.base import AsyncStore, Store, is_async_store


def served_while_recreating(cache: Cache, key: str, made: Any) -> Any:
    """What ``cache.get_or_create(key, ...)`` returns while another thread is inside its own
    ``get_or_create(key, creator)``, ``creator`` blocked until then (it returns ``made``).

    Raises:
        AssertionError: the other thread's ``get_or_create`` did not run its creator.
    """
    entered, release = threading.Event(), threading.Event()

    def creator() -> Any:
        entered.set()
        release.wait(10)
        return made

    worker = threading.Thread(target=cache.get_or_create, args=(key, creator))
    worker.start()
    try:
        assert entered.wait(10), f"get_or_create({key!r}) did not run its creator"
        return cache.get_or_create(key, lambda: AssertionError("a second creator ran"))
    finally:
        release.set()
        worker.join()


async def served_while_recreating_async(cache: AsyncCache, key: str, made: Any) -> Any:
    """As :func:`served_while_recreating`, with another task of the event loop inside
    ``await cache.get_or_create(key, creator)``."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def creator() -> Any:
        entered.set()
        await asyncio.wait_for(release.wait(), 10)
        return made

    worker = asyncio.ensure_future(cache.get_or_create(key, creator))
    try:
        await asyncio.wait_for(entered.wait(), 10)
        return await cache.get_or_create(key, lambda: AssertionError("a second creator ran"))
    finally:
        release.set()
        await worker


class Awaited:
    """A sync :class:`~beaker.caching.Cache` whose methods are awaited (they return at
    once), so one scenario runs on either front; ``cache`` is the cache."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.cache, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


async def closed(store: Any) -> None:
    """Close ``store``, sync or async."""
    done = store.close()
    if done is not None:
        await done


def _names(run: str) -> tuple[str, str, str]:
    """The two namespaces and the tag of one run."""
    return f"inv-{run}-one", f"inv-{run}-two", f"t-{run}"


async def _scenario(one: Any, two: Any, served: Callable[[str, Any], Awaitable[Any]]) -> None:
    """Hard and soft invalidation, tags across namespaces, on two caches of one store (their
    methods awaited); ``served(key, made)`` is what a ``get_or_create`` of ``one`` returns
    while another worker recreates ``key``."""
    tag, other = f"t-{secrets.token_hex(4)}", f"u-{secrets.token_hex(4)}"
    await one.set("plain", 1)
    await one.set("tagged", 2, tags=(tag,))
    await one.set("both", 3, tags=(tag, other))
    await two.set("tagged", 4, tags=(tag,))
    await two.set("untagged", 5)
    got = await one.get_many(["plain", "tagged", "both"])
    assert got == {"plain": 1, "tagged": 2, "both": 3}, f"get_many read {got!r}"

    await one.invalidate_tags(tag)
    assert await one.get("tagged") is MISSING, "a tagged entry survived invalidate_tags"
    assert await one.get("both") is MISSING, "an entry with two tags survived one's invalidation"
    assert await two.get("tagged") is MISSING, "invalidate_tags did not reach another namespace"
    assert await one.get_many(["tagged", "both"]) == {}, "get_many read invalidated entries"
    assert await one.get("plain") == 1, "an untagged entry was lost"
    assert await two.get("untagged") == 5, "an untagged entry was lost"
    await one.set("tagged", 6, tags=(tag,))
    assert await one.get("tagged") == 6, "a write after invalidate_tags is not seen"

    await two.invalidate(hard=True)
    assert await two.get("untagged") is MISSING, "invalidate(hard=True) left an entry fresh"
    assert await one.get("plain") == 1, "invalidate() of one namespace reached another"

    await one.invalidate(hard=False)
    assert await one.get("plain") is MISSING, "a softly invalidated entry is fresh for get()"
    served_value = await served("plain", 10)
    assert served_value == 1, f"a soft invalidation did not serve the stale value: {served_value!r}"
    assert await one.get("plain") == 10, "the recreated value was not stored"
    await one.invalidate(hard=True)
    assert await one.get_or_create("plain", lambda: 11) == 11, "a hard invalidation served stale"


def check_invalidation(store: Store) -> None:
    """Hard and soft namespace invalidation, tags across namespaces, batch reads, and that
    nothing else is touched, on the sync front (``store`` is left open). Call it outside an
    event loop.

    Raises:
        AssertionError: the store breaks the contract (the message says how).
    """
    first, second, _ = _names(secrets.token_hex(4))
    one = compose(store, invalidation=True, namespace=first)

    async def served(key: str, made: Any) -> Any:
        return served_while_recreating(one, key, made)

    asyncio.run(_scenario(Awaited(one), Awaited(one.namespace(second)), served))


async def check_async_invalidation(store: AsyncStore) -> None:
    """:func:`check_invalidation` on the async front: ``compose_async(store,
    invalidation=True)`` (``store`` is left open).

    Raises:
        AssertionError: the store breaks the contract (the message says how).
    """
    first, second, _ = _names(secrets.token_hex(4))
    one = compose_async(store, invalidation=True, namespace=first)

    async def served(key: str, made: Any) -> Any:
        return await served_while_recreating_async(one, key, made)

    await _scenario(one, one.namespace(second), served)


#: ``() -> Store`` or ``() -> AsyncStore``: what a process of the cross-process check builds
#: its caches on (the front follows the store).
Maker = Callable[[], Store] | Callable[[], AsyncStore]


def _caches(store: Any, run: str) -> tuple[Any, Any]:
    """The two caches of a run on ``store`` (either front), their methods awaited."""
    first, second, _ = _names(run)
    if not is_async_store(store):
        one: Any = Awaited(compose(store, invalidation=True, namespace=first))
        return one, Awaited(one.cache.namespace(second))
    cache = compose_async(store, invalidation=True, namespace=first)
    return cache, cache.namespace(second)


async def _invalidate(make_store: Maker, run: str) -> None:
    store: Any = make_store()
    one, two = _caches(store, run)
    tag = _names(run)[2]
    await one.invalidate_tags(tag)
    await two.invalidate(hard=True)
    await one.set("from child", "child", tags=(tag,))
    await closed(store)


def _invalidate_in_child(make_store: Maker, run: str) -> None:
    asyncio.run(_invalidate(make_store, run))


async def _across(make_store: Maker, make_other: Maker, run: str) -> None:
    store: Any = make_store()
    tag = _names(run)[2]
    try:
        one, two = _caches(store, run)
        await one.set("tagged", 1, tags=(tag,))
        await one.set("plain", 2)
        await two.set("plain", 3)
        assert (await one.get("tagged"), await two.get("plain")) == (1, 3)
        child = multiprocessing.get_context("spawn").Process(
            target=_invalidate_in_child, args=(make_other, run)
        )
        child.start()
        await asyncio.to_thread(child.join, 60)
        assert child.exitcode == 0, f"the invalidating process failed ({child.exitcode})"
        assert await one.get("tagged") is MISSING, "another process's invalidate_tags was not seen"
        assert await two.get("plain") is MISSING, "another process's invalidate() was not seen"
        assert await one.get("plain") == 2, "another namespace's invalidation reached this one"
        assert await one.get("from child") == "child", "another process's tagged write was lost"
    finally:
        await closed(store)


def check_invalidation_across_processes(make_store: Maker, make_other: Maker | None = None) -> None:
    """Entries this process wrote are misses after another process invalidated their tag or
    their namespace, and what that process wrote afterwards is read here. Call it outside an
    event loop.

    Args:
        make_store: builds the store of this process (a :class:`~beaker.stores.base.Store`
            for the sync front or an :class:`~beaker.stores.base.AsyncStore` for the async
            one).
        make_other: builds the store of the other, spawned, process (picklable, e.g.
            ``functools.partial(AsyncRedisStore, url=...)``); default ``make_store``. A sync
            maker here and an async one there checks that the two fronts see each other's
            invalidations.

    Raises:
        AssertionError: the store breaks the contract.
    """
    other = make_store if make_other is None else make_other
    asyncio.run(_across(make_store, other, secrets.token_hex(4)))
