"""Flask on BeakerSessionInterface: a counter kept across requests (Flask's test client, and a
real threaded server over HTTP) server-side in Redis and in a sealed AES-GCM cookie; forged
cookies give a fresh session; laziness, Vary, permanent, clear(), regenerate_id, and the
Flask cookie configuration."""

from __future__ import annotations

import datetime as dt
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, session

from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.signing import HMACSigner
from beaker.sessions import CookieSettings, Sessions, cookie_only, server_side
from beaker.sessions.flask import BeakerSessionInterface, FlaskSession, flask_cookie_settings
from beaker.stores.memory import MemoryStore
from beaker.stores.redis import RedisStore

from .conftest import LiveServer, RecordingStore

NAME = "beaker.session.id"


def flask_app(sessions: Sessions) -> Flask:
    """``/`` counts, ``/peek`` reads, ``/none`` never touches the session, ``/login`` makes
    it permanent under a new id, ``/logout`` clears it, ``/append`` changes a nested value."""
    app = Flask(__name__)
    app.session_interface = BeakerSessionInterface(sessions)

    @app.route("/")
    def count() -> dict[str, Any]:
        session["count"] = session.get("count", 0) + 1
        return {"count": session["count"], "new": session.new, "id": session.beaker.id}

    @app.route("/peek")
    def peek() -> dict[str, Any]:
        return {"count": session.get("count", 0), "id": session.beaker.id}

    @app.route("/none")
    def none() -> str:
        return "untouched"

    @app.route("/login")
    def login() -> dict[str, Any]:
        session.beaker.regenerate_id()
        session.permanent = True
        session["user"] = "ada"
        return {"count": session.get("count", 0), "id": session.beaker.id}

    @app.route("/logout")
    def logout() -> str:
        session.clear()
        return "bye"

    @app.route("/append")
    def append() -> dict[str, Any]:
        items = session.setdefault("items", [])
        items.append(len(items))
        session.modified = True  # a nested change: Flask's rule
        return {"items": items, "id": session.beaker.id}

    return app


def _sessions(kind: str, request: pytest.FixtureRequest) -> Sessions:
    if kind == "memory":
        return server_side(MemoryStore(), secret="id-signing-key")
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        return server_side(RedisStore(url=url, prefix=f"tflask{uuid.uuid4().hex[:10]}:"))
    if kind == "sealed":
        return cookie_only(AESGCMEncrypter(["newest key", "older key"]))
    return cookie_only(HMACSigner("signing key"))


@pytest.fixture(params=["memory", "redis", "sealed", "signed"])
def sessions(request: pytest.FixtureRequest) -> Sessions:
    return _sessions(request.param, request)


def cookie_headers(response: Any) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_counter_kept_across_requests(sessions: Sessions) -> None:
    client = flask_app(sessions).test_client()
    first = client.get("/").json
    assert first["count"] == 1 and first["new"] is True
    for expected in (2, 3):
        body = client.get("/").json
        assert body == {"count": expected, "new": False, "id": first["id"]}
    assert client.get("/peek").json["count"] == 3
    assert flask_app(sessions).test_client().get("/peek").json["count"] == 0  # another browser


@pytest.mark.parametrize("kind", ["redis", "sealed"])
def test_counter_over_real_http(
    kind: str, request: pytest.FixtureRequest, live_server: Callable[[Any], LiveServer]
) -> None:
    sessions = _sessions(kind, request)
    server = live_server(flask_app(sessions))
    counts = [server.get("/")["count"] for _ in range(3)]
    assert counts == [1, 2, 3]
    (cookie,) = [c for c in server.jar if c.name == NAME]
    if kind == "redis":
        backend = sessions.backend
        assert backend.store.get(backend.namespace, cookie.value) is not None  # type: ignore[attr-defined]
    else:
        assert "count" not in cookie.value  # sealed: the data is not readable
    assert server.get("/peek", server.browser())["count"] == 0


def _tampered(value: str) -> list[str]:
    flipped = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    return [flipped, value[:-4], value + "AAAA", "x" * 10_000, '"{"a": 1}"', "../../etc/passwd"]


@pytest.mark.parametrize("kind", ["memory", "redis", "sealed", "signed"])
def test_tampered_cookie_gives_a_fresh_session(kind: str, request: pytest.FixtureRequest) -> None:
    app = flask_app(_sessions(kind, request))
    client = app.test_client()
    client.get("/")
    client.get("/")
    good = client.get_cookie(NAME)
    assert good is not None
    for bad in _tampered(good.value):
        response = app.test_client().get("/", headers={"Cookie": f"{NAME}={bad}"})
        assert response.status_code == 200
        assert response.json["count"] == 1 and response.json["new"] is True
    assert client.get("/peek").json["count"] == 2  # the real browser is unaffected


def test_untouched_request_reads_nothing() -> None:
    store = RecordingStore()
    client = flask_app(server_side(store)).test_client()
    client.get("/")
    store.calls.clear()
    response = client.get("/none")
    assert response.data == b"untouched"
    assert store.calls == []
    assert cookie_headers(response) == []
    assert "Vary" not in response.headers
    assert "Cookie" in client.get("/peek").headers["Vary"]


def test_reading_only_sends_no_cookie(sessions: Sessions) -> None:
    client = flask_app(sessions).test_client()
    client.get("/")
    response = client.get("/peek")
    assert response.json["count"] == 1
    assert cookie_headers(response) == []


def test_permanent_chooses_the_cookie_lifetime() -> None:
    sessions = server_side(MemoryStore(), cookie=CookieSettings(expires=3600))
    client = flask_app(sessions).test_client()
    (browser_session,) = cookie_headers(client.get("/"))
    assert "Max-Age" not in browser_session and "expires" not in browser_session.lower()
    (lasting,) = cookie_headers(client.get("/login"))
    assert "Max-Age=3600" in lasting
    (still,) = cookie_headers(client.get("/"))
    assert "Max-Age=3600" in still


def test_login_moves_the_data_to_a_new_id() -> None:
    store = MemoryStore()
    client = flask_app(server_side(store)).test_client()
    old = client.get("/").json["id"]
    body = client.get("/login").json
    assert body["count"] == 1 and body["id"] != old
    assert list(store.keys("beaker.session")) == [body["id"]]
    assert client.get("/peek").json == {"count": 1, "id": body["id"]}


def test_clear_deletes_the_session(sessions: Sessions) -> None:
    client = flask_app(sessions).test_client()
    client.get("/")
    (expired,) = cookie_headers(client.get("/logout"))
    assert "Max-Age=0" in expired
    assert client.get_cookie(NAME) is None
    backend = sessions.backend
    if backend.server_side:
        assert list(backend.store.keys(backend.namespace)) == []  # type: ignore[attr-defined]
    assert client.get("/peek").json["count"] == 0


def test_nested_change_with_modified_is_saved(sessions: Sessions) -> None:
    client = flask_app(sessions).test_client()
    assert client.get("/append").json["items"] == [0]
    assert client.get("/append").json["items"] == [0, 1]


def test_flask_session_is_lazy_and_a_mapping() -> None:
    store = RecordingStore()
    flask_session = FlaskSession(server_side(store).open(None))
    assert not flask_session.beaker.loaded and not flask_session.modified
    flask_session["a"] = 1
    assert flask_session.modified and dict(flask_session) == {"a": 1} and "a" in flask_session
    assert len(flask_session) == 1 and flask_session.new
    assert "FlaskSession" in repr(flask_session)


def test_interface_answers_from_the_sessions_cookie() -> None:
    cookie = CookieSettings(name="sid", path="/app", domain="example.org", secure=True)
    interface = BeakerSessionInterface(cookie_only("k", cookie=cookie))
    app = Flask(__name__)
    assert interface.get_cookie_name(app) == "sid"
    assert interface.get_cookie_path(app) == "/app"
    assert interface.get_cookie_domain(app) == "example.org"
    assert interface.get_cookie_secure(app) is True
    assert interface.get_cookie_httponly(app) is True
    assert interface.get_cookie_samesite(app) == "Lax"
    assert interface.get_cookie_partitioned(app) is False


def test_flask_cookie_settings_from_app_config() -> None:
    app = Flask(__name__)
    app.config.update(
        SESSION_COOKIE_NAME="app_session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=2),
    )
    settings = flask_cookie_settings(app.config, max_size=2048)
    assert settings == CookieSettings(
        name="app_session",
        path="/",
        secure=True,
        samesite="Strict",
        expires=dt.timedelta(hours=2),
        max_size=2048,
    )
    sessions = cookie_only(AESGCMEncrypter("k"), cookie=settings)
    client = flask_app(sessions).test_client()
    client.get("/login")
    assert client.get_cookie("app_session") is not None


def test_refuses_what_is_not_sessions() -> None:
    with pytest.raises(TypeError, match="sessions"):
        BeakerSessionInterface("not sessions")  # type: ignore[arg-type]


def test_real_http_untouched_route_sets_no_cookie(
    live_server: Callable[[Any], LiveServer],
) -> None:
    server = live_server(flask_app(cookie_only(AESGCMEncrypter("k"))))
    with urllib.request.urlopen(server.url + "/none", timeout=30) as response:
        assert response.read() == b"untouched"
        assert response.headers.get_all("Set-Cookie") is None
