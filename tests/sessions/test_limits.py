"""Huge, infinite and NaN seconds and sizes in session options: refused when the sessions are
built, or served correctly through real requests; never an error at request time."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from webtest import TestApp

from beaker.errors import ConfigError
from beaker.sessions import CookieSettings, SessionMiddleware, cookie_only, server_side
from beaker.sessions.ids import SessionIds
from beaker.stores.memory import MemoryStore
from beaker.validators import MAX_SECONDS, MAX_WAIT

from .conftest import counter_app

BAD_SECONDS = [10**400, MAX_SECONDS + 1, math.inf, -math.inf, math.nan, 0, -1, True, "60"]


@pytest.mark.parametrize("option", ["timeout", "absolute_timeout"])
@pytest.mark.parametrize("bad", BAD_SECONDS)
def test_bad_lifetimes_are_refused_at_construction(option: str, bad: Any) -> None:
    with pytest.raises(ConfigError) as info:
        server_side(MemoryStore(), **{option: bad})
    assert info.value.option == option


@pytest.mark.parametrize("bad", [10**400, math.inf, math.nan, -1, "1"])
def test_bad_lock_timeouts_are_refused_at_construction(bad: Any) -> None:
    with pytest.raises(ConfigError, match="lock_timeout"):
        server_side(MemoryStore(), lock_requests=True, lock_timeout=bad)


@pytest.mark.parametrize(
    "bad", [10**400, math.inf, math.nan, 0, -5, dt.timedelta.max, dt.timedelta(seconds=-1)]
)
def test_bad_cookie_lifetimes_are_refused_at_construction(bad: Any) -> None:
    with pytest.raises(ConfigError, match="expires"):
        CookieSettings(expires=bad)


@pytest.mark.parametrize("bad", [10**400, 65537, math.inf, math.nan, 15, 16.0])
def test_bad_cookie_sizes_and_id_lengths_are_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match="max_size"):
        CookieSettings(max_size=bad)
    with pytest.raises(ConfigError, match="nbytes"):
        SessionIds(nbytes=bad)


@pytest.mark.parametrize("kind", ["server", "cookie"])
def test_the_longest_lifetimes_are_served(kind: str) -> None:
    cookie = CookieSettings(expires=MAX_SECONDS)
    options: dict[str, Any] = {
        "timeout": MAX_SECONDS,
        "absolute_timeout": MAX_SECONDS,
        "cookie": cookie,
    }
    if kind == "server":
        sessions = server_side(MemoryStore(), lock_requests=True, lock_timeout=MAX_WAIT, **options)
    else:
        sessions = cookie_only("a long secret for the test", **options)
    browser = TestApp(SessionMiddleware(counter_app, sessions))
    first = browser.get("/")
    assert first.json["count"] == 1 and "expires=" in first.headers["Set-Cookie"].lower()
    assert browser.get("/").json["count"] == 2
