"""Cache.get_many / set_many / delete_many over stores with and without batch methods, and
memoize's ignore= and should_cache= options."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from beaker import MISSING, compose, compose_async
from beaker.entry import Entry
from beaker.errors import ConfigError
from beaker.stores import AsyncMemoryStore, MemoryStore
from beaker.stores.base import BatchStore, Looped, batch_of


class SingleKeyStore:
    """A third-party store with only the Store protocol's methods (no batch)."""

    holds_objects: ClassVar[bool] = True

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], Entry] = {}
        self.calls: list[str] = []

    def get(self, namespace: str, key: str) -> Entry | None:
        self.calls.append("get")
        return self.data.get((namespace, key))

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.calls.append("set")
        self.data[(namespace, key)] = entry

    def delete(self, namespace: str, key: str) -> None:
        self.calls.append("delete")
        self.data.pop((namespace, key), None)

    def clear(self, namespace: str) -> None:
        self.data = {item: e for item, e in self.data.items() if item[0] != namespace}

    def keys(self, namespace: str) -> Iterator[str]:
        return iter([key for ns, key in self.data if ns == namespace])

    def close(self) -> None:
        pass


def test_our_stores_are_batch_stores_and_others_are_looped() -> None:
    assert isinstance(MemoryStore(), BatchStore)
    store = SingleKeyStore()
    assert not isinstance(store, BatchStore)
    assert isinstance(batch_of(store), Looped)


@pytest.mark.parametrize("make", [MemoryStore, SingleKeyStore])
def test_many_keys_round_trip(make: Any) -> None:
    clock = [1000.0]
    cache = compose(make(), namespace="many", clock=lambda: clock[0])
    cache.set_many({"a": 1, "b": None, "c": [3]}, ttl=10)
    cache.set("d", 4)
    assert cache.get_many(["a", "b", "c", "d", "absent"]) == {"a": 1, "b": None, "c": [3], "d": 4}
    clock[0] += 11
    assert cache.get_many(["a", "b", "c", "d"]) == {"d": 4}  # the batch expired
    cache.delete_many(["d", "absent"])
    assert cache.get("d") is MISSING
    assert cache.get_many([]) == {}


def test_looped_batch_uses_the_single_key_methods() -> None:
    store = SingleKeyStore()
    cache = compose(store, namespace="loop")
    cache.set_many({"a": 1, "b": 2})
    cache.get_many(["a", "b", "c"])
    cache.delete_many(["a"])
    assert store.calls == ["set", "set", "get", "get", "get", "delete"]


def test_memoize_ignore_leaves_arguments_out_of_the_key() -> None:
    cache = compose(MemoryStore())
    calls: list[tuple[int, str]] = []

    @cache.memoize(ignore=("request",))
    def page(number: int, request: str) -> str:
        calls.append((number, request))
        return f"page {number}"

    assert page(1, "first request") == "page 1"
    assert page(1, request="second request") == "page 1"
    assert calls == [(1, "first request")]
    assert page.key(1, "anything") == "1"
    page(2, "r")
    assert calls[-1] == (2, "r")


def test_memoize_ignore_of_keyword_only_and_self() -> None:
    cache = compose(MemoryStore())

    class Service:
        @cache.memoize("svc", ignore=("trace",))
        def find(self, name: str, *, trace: object = None, limit: int = 1) -> str:
            return f"{name}/{limit}"

    service = Service()
    assert service.find("x", trace=object(), limit=2) == "x/2"
    assert Service.find.key(service, "x", trace="t", limit=2) == "svc x limit:2"


def test_memoize_ignore_of_an_unknown_parameter_is_a_config_error() -> None:
    cache = compose(MemoryStore())
    with pytest.raises(ConfigError) as info:

        @cache.memoize(ignore=("requst",))
        def page(number: int, request: str) -> str:
            return ""

    assert info.value.option == "ignore"


def test_memoize_refuses_an_unknown_option_on_both_fronts() -> None:
    # Its options are keyword arguments (MemoOptions): a misspelt one is an error, not ignored.
    with pytest.raises(TypeError, match="tll"):
        compose(MemoryStore()).memoize(tll=5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="tll"):
        compose_async(AsyncMemoryStore()).memoize(tll=5)  # type: ignore[call-arg]
    with pytest.raises(ConfigError):
        compose(MemoryStore()).memoize(ttl=-1)


def test_should_cache_false_returns_the_value_without_storing_it() -> None:
    cache = compose(MemoryStore())
    calls: list[int] = []

    @cache.memoize(should_cache=lambda result: result is not None)
    def find(number: int) -> int | None:
        calls.append(number)
        return None if number < 0 else number

    assert find(-1) is None
    assert find(-1) is None
    assert find(5) == 5
    assert find(5) == 5
    assert calls == [-1, -1, 5]
    assert cache.get_or_create("k", lambda: "v", should_cache=lambda value: False) == "v"
    assert cache.get("k") is MISSING
