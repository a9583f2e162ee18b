"""The composed Cache: reads, writes, expiry, dogpile protection, memoize, bad input."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from beaker import MISSING, compose
from beaker.entry import Entry
from beaker.errors import (
    ComponentTypeError,
    ConfigError,
    LockTimeout,
    SerializationError,
    StoreUnavailable,
)
from beaker.locks import NullLock, ThreadLock
from beaker.policies import TTL, HashedKey
from beaker.serializers import JSONSerializer
from beaker.stores import DBMStore, FileStore, MemoryStore
from beaker.testing import FakeClock


@attrs.frozen
class BytesMemoryStore(MemoryStore):
    """A memory store that, like every out-of-process store, only takes bytes."""

    holds_objects: ClassVar[bool] = False

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        assert isinstance(entry.value, bytes)
        super().set(namespace, key, entry)


def test_set_get_delete_and_none_is_a_value() -> None:
    cache = compose(MemoryStore())
    assert cache.get("k") is MISSING
    assert cache.get("k", "fallback") == "fallback"
    cache.set("k", None)
    assert cache.get("k") is None
    assert "k" in cache
    cache.delete("k")
    assert cache.get("k") is MISSING
    cache.delete("never-there")


def test_ttl_expiry_follows_the_injected_clock() -> None:
    clock = FakeClock()
    cache = compose(MemoryStore(), ttl=10, clock=clock)
    cache.set("k", "v")
    cache.set("short", "v", ttl=1)
    clock.advance(5)
    assert cache.get("k") == "v" and cache.get("short") is MISSING
    clock.advance(5)
    assert cache.get("k") is MISSING


def test_namespaces_are_separate_and_clear_is_local() -> None:
    base = compose(MemoryStore())
    one, two = base.namespace("one"), base.namespace("two")
    one.set("k", 1)
    two.set("k", 2)
    assert (one.get("k"), two.get("k")) == (1, 2)
    one.clear()
    assert one.get("k") is MISSING and two.get("k") == 2


@given(st.recursive(st.none() | st.integers() | st.text(), lambda c: st.lists(c, max_size=3)))
def test_byte_stores_round_trip_through_pickle(value: Any) -> None:
    cache = compose(BytesMemoryStore())
    cache.set("k", value)
    assert cache.get("k") == value


def test_unpicklable_value_names_the_key() -> None:
    cache = compose(BytesMemoryStore())
    with pytest.raises(SerializationError) as info:
        cache.set("the-key", threading.Lock())
    assert info.value.key == "the-key" and "the-key" in str(info.value)


def test_json_serializer_refuses_a_silent_type_change() -> None:
    cache = compose(BytesMemoryStore(), serializer=JSONSerializer())
    cache.set("ok", {"a": [1, 2.5, None, True, "x"]})
    assert cache.get("ok") == {"a": [1, 2.5, None, True, "x"]}
    with pytest.raises(SerializationError, match=r"tuple-key.*tuple"):
        cache.set("tuple-key", {"a": (1, 2)})


def test_corrupt_entry_is_a_miss_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    store = BytesMemoryStore()
    cache = compose(store)
    store.set("default", "k", Entry(b"\x80\x05not a pickle", time.time()))
    with caplog.at_level(logging.WARNING, logger="beaker.cache"):
        assert cache.get("k") is MISSING
        assert cache.get_or_create("k", lambda: "fresh") == "fresh"
    assert "unreadable" in caplog.text
    assert cache.get("k") == "fresh"


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"lock": "thread"}, "lock"),
        ({"expiry": 60}, "expiry"),
        ({"key": "hashed"}, "key"),
        ({"serializer": "json"}, "serializer"),
        ({"signer": b"secret"}, "signer"),
    ],
)
def test_wrong_component_types_fail_at_construction(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ComponentTypeError) as info:
        compose(MemoryStore(), **kwargs)
    assert info.value.argument == argument


def test_store_must_be_a_store() -> None:
    with pytest.raises(ComponentTypeError, match="store"):
        compose({})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"lock_timeout": -1}, {"stale_while_revalidate": "5"}, {"ttl": 5, "expiry": TTL(5)}]
)
def test_bad_numbers_fail_at_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        compose(MemoryStore(), **kwargs)


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="seconds"):
        compose(MemoryStore(), ttl=0)


def test_cache_is_immutable() -> None:
    cache = compose(MemoryStore())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cache.name = "other"  # type: ignore[misc]
    assert cache.evolve(name="other").name == "other" and cache.name == "default"


def test_eight_threads_on_a_cold_key_run_the_creator_once() -> None:
    cache = compose(MemoryStore(), lock=ThreadLock())
    calls: list[int] = []
    start = threading.Barrier(8)
    results: list[Any] = []

    def creator() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "made"

    def worker() -> None:
        start.wait()
        results.append(cache.get_or_create("cold", creator))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert results == ["made"] * 8


def test_without_a_lock_the_dogpile_happens() -> None:
    """The control for the test above: with NullLock every thread creates."""
    cache = compose(MemoryStore(), lock=NullLock())
    calls: list[int] = []
    start, inside = threading.Barrier(4), threading.Barrier(4, timeout=60)

    def creator() -> str:
        calls.append(1)
        inside.wait()  # no value is stored before every thread is in its creator
        return "made"

    def worker() -> None:
        start.wait()
        cache.get_or_create("cold", creator)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 4


def test_creator_errors_propagate_and_store_nothing() -> None:
    cache = compose(MemoryStore())

    def boom() -> str:
        raise RuntimeError("creator failed")

    with pytest.raises(RuntimeError):
        cache.get_or_create("k", boom)
    assert cache.get("k") is MISSING
    assert cache.get_or_create("k", lambda: 1) == 1


def test_lock_timeout_while_another_worker_creates() -> None:
    lock = ThreadLock()
    cache = compose(MemoryStore(), lock=lock, lock_timeout=0.05)
    held = lock.acquire(f"{len('default')}:default:k")
    try:
        with pytest.raises(LockTimeout):
            cache.get_or_create("k", lambda: 1)
    finally:
        held.release()


def test_stale_while_revalidate_serves_the_old_value_during_recreation() -> None:
    clock = FakeClock()
    lock = ThreadLock()
    cache = compose(MemoryStore(), lock=lock, ttl=10, stale_while_revalidate=30, clock=clock)
    cache.get_or_create("k", lambda: "old")
    clock.advance(15)  # expired, inside the stale window
    assert cache.get("k") is MISSING
    with lock.acquire(f"{len('default')}:default:k"):  # someone is recreating
        assert cache.get_or_create("k", lambda: "new") == "old"
    assert cache.get_or_create("k", lambda: "new") == "new"
    clock.advance(100)  # past the stale window: a plain miss
    assert cache.get_or_create("k", lambda: "newer") == "newer"


@attrs.frozen
class DownStore(MemoryStore):
    """A store whose server is unreachable (as a network store reports it)."""

    def get(self, namespace: str, key: str) -> Entry | None:
        raise StoreUnavailable("redis://127.0.0.1:1/0", "connection refused")

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        raise StoreUnavailable("redis://127.0.0.1:1/0", "connection refused")

    def keys(self, namespace: str) -> Iterator[str]:
        raise StoreUnavailable("redis://127.0.0.1:1/0", "connection refused")


def test_store_outage_raises_by_default_and_computes_when_asked() -> None:
    with pytest.raises(StoreUnavailable, match="127.0.0.1:1"):
        compose(DownStore()).get_or_create("k", lambda: 1)
    cache = compose(DownStore(), on_store_error="compute")
    assert cache.get("k") is MISSING
    assert cache.get_or_create("k", lambda: 42) == 42
    cache.set("k", 1)


def test_memoize_keys_invalidate_and_kwargs() -> None:
    cache = compose(MemoryStore())
    calls: list[tuple[Any, ...]] = []

    @cache.memoize("part", namespace="ns")
    def add(a: int, b: int = 0, *, scale: int = 1) -> int:
        calls.append((a, b, scale))
        return (a + b) * scale

    assert add(1, 2) == 3 and add(1, b=2) == 3 and add(a=1, b=2) == 3
    assert len(calls) == 1
    assert add.key(1, b=2) == "part 1 2"
    assert add.key(1, 2, scale=3) == "part 1 2 scale:3"
    assert add(1, 2, scale=3) == 9 and len(calls) == 2
    add.invalidate(1, b=2)
    assert add(1, 2) == 3 and len(calls) == 3
    assert add.cache.name == "ns"


def test_memoize_skips_self_and_defaults_to_beakers_namespace() -> None:
    cache = compose(MemoryStore())

    class Thing:
        def __init__(self, n: int) -> None:
            self.n = n

        @cache.memoize()
        def double(self, x: int) -> int:
            return x * 2 + self.n

    assert Thing(1).double(5) == 11
    assert Thing(100).double(5) == 11  # self is not part of the key, as in Beaker
    assert Thing.double.cache.name == f"{__file__}|double"


def test_hashed_keys_for_long_arguments() -> None:
    cache = compose(MemoryStore(), key=HashedKey(max_length=40))

    @cache.memoize(namespace="n")
    def echo(text: str) -> str:
        return text

    long_text = "y" * 100
    assert echo(long_text) == long_text
    stored = list(cache.store.keys("n"))
    assert len(stored) == 1 and len(stored[0]) == 40  # the SHA-1 hex digest
    echo.invalidate(long_text)
    assert list(cache.store.keys("n")) == []


@given(
    parts=st.lists(st.text(max_size=5) | st.integers(), max_size=3),
    args=st.lists(st.text(max_size=5) | st.integers() | st.tuples(st.integers()), max_size=20),
)
def test_fast_key_builder_equals_beakers_rule(parts: list[Any], args: list[Any]) -> None:
    from beaker.policies import ArgsKey, CallSignature, args_key

    def func(*a: Any) -> None:
        pass

    assert ArgsKey.of(func, parts)(tuple(args), {}) == args_key(
        parts, CallSignature.of(func), tuple(args), {}
    )


@attrs.frozen
class DownLock(ThreadLock):
    """A distributed lock whose server is unreachable."""

    def acquire(self, name: str, timeout: float | None = None) -> Any:
        raise StoreUnavailable("redis://127.0.0.1:1/0", "connection refused")


def test_lock_outage_computes_without_the_lock_when_asked() -> None:
    with pytest.raises(StoreUnavailable):
        compose(MemoryStore(), lock=DownLock()).get_or_create("k", lambda: 1)
    cache = compose(MemoryStore(), lock=DownLock(), on_store_error="compute")
    assert cache.get_or_create("k", lambda: 7) == 7
    assert cache.get("k") == 7


@attrs.frozen
class CountingDownStore(DownStore):
    calls: list[str] = attrs.field(factory=list)

    def get(self, namespace: str, key: str) -> Entry | None:
        self.calls.append(key)
        return super().get(namespace, key)


@pytest.mark.parametrize("mode", ["raise", "compute"])
def test_an_outage_contacts_the_store_once_per_read(mode: str) -> None:
    store = CountingDownStore()
    cache = compose(store, on_store_error=mode)  # type: ignore[arg-type]
    try:
        cache.get("k")
    except StoreUnavailable:
        assert mode == "raise"
    assert store.calls == ["k"]


@attrs.frozen
class CountingStore:
    """A real store behind a wrapper that counts its reads (entries pickled, as out of
    process)."""

    holds_objects: ClassVar[bool] = False

    inner: Any
    reads: list[str] = attrs.field(factory=list)

    def get(self, namespace: str, key: str) -> Entry | None:
        self.reads.append(key)
        return self.inner.get(namespace, key)  # type: ignore[no-any-return]

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.inner.set(namespace, key, entry)

    def delete(self, namespace: str, key: str) -> None:
        self.inner.delete(namespace, key)

    def clear(self, namespace: str) -> None:
        self.inner.clear(namespace)

    def keys(self, namespace: str) -> Iterator[str]:
        return self.inner.keys(namespace)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_a_memoized_miss_reads_the_store_twice_and_a_hit_once(kind: str, tmp_path: Any) -> None:
    store = CountingStore(MemoryStore() if kind == "memory" else FileStore(tmp_path))
    clock = FakeClock()
    cache = compose(store, ttl=10, stale_while_revalidate=5, clock=clock)  # type: ignore[arg-type]
    calls: list[int] = []

    @cache.memoize(namespace="m")
    def double(n: int) -> int:
        calls.append(n)
        return 2 * n

    assert double(3) == 6 and calls == [3]
    assert len(store.reads) == 2  # the first read, then the read under the lock
    assert double(3) == 6 and calls == [3] and len(store.reads) == 3  # a hit: one read
    clock.advance(12)  # inside the stale window: recreated by this caller, two reads
    assert double(3) == 6 and calls == [3, 3] and len(store.reads) == 5
    assert cache.get_or_create("k", lambda: 1) == 1 and len(store.reads) == 7


@pytest.mark.parametrize("bad", [math.inf, math.nan, 1.5, 0, "10"])
def test_bad_store_sizes_are_refused(bad: Any, tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="max_entries"):
        MemoryStore(max_entries=bad)
    with pytest.raises(ConfigError, match="max_open"):
        DBMStore(tmp_path, max_open=bad)
    with pytest.raises(ConfigError, match="max_length"):
        HashedKey(bad)
