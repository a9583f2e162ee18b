"""Huge, infinite and NaN numbers of seconds are refused when a cache or sessions are built (or,
for a per-call ``ttl``, before anything is stored), never an OverflowError at request time; the
largest accepted values are served."""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest

from beaker import compose, compose_async
from beaker.errors import ConfigError
from beaker.policies import TTL
from beaker.sessions import SessionMiddleware, server_side
from beaker.stores import MemoryStore
from beaker.validators import MAX_SECONDS

BAD = [10**400, math.inf, -math.inf, math.nan, MAX_SECONDS + 1]


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("option", ["ttl", "stale_while_revalidate", "lock_timeout"])
def test_compose_refuses(option: str, value: Any) -> None:
    for build in (compose, compose_async):
        with pytest.raises(ConfigError) as info:
            build(MemoryStore() if build is compose else _async_store(), **{option: value})
        assert option in str(info.value) or "seconds" in str(info.value)


def _async_store() -> Any:
    from beaker.stores import AsyncMemoryStore

    return AsyncMemoryStore()


@pytest.mark.parametrize("value", BAD)
def test_ttl_policy_and_per_call_ttl_refuse(value: Any) -> None:
    with pytest.raises(ConfigError):
        TTL(value)
    cache = compose(MemoryStore())
    with pytest.raises(ConfigError, match="ttl"):
        cache.set("k", 1, ttl=value)
    with pytest.raises(ConfigError, match="ttl"):
        cache.get_or_create("k", lambda: 1, ttl=value)
    with pytest.raises(ConfigError, match="ttl"):
        cache.memoize(ttl=value)  # at decoration, not at the first call
    assert cache.get("k", None) is None  # nothing was stored


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("option", ["timeout", "absolute_timeout", "lock_timeout"])
def test_server_side_refuses(option: str, value: Any) -> None:
    with pytest.raises(ConfigError):
        server_side(MemoryStore(), **{option: value})


def test_the_largest_values_are_served() -> None:
    cache = compose(MemoryStore(), ttl=MAX_SECONDS, stale_while_revalidate=MAX_SECONDS,
                    lock_timeout=threading.TIMEOUT_MAX)
    cache.set("a", 1, ttl=MAX_SECONDS)
    assert cache.get("a") == 1
    assert cache.get_or_create("b", lambda: 2) == 2

    import webtest

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["beaker.session"]
        session["n"] = session.get("n", 0) + 1
        session.save()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(session["n"]).encode()]

    sessions = server_side(MemoryStore(), timeout=MAX_SECONDS, absolute_timeout=MAX_SECONDS)
    client = webtest.TestApp(SessionMiddleware(app, sessions))
    assert client.get("/").text == "1"
    assert client.get("/").text == "2"
