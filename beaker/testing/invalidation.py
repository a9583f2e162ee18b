"""Conformance checks of namespace and tag invalidation (``compose(..., invalidation=True)``)
for any store: :func:`check_invalidation` in one process, and
:func:`check_invalidation_across_processes`, where another process invalidates and writes.

Namespaces and tags are unique per call, so a shared server is safe.
"""

from __future__ import annotations

import multiprocessing
import secrets
import threading
from collections.abc import Callable
from typing import Any

from beaker.caching import Cache, compose
from beaker.entry import MISSING
from beaker.stores.base import Store


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


def _caches(store: Store, run: str) -> tuple[Cache, Cache]:
    one = compose(store, invalidation=True, namespace=f"inv-{run}-one")
    return one, one.namespace(f"inv-{run}-two")


def check_invalidation(store: Store) -> None:
    """Hard and soft namespace invalidation, tags across namespaces, and that nothing else is
    touched (``store`` is left open).

    Raises:
        AssertionError: the store breaks the contract (the message says how).
    """
    run = secrets.token_hex(4)
    one, two = _caches(store, run)
    tag, other = f"t-{run}", f"u-{run}"
    one.set("plain", 1)
    one.set("tagged", 2, tags=(tag,))
    one.set("both", 3, tags=(tag, other))
    two.set("tagged", 4, tags=(tag,))
    two.set("untagged", 5)
    assert one.get_many(["plain", "tagged", "both"]) == {"plain": 1, "tagged": 2, "both": 3}

    one.invalidate_tags(tag)
    assert one.get("tagged") is MISSING, "a tagged entry survived invalidate_tags"
    assert one.get("both") is MISSING, "an entry with two tags survived one's invalidation"
    assert two.get("tagged") is MISSING, "invalidate_tags did not reach another namespace"
    assert one.get("plain") == 1 and two.get("untagged") == 5, "untagged entries were lost"
    one.set("tagged", 6, tags=(tag,))
    assert one.get("tagged") == 6, "a write after invalidate_tags is not seen"

    two.invalidate(hard=True)
    assert two.get("untagged") is MISSING, "invalidate(hard=True) left an entry fresh"
    assert one.get("plain") == 1, "invalidate() of one namespace reached another"

    one.invalidate(hard=False)
    assert one.get("plain") is MISSING, "a softly invalidated entry is fresh for get()"
    served = served_while_recreating(one, "plain", 10)
    assert served == 1, f"a soft invalidation did not serve the stale value: {served!r}"
    assert one.get("plain") == 10, "the recreated value was not stored"
    one.invalidate(hard=True)
    assert one.get_or_create("plain", lambda: 11) == 11, "a hard invalidation served stale"


def _invalidate_in_child(make_store: Callable[[], Store], run: str, tag: str) -> None:
    store = make_store()
    one, two = _caches(store, run)
    one.invalidate_tags(tag)
    two.invalidate(hard=True)
    one.set("from child", "child", tags=(tag,))
    store.close()


def check_invalidation_across_processes(make_store: Callable[[], Store]) -> None:
    """Entries this process wrote are misses after another process invalidated their tag or
    their namespace, and what that process wrote afterwards is read here.

    Args:
        make_store: builds the store (in this process and in a spawned child: picklable,
            e.g. ``functools.partial(RedisStore, url=...)``).

    Raises:
        AssertionError: the store breaks the contract.
    """
    run = secrets.token_hex(4)
    tag = f"t-{run}"
    store = make_store()
    try:
        one, two = _caches(store, run)
        one.set("tagged", 1, tags=(tag,))
        one.set("plain", 2)
        two.set("plain", 3)
        assert (one.get("tagged"), two.get("plain")) == (1, 3)
        child = multiprocessing.get_context("spawn").Process(
            target=_invalidate_in_child, args=(make_store, run, tag)
        )
        child.start()
        child.join(60)
        assert child.exitcode == 0, f"the invalidating process failed ({child.exitcode})"
        assert one.get("tagged") is MISSING, "another process's invalidate_tags was not seen"
        assert two.get("plain") is MISSING, "another process's invalidate() was not seen"
        assert one.get("plain") == 2, "another namespace's invalidation reached this one"
        assert one.get("from child") == "child", "another process's tagged write was not seen"
    finally:
        store.close()
