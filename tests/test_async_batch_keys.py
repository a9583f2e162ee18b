"""The async front's batch methods (native on the twins, looped elsewhere), memoize's
ignore= and should_cache=, and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from beaker import compose_async
from beaker.entry import Entry
from beaker.stores import AsyncFileStore, AsyncMemoryStore


def test_async_memoize_ignore_and_should_cache() -> None:
    cache = compose_async(AsyncMemoryStore())
    calls: list[int] = []

    @cache.memoize(ignore=("request",), should_cache=lambda result: result > 0)
    async def find(number: int, request: str) -> int:
        calls.append(number)
        return number

    async def main() -> None:
        assert await find(1, "a") == 1
        assert await find(1, "b") == 1
        assert await find(0, "a") == 0
        assert await find(0, "a") == 0

    asyncio.run(main())
    assert calls == [1, 0, 0]


def test_async_many_keys_on_a_twin_and_on_a_looped_store(tmp_path: Path) -> None:
    twin = compose_async(AsyncMemoryStore(), metrics=True)
    looped = compose_async(OnlyAsyncStore(), namespace="loop")

    async def main() -> None:
        for cache in (twin, looped):
            await cache.set_many({"a": 1, "b": 2}, ttl=60)
            assert await cache.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
            await cache.delete_many(["a"])
            assert await cache.get_many(["a", "b"]) == {"b": 2}

    asyncio.run(main())
    assert twin.stats().hits == 3 and twin.stats().misses == 2
    files = compose_async(AsyncFileStore(str(tmp_path)))

    async def on_disk() -> None:
        await files.set_many({"x": "y"})
        assert await files.get_many(["x", "z"]) == {"x": "y"}

    asyncio.run(on_disk())


class OnlyAsyncStore:
    """An async store with only the AsyncStore protocol's coroutines."""

    holds_objects: ClassVar[bool] = True

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], Entry] = {}

    async def get(self, namespace: str, key: str) -> Entry | None:
        return self.data.get((namespace, key))

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.data[(namespace, key)] = entry

    async def delete(self, namespace: str, key: str) -> None:
        self.data.pop((namespace, key), None)

    async def clear(self, namespace: str) -> None:
        self.data = {item: e for item, e in self.data.items() if item[0] != namespace}

    async def keys(self, namespace: str) -> Iterator[str]:
        return iter([key for ns, key in self.data if ns == namespace])

    async def close(self) -> None:
        pass
