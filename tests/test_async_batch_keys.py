"""The async front's memoize takes ignore= and should_cache= too."""

from __future__ import annotations

import asyncio

from beaker import compose_async
from beaker.stores import AsyncMemoryStore


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
