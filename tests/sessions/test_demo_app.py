"""The demo application over real HTTP, driven by urllib with a cookie jar (two browsers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from beaker.sessions.demo_app import demo_app

from .conftest import LiveServer

NAME = "beaker.session.id"


@pytest.mark.parametrize("backend", ["file", "cookie"])
def test_visits_login_whoami_logout(
    backend: str, tmp_path: Any, live_server: Callable[[Any], LiveServer]
) -> None:
    app = demo_app(str(tmp_path / "sessions") if backend == "file" else None)
    server = live_server(app)
    alice, bob = server.browser(), server.browser()

    assert server.get("/visits", alice) == {"visits": 1}
    assert server.get("/visits", alice) == {"visits": 2}
    assert server.get("/visits", bob) == {"visits": 1}  # per browser
    cookie_before = cookie_of(alice)

    assert server.get("/login?user=alice", alice) == {"user": "alice", "visits": 2}
    assert cookie_of(alice) != cookie_before  # a new session id after login
    assert server.get("/whoami", alice) == {"user": "alice", "visits": 2}
    assert server.get("/whoami", bob) == {"user": None, "visits": 1}

    assert server.get("/logout", alice) == {"user": None}
    assert cookie_of(alice) is None
    assert server.get("/whoami", alice) == {"user": None, "visits": 0}


def test_fixation_cookie_is_useless_after_login(
    tmp_path: Any, live_server: Callable[[Any], LiveServer]
) -> None:
    """An attacker who planted a session cookie before login cannot use it afterwards."""
    server = live_server(demo_app(str(tmp_path / "sessions")))
    victim = server.browser()
    server.get("/visits", victim)
    planted = cookie_of(victim)
    server.get("/login?user=victim", victim)
    attacker = server.browser()
    import urllib.request

    request = urllib.request.Request(
        server.url + "/whoami", headers={"Cookie": f"{NAME}={planted}"}
    )
    with attacker.open(request, timeout=30) as response:
        import json

        assert json.loads(response.read())["user"] is None


def test_bad_login_and_unknown_route(live_server: Callable[[Any], LiveServer]) -> None:
    import urllib.error

    server = live_server(demo_app(None))
    for path, status in (("/login?user=a%20b", 400), ("/login", 400), ("/nope", 404)):
        with pytest.raises(urllib.error.HTTPError) as caught:
            server.get(path)
        assert caught.value.code == status
        caught.value.close()


def cookie_of(browser: Any) -> str | None:
    for handler in browser.handlers:
        jar = getattr(handler, "cookiejar", None)
        if jar is not None:
            values = [c.value for c in jar if c.name == NAME]
            return values[0] if values else None
    raise AssertionError("no cookie jar")
