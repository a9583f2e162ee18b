"""A WSGI application and its tests, written only against Beaker's documented API and served
over real HTTP (``wsgiref`` on 127.0.0.1), so the same file checks this package and real
Beaker 1.14.1: ``tests/compat/test_beaker_api_app.py`` runs it here and, in a subprocess,
under the Beaker 1.14.1 virtualenv. Nothing in it may depend on either implementation's
internals.

Imports: the standard library, pytest, ``tests._missing`` (copied beside it for the real-Beaker
run) and ``beaker.middleware`` / ``beaker.cache`` / ``beaker.util`` — whichever ``beaker`` is
importable.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from beaker.cache import cache_region, cache_regions, region_invalidate
from beaker.middleware import CacheMiddleware, SessionMiddleware
from tests._missing import skip_or_fail

Environ = dict[str, Any]
CREATED = {"square": 0, "manager": 0}


@cache_region("short_term", "squares")
def slow_square(n: int) -> int:
    CREATED["square"] += 1
    return n * n


def _made(environ: Environ) -> str:
    def create() -> str:
        CREATED["manager"] += 1
        return f"made {CREATED['manager']}"

    cache = environ["beaker.cache"].get_cache("pages", type="memory", expire=600)
    return str(cache.get("front", createfunc=create))


def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Routes: / counts visits (saved); /peek reads; /none never touches the session;
    /login, /logout (delete), /reset (invalidate), /auto (no save), /square/N (cache region),
    /forget/N (region_invalidate), /page (CacheManager from CacheMiddleware), /background."""
    path = environ["PATH_INFO"]
    session = environ["beaker.session"]
    body: Any = None
    if path == "/":
        session["count"] = session.get("count", 0) + 1
        session.save()
        body = {"count": session["count"]}
    elif path == "/peek":
        body = {
            "count": session.get("count"),
            "user": session.get("user"),
            "id": session.id,
            "created": session.get("_creation_time"),
            # Beaker's cookie-only sessions have no last_accessed attribute
            "last": getattr(session, "last_accessed", "absent"),
        }
    elif path == "/none":
        body = "untouched"
    elif path == "/login":
        session["user"] = "fred"
        session.save()
        body = "ok"
    elif path == "/logout":
        session.delete()
        body = "bye"
    elif path == "/reset":
        session.invalidate()
        session["count"] = 0
        session.save()
        body = "reset"
    elif path == "/auto":
        session["auto"] = session.get("auto", 0) + 1
        body = session["auto"]
    elif path.startswith("/square/"):
        body = slow_square(int(path.rsplit("/", 1)[1]))
    elif path.startswith("/forget/"):
        region_invalidate(slow_square, None, "squares", int(path.rsplit("/", 1)[1]))
        body = "forgotten"
    elif path == "/page":
        body = _made(environ)
    elif path == "/background":
        other = environ["beaker.get_session"]()
        other["job"] = "done"
        other.save()
        body = other.id
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server:
    """The app behind SessionMiddleware and CacheMiddleware on an ephemeral port."""

    def __init__(
        self, session_opts: dict[str, Any], cache_opts: dict[str, Any], kind: str = ""
    ) -> None:
        self.kind = kind
        wrapped = SessionMiddleware(CacheMiddleware(app, cache_opts), session_opts)
        self.httpd: WSGIServer = make_server("127.0.0.1", 0, wrapped, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Browser:
    """A client with its own cookie jar; keeps the last response's headers."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.headers: Any = None

    def get(self, path: str) -> Any:
        with self.opener.open(self.base + path, timeout=30) as response:
            self.headers = response.headers
            return json.loads(response.read())

    def set_cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []

    def cookie(self, name: str = "beaker.session.id") -> str | None:
        for cookie in self.jar:
            if cookie.name == name:
                return cookie.value
        return None

    def replace_cookie(self, value: str, name: str = "beaker.session.id") -> None:
        for cookie in list(self.jar):
            if cookie.name == name:
                cookie.value = value


SERVER_SIDE_KINDS = ["memory", "file", "dbm", "ext:redis"]
SESSION_KINDS = [*SERVER_SIDE_KINDS, "cookie", "cookie-encrypted"]


def session_options(kind: str, base: str) -> dict[str, Any]:
    opts: dict[str, Any] = {"session.secret": "a long server secret"}
    if kind in ("file", "dbm"):
        opts.update(
            {
                "session.type": kind,
                "session.data_dir": os.path.join(base, "data"),
                "session.lock_dir": os.path.join(base, "lock"),
            }
        )
    elif kind == "memory":
        opts["session.type"] = "memory"
    elif kind == "ext:redis":
        url = os.environ.get("BEAKER_TEST_REDIS_URL") or skip_or_fail(
            "BEAKER_TEST_REDIS_URL is not set"
        )
        opts.update({"session.type": "ext:redis", "session.url": url})
    else:
        opts.update({"session.type": "cookie", "session.validate_key": "validate key"})
        if kind == "cookie-encrypted":
            opts["session.encrypt_key"] = "an encryption key of some length"
    return opts


@pytest.fixture(params=SESSION_KINDS)
def server(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Server]:
    cache_regions.update({"short_term": {"type": "memory", "expire": "60"}})
    CREATED.update(square=0, manager=0)
    running = Server(
        session_options(request.param, str(tmp_path)),
        {"cache.type": "memory", "cache.expire": "600"},
        request.param,
    )
    yield running
    running.close()


def test_visits_are_counted_per_browser(server: Server) -> None:
    alice, bob = Browser(server.url), Browser(server.url)
    assert [alice.get("/")["count"] for _ in range(3)] == [1, 2, 3]
    assert bob.get("/")["count"] == 1
    assert alice.get("/peek")["count"] == 3


def test_cookie_is_sent_only_when_a_new_session_is_saved(server: Server) -> None:
    browser = Browser(server.url)
    assert browser.get("/none") == "untouched"
    assert browser.set_cookies() == []
    assert browser.get("/peek")["count"] is None  # touched, new, not saved
    assert browser.set_cookies() == []
    browser.get("/")
    (header,) = browser.set_cookies()
    assert header.startswith("beaker.session.id=")
    assert re.search(r"(?i)path=/", header)


def test_session_attributes(server: Server) -> None:
    browser = Browser(server.url)
    browser.get("/")
    first = browser.get("/peek")
    assert isinstance(first["id"], str) and len(first["id"]) == 32
    assert isinstance(first["created"], float)
    second = browser.get("/peek")
    assert second["id"] == first["id"] and second["created"] == first["created"]
    if server.kind.startswith("cookie"):
        return
    assert isinstance(first["last"], float) and second["last"] >= first["last"]


def test_logout_deletes_the_session(server: Server) -> None:
    browser = Browser(server.url)
    browser.get("/login")
    assert browser.get("/peek")["user"] == "fred"
    browser.get("/logout")
    assert browser.get("/peek")["user"] is None


def test_invalidate_starts_over(server: Server) -> None:
    browser = Browser(server.url)
    browser.get("/login")
    browser.get("/")
    browser.get("/reset")
    state = browser.get("/peek")
    assert state["user"] is None and state["count"] == 0


def test_altered_cookie_is_a_new_session(server: Server) -> None:
    browser = Browser(server.url)
    browser.get("/login")
    value = browser.cookie()
    assert value is not None
    browser.replace_cookie(("0" if value[0] != "0" else "1") + value[1:])
    assert browser.get("/peek")["user"] is None


def test_cache_region_and_region_invalidate(server: Server) -> None:
    browser = Browser(server.url)
    browser.get("/forget/7")  # the region's memory outlives a test in real Beaker
    before = CREATED["square"]
    assert browser.get("/square/7") == 49
    assert browser.get("/square/7") == 49
    assert CREATED["square"] == before + 1
    browser.get("/forget/7")
    assert browser.get("/square/7") == 49
    assert CREATED["square"] == before + 2


def test_cache_middleware_manager(server: Server) -> None:
    browser = Browser(server.url)
    first = browser.get("/page")
    assert first.startswith("made ")
    assert browser.get("/page") == first


# beaker.get_session makes a server-side session: Beaker has none for the cookie kinds.
@pytest.mark.parametrize("server", SERVER_SIDE_KINDS, indirect=True)
def test_background_session_from_get_session(server: Server) -> None:
    browser = Browser(server.url)
    assert len(browser.get("/background")) == 32


@pytest.fixture
def auto_server(tmp_path: Any) -> Iterator[Server]:
    running = Server(
        {"session.type": "file", "session.data_dir": str(tmp_path), "session.auto": "true"}, {}
    )
    yield running
    running.close()


def test_auto_saves_without_save(auto_server: Server) -> None:
    browser = Browser(auto_server.url)
    assert [browser.get("/auto") for _ in range(3)] == [1, 2, 3]


@pytest.fixture
def attribute_server(tmp_path: Any) -> Iterator[Server]:
    running = Server(
        {
            "session.type": "file",
            "session.data_dir": str(tmp_path),
            "session.key": "sid",
            "session.httponly": "true",
            "session.secure": "false",
            "session.cookie_expires": "3600",
            "session.cookie_path": "/",
        },
        {},
    )
    yield running
    running.close()


def test_cookie_options(attribute_server: Server) -> None:
    browser = Browser(attribute_server.url)
    browser.get("/")
    (header,) = browser.set_cookies()
    assert header.startswith("sid=")
    lowered = header.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "expires=" in lowered
    assert "secure" not in lowered
    assert browser.get("/")["count"] == 2
