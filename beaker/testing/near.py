"""Conformance checks of a near tier (:class:`~beaker.stores.NearCache`) over a store with
server-assisted invalidation, on either front (the store maker decides: a
:class:`~beaker.stores.base.Store` for ``compose``, an :class:`~beaker.stores.base.AsyncStore`
for ``compose_async``): after another process writes or deletes a key, the tier's next read
once the invalidation arrived returns what that process wrote (:func:`check_near_coherence`);
after another process invalidates a tag or the namespace, the tier's entries are misses once
the invalidation arrived (:func:`check_near_invalidation`). Namespaces and tags are unique per
call, so a shared server is safe. Call them outside an event loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from beaker.async_caching import compose_async
from beaker.caching import compose
from beaker.entry import MISSING
from beaker.stores.base import is_async_store
from beaker.stores.near import NearCache
from beaker.testing.invalidation import Awaited, Maker, closed

#: Seconds to wait for the tracking connection, or for an invalidation to arrive.
PATIENCE = 10.0


def wait_for(condition: Callable[[], bool], what: str, patience: float = PATIENCE) -> None:
    """Poll ``condition()`` every millisecond until it holds.

    Raises:
        AssertionError: it did not hold within ``patience`` seconds (the message names
            ``what``).
    """
    deadline = time.monotonic() + patience
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {patience} s"
        time.sleep(0.001)


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """:func:`wait_for` of an awaited ``condition()``, sleeping in the event loop."""
    deadline = time.monotonic() + PATIENCE
    while not await condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {PATIENCE} s"
        await asyncio.sleep(0.001)


def _cache(make_store: Maker, namespace: str, **options: Any) -> tuple[Any, Any]:
    """A cache with a near tier on a new store of ``make_store`` (its methods awaited,
    whatever the front), and the tier."""
    store: Any = make_store()
    near = NearCache(max_entries=100)
    if is_async_store(store):
        cache = compose_async(store, near=near, namespace=namespace, **options)
        return cache, cache.store
    sync = compose(store, near=near, namespace=namespace, **options)
    return Awaited(sync), sync.store


async def _write(make_store: Maker, namespace: str, value: Any) -> None:
    cache, near = _cache(make_store, namespace)
    await cache.get("k")  # this process has a near tier (and a copy) too
    if value is MISSING:
        await cache.delete("k")
    else:
        await cache.set("k", value)
    assert await cache.get("k") == value, "the writing process does not read its own write"
    await closed(near)


def _write_in_child(make_store: Maker, namespace: str, value: Any) -> None:
    asyncio.run(_write(make_store, namespace, value))


def _in_child(target: Callable[..., None], *args: Any) -> None:
    """Run ``target(*args)`` in a spawned process.

    Raises:
        AssertionError: it failed.
    """
    child = multiprocessing.get_context("spawn").Process(target=target, args=args)
    child.start()
    child.join(60)
    assert child.exitcode == 0, f"the other process failed ({child.exitcode})"


async def _coherence(make_store: Maker, make_other: Maker) -> None:
    namespace = f"near-{secrets.token_hex(4)}"
    reader, near = _cache(make_store, namespace)
    try:
        wait_for(lambda: near.coherent, "the near tier's invalidation channel")
        for value in ("one", "two", MISSING):
            await asyncio.to_thread(_in_child, _write_in_child, make_other, namespace, value)
            wait_for(lambda: len(near) == 0, "the invalidation of a written key")
            got = await reader.get("k")
            assert got == value, f"after another process wrote {value!r}, read {got!r}"
            if value is not MISSING:  # once the write's own message passed, reads are copies

                async def kept(value: Any = value) -> bool:
                    return bool(await reader.get("k") == value and len(near) == 1)

                await until(kept, "a kept copy")
    finally:
        await closed(near)


def check_near_coherence(make_store: Maker, make_other: Maker | None = None) -> None:
    """Another process, with a near tier of its own, writes, then deletes, a key this
    process's near tier holds; each time, once the invalidation arrived (the tier dropped the
    key), the next read here returns what that process wrote.

    Args:
        make_store: builds the remote store here (picklable, e.g.
            ``functools.partial(RedisStore, url=...)``; an async store for the async front).
        make_other: builds it in the spawned process; default ``make_store``.

    Raises:
        AssertionError: the tier served a stale value, or never became coherent.
    """
    asyncio.run(_coherence(make_store, make_store if make_other is None else make_other))


async def _invalidate(make_store: Maker, namespace: str, tag: str) -> None:
    cache, near = _cache(make_store, namespace, invalidation=True)
    if tag:
        await cache.invalidate_tags(tag)
    else:
        await cache.invalidate(hard=True)
    await closed(near)


def _invalidate_in_child(make_store: Maker, namespace: str, tag: str) -> None:
    asyncio.run(_invalidate(make_store, namespace, tag))


async def _invalidation(make_store: Maker, make_other: Maker) -> None:
    namespace, tag = f"near-{secrets.token_hex(4)}", f"t-{secrets.token_hex(4)}"
    reader, near = _cache(make_store, namespace, invalidation=True)

    async def copied() -> bool:
        got = (await reader.get("tagged"), await reader.get("plain"))
        return got == ("one", "two") and len(near) > 2

    async def dropped() -> bool:
        return await reader.get("tagged") is MISSING

    try:
        wait_for(lambda: near.coherent, "the near tier's invalidation channel")
        await reader.set("tagged", "one", tags=(tag,))
        await reader.set("plain", "two")
        await until(copied, "copies of the entries and their tokens")
        for invalidated in (tag, ""):
            await asyncio.to_thread(_in_child, _invalidate_in_child, make_other, namespace, invalidated)
            await until(dropped, "the invalidation's arrival")
            if invalidated:
                assert await reader.get("plain") == "two", "an untagged entry was invalidated"
        assert await reader.get("plain") is MISSING, "invalidate() did not reach the near tier"
    finally:
        await closed(near)


def check_near_invalidation(make_store: Maker, make_other: Maker | None = None) -> None:
    """A cache with a near tier and ``invalidation=True`` holds a tagged and an untagged
    entry (served from the tier); another process, with a tier of its own, invalidates the
    tag, then the namespace; each time the entries concerned become misses here (the new
    token reached the tier), and the others stay hits.

    Args:
        make_store, make_other: as :func:`check_near_coherence`.

    Raises:
        AssertionError: the tier kept serving an invalidated entry, or lost another.
    """
    asyncio.run(_invalidation(make_store, make_store if make_other is None else make_other))
