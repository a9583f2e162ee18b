"""Conformance checks of a near tier (:class:`~beaker.stores.NearCache`) over a store with
server-assisted invalidation: after another process writes or deletes a key, the tier's next
read once the invalidation arrived returns what that process wrote
(:func:`check_near_coherence`); after another process invalidates a tag or the namespace, the
tier's entries are misses once the invalidation arrived (:func:`check_near_invalidation`).
Namespaces and tags are unique per call, so a shared server is safe.
"""

from __future__ import annotations

import multiprocessing
import secrets
import time
from collections.abc import Callable
from typing import Any

from beaker.caching import compose
from beaker.entry import MISSING
from beaker.stores.base import Store
from beaker.stores.near import NearCache

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


def _write_in_child(make_store: Callable[[], Store], namespace: str, value: Any) -> None:
    cache = compose(make_store(), near=NearCache(max_entries=100), namespace=namespace)
    cache.get("k")  # this process has a near tier (and a copy) too
    if value is MISSING:
        cache.delete("k")
    else:
        cache.set("k", value)
    assert cache.get("k") == value, "the writing process does not read its own write"
    cache.store.close()


def check_near_coherence(make_store: Callable[[], Store]) -> None:
    """Another process, with a near tier of its own, writes, then deletes, a key this
    process's near tier holds; each time, once the invalidation arrived (the tier dropped the
    key), the next read here returns what that process wrote.

    Args:
        make_store: builds the remote store, here and in a spawned child (picklable, e.g.
            ``functools.partial(RedisStore, url=...)``).

    Raises:
        AssertionError: the tier served a stale value, or never became coherent.
    """
    namespace = f"near-{secrets.token_hex(4)}"
    reader = compose(make_store(), near=NearCache(max_entries=100), namespace=namespace)
    near: Any = reader.store
    try:
        wait_for(lambda: near.coherent, "the near tier's invalidation channel")
        spawn = multiprocessing.get_context("spawn")
        for value in ("one", "two", MISSING):
            child = spawn.Process(target=_write_in_child, args=(make_store, namespace, value))
            child.start()
            child.join(60)
            assert child.exitcode == 0, f"the writing process failed ({child.exitcode})"
            wait_for(lambda: len(near) == 0, "the invalidation of a written key")
            got = reader.get("k")
            assert got == value, f"after another process wrote {value!r}, read {got!r}"
            if value is not MISSING:  # once the write's own message passed, reads are copies

                def kept(value: Any = value) -> bool:
                    return bool(reader.get("k") == value and len(near) == 1)

                wait_for(kept, "a kept copy")
    finally:
        near.close()


def _invalidate_in_child(make_store: Callable[[], Store], namespace: str, tag: str) -> None:
    cache = compose(make_store(), invalidation=True, namespace=namespace)
    if tag:
        cache.invalidate_tags(tag)
    else:
        cache.invalidate(hard=True)
    cache.store.close()


def check_near_invalidation(make_store: Callable[[], Store]) -> None:
    """A cache with a near tier and ``invalidation=True`` holds a tagged and an untagged
    entry (served from the tier); another process, without a tier, invalidates the tag, then
    the namespace; each time the entries concerned become misses here (the invalidation of
    the token reached the tier), and the others stay hits.

    Args:
        make_store: as :func:`check_near_coherence`.

    Raises:
        AssertionError: the tier kept serving an invalidated entry, or lost another.
    """
    namespace, tag = f"near-{secrets.token_hex(4)}", f"t-{secrets.token_hex(4)}"
    reader = compose(
        make_store(), near=NearCache(max_entries=100), invalidation=True, namespace=namespace
    )
    near: Any = reader.store
    try:
        wait_for(lambda: near.coherent, "the near tier's invalidation channel")
        reader.set("tagged", "one", tags=(tag,))
        reader.set("plain", "two")
        wait_for(
            lambda: (reader.get("tagged"), reader.get("plain")) == ("one", "two") and len(near) > 2,
            "copies of the entries and their tokens",
        )
        spawn = multiprocessing.get_context("spawn")
        for invalidated, kept in ((tag, "plain"), ("", "")):
            child = spawn.Process(
                target=_invalidate_in_child, args=(make_store, namespace, invalidated)
            )
            child.start()
            child.join(60)
            assert child.exitcode == 0, f"the invalidating process failed ({child.exitcode})"
            wait_for(lambda: reader.get("tagged") is MISSING, "the invalidation's arrival")
            if kept:
                assert reader.get(kept) == "two", "an entry without the tag was invalidated"
        assert reader.get("plain") is MISSING, "invalidate() did not reach the near tier"
    finally:
        near.close()
