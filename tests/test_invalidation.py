"""Namespace and tag invalidation on the local stores: the conformance checks of
beaker.testing.invalidation on both fronts (across processes for the on-disk stores, a sync
process and an async one too), with and without a near tier, the stamp format, and the errors
of a cache composed without invalidation."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest

from beaker import MISSING, compose, compose_async
from beaker.errors import ConfigError
from beaker.stores import AsyncFileStore, AsyncMemoryStore, DBMStore, FileStore, MemoryStore
from beaker.stores.near import NearCache
from beaker.stores.stamps import Stamped, Stamps, pack_stamps, split
from beaker.testing.invalidation import (
    check_async_invalidation,
    check_invalidation,
    check_invalidation_across_processes,
)


def test_memory_store() -> None:
    check_invalidation(MemoryStore())


@pytest.mark.parametrize("kind", [FileStore, DBMStore])
def test_on_disk_stores(kind: type, tmp_path: Path) -> None:
    store = kind(str(tmp_path))
    check_invalidation(store)
    store.close()
    check_invalidation_across_processes(functools.partial(kind, str(tmp_path)))


def test_async_front() -> None:
    asyncio.run(check_async_invalidation(AsyncMemoryStore()))


def test_a_sync_and_an_async_process_see_each_others_invalidations(tmp_path: Path) -> None:
    sync = functools.partial(FileStore, str(tmp_path))
    asynchronous = functools.partial(AsyncFileStore, str(tmp_path))
    asyncio.run(check_async_invalidation(asynchronous()))
    check_invalidation_across_processes(sync, asynchronous)
    check_invalidation_across_processes(asynchronous, sync)


def test_with_a_near_tier(tmp_path: Path) -> None:
    # In one process: the tier drops its own process's writes and invalidations at once,
    # so the check holds without an invalidation channel (files have none).
    check_invalidation(NearCache().over(FileStore(str(tmp_path))))
    plain = compose(FileStore(str(tmp_path)), invalidation=True, namespace="n")
    near = compose(FileStore(str(tmp_path)), invalidation=True, namespace="n", near=NearCache())
    near.set("k", "v", tags=("t",))
    assert plain.get("k") == "v"  # the stamps are in the record format of a cache without one
    plain.invalidate_tags("t")
    assert plain.get("k") is MISSING


def test_stamps_round_trip_and_bad_headers() -> None:
    stamps = Stamps("s", "h", (("user:42", "x"), ("ünï", "y")))
    assert split(pack_stamps(stamps, b"payload")) == (stamps, b"payload")
    assert split(Stamped(stamps, [1])) == (stamps, [1])
    assert split(b"plain bytes") == (None, b"plain bytes")
    truncated = pack_stamps(stamps, b"")[:-3]
    assert split(truncated) == (None, truncated)


def test_entries_without_stamps_are_misses(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    compose(store, namespace="n").set("k", 1)
    assert compose(store, namespace="n", invalidation=True).get("k") is MISSING
    assert "has no stamps" in caplog.text


def test_tags_and_invalidate_need_invalidation() -> None:
    cache = compose(MemoryStore())
    with pytest.raises(ConfigError):
        cache.set("k", 1, tags=("t",))
    with pytest.raises(ConfigError):
        cache.invalidate()
    with pytest.raises(ConfigError):
        cache.invalidate_tags("t")
    async_cache = compose_async(AsyncMemoryStore())
    with pytest.raises(ConfigError):
        asyncio.run(async_cache.set("k", 1, tags=("t",)))
    with pytest.raises(ConfigError):
        asyncio.run(async_cache.invalidate())


def test_memoize_tags() -> None:
    cache = compose(MemoryStore(), invalidation=True)
    calls: list[int] = []

    @cache.memoize(tags=("users",))
    def user(number: int) -> str:
        calls.append(number)
        return f"user {number}"

    user(1)
    user(1)
    cache.invalidate_tags("users")
    user(1)
    assert calls == [1, 1]


def test_async_memoize_tags() -> None:
    cache = compose_async(AsyncMemoryStore(), invalidation=True)
    calls: list[int] = []

    @cache.memoize(tags=("users",))
    async def user(number: int) -> str:
        calls.append(number)
        return f"user {number}"

    async def run() -> None:
        await user(1)
        await user(1)
        await cache.invalidate_tags("users")
        await user(1)
        await cache.set_many({"a": 1}, tags=("users",))
        assert await cache.get_many(["a"]) == {"a": 1}
        await cache.invalidate_tags("users")
        assert await cache.get_many(["a"]) == {}

    asyncio.run(run())
    assert calls == [1, 1]
