"""Namespace and tag invalidation on the local stores: the conformance checks of
beaker.testing.invalidation (across processes for the on-disk stores), the stamp format, and
the errors of a cache composed without invalidation."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from beaker import MISSING, compose
from beaker.async_caching import AsyncCache
from beaker.errors import ConfigError
from beaker.stores import AsyncMemoryStore, DBMStore, FileStore, MemoryStore
from beaker.stores.stamps import Stamped, Stamps, pack_stamps, split
from beaker.testing.invalidation import check_invalidation, check_invalidation_across_processes


def test_memory_store() -> None:
    check_invalidation(MemoryStore())


@pytest.mark.parametrize("kind", [FileStore, DBMStore])
def test_on_disk_stores(kind: type, tmp_path: Path) -> None:
    store = kind(str(tmp_path))
    check_invalidation(store)
    store.close()
    check_invalidation_across_processes(functools.partial(kind, str(tmp_path)))


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
    with pytest.raises(ConfigError):
        AsyncCache(store=AsyncMemoryStore(), invalidation=True)  # not on the async front yet


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
