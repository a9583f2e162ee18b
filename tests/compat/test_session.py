"""Beaker's session API (SessionMiddleware, SessionObject, Session, CookieSession) over real
stores, through WebTest: Beaker's saving rules, cookies, options and the safety underneath."""

from __future__ import annotations

import datetime as dt
import gc
import json
import re
import uuid
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import webtest

from beaker.compat.exceptions import BeakerException
from beaker.compat.session_setup import SessionSetup, session_setup
from beaker.errors import ConfigError, CookieTooLarge, DeserializationError, LockError
from beaker.middleware import SessionMiddleware
from beaker.session import CookieSession, Session, SessionObject

Environ = dict[str, Any]


def counter_app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Counts visits in the session; /peek reads without saving; /delete, /invalidate,
    /regenerate do what they say; /big stores a lot."""
    session = environ["beaker.session"]
    path = environ["PATH_INFO"]
    if path == "/peek":
        body = {"count": session.get("count"), "new": session.is_new}
    elif path == "/delete":
        session.delete()
        body = {}
    elif path == "/invalidate":
        session.invalidate()
        session["count"] = 100
        session.save()
        body = {"count": 100}
    elif path == "/regenerate":
        old = session.id
        session.regenerate_id()
        session.save()
        body = {"changed": old != session.id, "count": session.get("count")}
    elif path == "/big":
        session["big"] = "x" * 5000
        session.save()
        body = {}
    elif path == "/untouched":
        body = {}
    else:
        session["count"] = session.get("count", 0) + 1
        session.save()
        body = {"count": session["count"], "id": session.id}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


SERVER_TYPES = ["memory", "file", "dbm", "ext:redis", "ext:memcached", "ext:database"]


@pytest.fixture(params=[*SERVER_TYPES, "cookie", "cookie-encrypted"])
def session_opts(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    kind = request.param
    opts: dict[str, Any] = {"session.secret": "s3cret"}
    if kind in ("file", "dbm"):
        opts.update(
            {
                "session.type": kind,
                "session.data_dir": str(tmp_path / "data"),
                "session.lock_dir": str(tmp_path / "lock"),
            }
        )
    elif kind == "ext:redis":
        opts.update({"session.type": kind, "session.url": request.getfixturevalue("redis_url")})
    elif kind == "ext:database":
        opts.update({"session.type": kind, "session.url": f"sqlite:///{tmp_path / 's.db'}"})
    elif kind == "ext:memcached":
        opts.update(
            {"session.type": kind, "session.url": request.getfixturevalue("memcached_client")}
        )
    elif kind == "memory":
        opts["session.type"] = "memory"
    elif kind == "cookie":
        opts.update({"session.type": "cookie", "session.validate_key": "validate"})
    else:
        opts.update(
            {
                "session.type": "cookie",
                "session.validate_key": "validate",
                "session.encrypt_key": "encrypt",
            }
        )
    return opts


def test_counting_across_requests(session_opts: dict[str, Any]) -> None:
    app = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
    first = app.get("/")
    assert first.json["count"] == 1
    assert "Set-Cookie" in first.headers
    assert app.get("/").json["count"] == 2
    assert app.get("/peek").json == {"count": 2, "new": False}
    other = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
    assert other.get("/peek").json == {"count": None, "new": True}


def test_untouched_session_sends_and_stores_nothing(session_opts: dict[str, Any]) -> None:
    app = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
    response = app.get("/untouched")
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers


def test_new_session_not_saved_sends_no_cookie(session_opts: dict[str, Any]) -> None:
    app = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
    response = app.get("/peek")
    assert response.json == {"count": None, "new": True}
    assert "Set-Cookie" not in response.headers


def test_delete_forgets_the_session(session_opts: dict[str, Any]) -> None:
    app = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
    app.get("/")
    app.get("/")
    cookie = app.cookies["beaker.session.id"]
    app.get("/delete")
    assert app.get("/peek").json["count"] is None
    # even if the client keeps sending the old cookie
    replay = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
    replay.set_cookie("beaker.session.id", cookie)
    if "cookie" not in str(session_opts.get("session.type")):
        assert replay.get("/peek").json["count"] is None


def test_invalidate_starts_a_new_session(session_opts: dict[str, Any]) -> None:
    app = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
    old_id = app.get("/").json["id"]
    app.get("/invalidate")
    after = app.get("/").json
    assert after["count"] == 101 and after["id"] != old_id


def test_regenerate_id_keeps_the_data(session_opts: dict[str, Any]) -> None:
    app = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
    old_id = app.get("/").json["id"]
    old_cookie = app.cookies["beaker.session.id"]
    assert app.get("/regenerate").json == {"changed": True, "count": 1}
    after = app.get("/").json
    assert after["count"] == 2 and after["id"] != old_id
    # server-side, the old id no longer loads anything; a cookie session's old cookie is the
    # browser's own copy of the data and still reads (Beaker's CookieSession cannot regenerate)
    stale = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
    stale.set_cookie("beaker.session.id", old_cookie)
    expected = 1 if session_opts["session.type"] == "cookie" else None
    assert stale.get("/peek").json["count"] == expected


def test_tampered_or_foreign_cookie_gives_a_fresh_session(session_opts: dict[str, Any]) -> None:
    app = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
    app.get("/")
    value = app.cookies["beaker.session.id"]
    flipped = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    for bad in (flipped, "garbage", "../../etc/passwd", "x" * 9000, '"quoted"'):
        client = webtest.TestApp(SessionMiddleware(counter_app, session_opts))
        client.set_cookie("beaker.session.id", bad)
        assert client.get("/peek").json == {"count": None, "new": True}


def test_unknown_id_is_never_adopted(tmp_path: Path) -> None:
    opts = {"session.type": "file", "session.data_dir": str(tmp_path)}
    app = webtest.TestApp(SessionMiddleware(counter_app, opts))
    chosen = uuid.uuid4().hex
    app.set_cookie("beaker.session.id", chosen)
    body = app.get("/").json
    assert body["id"] != chosen


def test_signed_id_cookie_uses_hmac_sha256_and_bare_ids_without_secret(tmp_path: Path) -> None:
    signed = webtest.TestApp(SessionMiddleware(counter_app, {"session.secret": "k"}))
    session_id = signed.get("/").json["id"]
    value = signed.cookies["beaker.session.id"]
    assert session_id not in value and re.fullmatch(r"[A-Za-z0-9_-]+", value)
    bare = webtest.TestApp(SessionMiddleware(counter_app, {}))
    session_id = bare.get("/").json["id"]
    assert bare.cookies["beaker.session.id"] == session_id
    assert re.fullmatch(r"[0-9a-f]{32}", session_id)


def _set_cookie(response: webtest.TestResponse) -> str:
    return response.headers["Set-Cookie"]


@pytest.mark.parametrize("kind", ["file", "cookie"])
def test_cookie_attributes(kind: str, tmp_path: Path) -> None:
    opts = {
        "session.type": kind,
        "session.data_dir": str(tmp_path),
        "session.validate_key": "v",
        "session.key": "sid",
        "session.cookie_domain": ".example.com",
        "session.cookie_path": "/app",
        "session.secure": "true",
        "session.httponly": "true",
        "session.samesite": "Strict",
        "session.cookie_expires": "300",
    }
    app = webtest.TestApp(SessionMiddleware(counter_app, opts))
    header = _set_cookie(app.get("/", extra_environ={"HTTP_HOST": "www.example.com"}))
    assert header.startswith("sid=")
    lowered = header.lower()
    for part in (
        "domain=.example.com",
        "path=/app",
        "secure",
        "httponly",
        "samesite=strict",
        "max-age=300",
        "expires=",
    ):
        assert part in lowered, part


@pytest.mark.parametrize("kind", ["file", "cookie"])
def test_defaults_samesite_lax_on_first_cookie_and_browser_session_lifetime(
    kind: str, tmp_path: Path
) -> None:
    opts = {"session.type": kind, "session.data_dir": str(tmp_path), "session.validate_key": "v"}
    header = _set_cookie(webtest.TestApp(SessionMiddleware(counter_app, opts)).get("/"))
    assert "SameSite=Lax" in header and "Path=/" in header
    assert "expires" not in header.lower()  # cookie_expires defaults to True (Beaker)


@pytest.mark.parametrize(
    ("value", "check"),
    [
        (False, lambda h: "max-age=" in h.lower()),
        (dt.timedelta(hours=1), lambda h: "max-age=3600" in h.lower()),
        (dt.datetime(2040, 1, 2, 3, 4, 5), lambda h: "02 jan 2040 03:04:0" in h.lower()),
        ("true", lambda h: "expires" not in h.lower()),
    ],
)
def test_cookie_expires_forms(value: Any, check: Callable[[str], bool]) -> None:
    app = webtest.TestApp(SessionMiddleware(counter_app, {"session.cookie_expires": value}))
    assert check(_set_cookie(app.get("/")))


def test_session_domain_and_path_set_per_request(tmp_path: Path) -> None:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        session["x"] = 1
        session.domain = ".domain.com"
        session.path = "/admin"
        session.save()
        start_response("200 OK", [])
        return [b""]

    header = _set_cookie(webtest.TestApp(SessionMiddleware(app, {})).get("/"))
    assert "Domain=.domain.com" in header and "Path=/admin" in header


def _saved_on_a_clock(
    session_class: type[Session], opts: dict[str, Any]
) -> tuple[list[float], SessionSetup, Session, str]:
    """A new session holding ``a = 1``, saved at t=1000 s on a settable clock; returns the
    clock (``clock[0]``), the setup using it, the session and the cookie it set."""
    clock = [1000.0]
    setup = session_setup(opts).with_clock(lambda: clock[0])
    request: dict[str, Any] = {}
    session = session_class._open(request, setup)
    session["a"] = 1
    session.save()
    return clock, setup, session, request["cookie_out"].split(";")[0]


def test_timeout_replaces_an_idle_session(tmp_path: Path) -> None:
    opts = {"type": "file", "data_dir": str(tmp_path), "timeout": 60}
    clock, setup, session, cookie = _saved_on_a_clock(Session, opts)
    clock[0] += 30
    again = Session._open({"cookie": cookie}, setup)
    assert again["a"] == 1 and again.last_accessed == 1000.0
    again.save(accessed_only=True)
    clock[0] += 59  # idle time counts from the last access
    assert Session._open({"cookie": cookie}, setup)["a"] == 1
    clock[0] += 61
    expired = Session._open({"cookie": cookie}, setup)
    assert "a" not in expired and expired.is_new and expired.id != session.id


def test_cookie_session_timeout_clears_data() -> None:
    opts = {"type": "cookie", "validate_key": "v", "timeout": 60}
    clock, setup, _, cookie = _saved_on_a_clock(CookieSession, opts)
    clock[0] += 30
    assert CookieSession._open({"cookie": cookie}, setup)["a"] == 1
    clock[0] += 61
    assert "a" not in CookieSession._open({"cookie": cookie}, setup)


def test_timeout_needs_save_accessed_time() -> None:
    with pytest.raises(ConfigError) as info:
        SessionMiddleware(
            counter_app, {"session.timeout": "60", "session.save_accessed_time": "false"}
        )
    assert info.value.option == "session.save_accessed_time"


def test_bad_option_fails_when_the_middleware_is_built() -> None:
    with pytest.raises(ConfigError) as info:
        SessionMiddleware(counter_app, {"session.cookie_expires": "someday"})
    assert info.value.option == "session.cookie_expires" and info.value.value == "someday"
    with pytest.raises(BeakerException):
        SessionMiddleware(counter_app, {"session.type": "cookie"})  # no validate_key


def test_auto_saves_without_save(tmp_path: Path) -> None:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        session["n"] = session.get("n", 0) + 1
        start_response("200 OK", [])
        return [str(session["n"]).encode()]

    client = webtest.TestApp(
        SessionMiddleware(app, {"session.auto": "true", "session.data_dir": str(tmp_path)})
    )
    assert [client.get("/").text for _ in range(3)] == ["1", "2", "3"]
    manual = webtest.TestApp(SessionMiddleware(app, {"session.data_dir": str(tmp_path)}))
    assert [manual.get("/").text for _ in range(2)] == ["1", "1"]


def test_save_accessed_time_false_writes_only_on_save(tmp_path: Path) -> None:
    opts = {"type": "file", "data_dir": str(tmp_path), "save_accessed_time": False}
    request: dict[str, Any] = {}
    session = Session(request, **opts)
    session["a"] = 1
    session.save()
    cookie = request["cookie_out"].split(";")[0]
    files_before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    obj = SessionObject({"HTTP_COOKIE": cookie}, **opts)
    assert obj["a"] == 1
    obj.persist()
    files_after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert files_after == files_before


def test_session_object_is_lazy_and_get_by_id(tmp_path: Path) -> None:
    opts = {"type": "file", "data_dir": str(tmp_path)}
    obj = SessionObject({}, **opts)
    assert not obj.accessed()
    obj["k"] = "v"
    assert obj.accessed()
    obj.save()
    assert obj.dirty()
    obj.persist()
    found = obj.get_by_id(obj.id)
    assert found is not None and found["k"] == "v"
    assert obj.get_by_id(uuid.uuid4().hex) is None
    assert obj.get_by_id("../../nope") is None


def test_get_session_and_webtest_varname(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        background = environ["beaker.get_session"]()
        background["job"] = 1
        background.save()
        seen["id"] = background.id
        environ["beaker.session"]["x"] = 1
        environ["beaker.session"].save()
        start_response("200 OK", [])
        return [b""]

    middleware = SessionMiddleware(
        app, {"session.data_dir": str(tmp_path), "session.webtest_varname": "sess"}
    )
    response = webtest.TestApp(middleware).get("/")
    assert response.sess["x"] == 1
    assert "Set-Cookie" in response.headers
    stored = SessionObject({}, data_dir=str(tmp_path)).get_by_id(seen["id"])
    assert stored is not None and stored["job"] == 1


def test_special_keys_and_attributes(tmp_path: Path) -> None:
    request: dict[str, Any] = {}
    session = Session(request, data_dir=str(tmp_path))
    assert session.is_new and session.last_accessed is None
    assert {"_creation_time", "_accessed_time", "_domain", "_path"} <= set(session)
    assert session.created == session["_creation_time"]
    assert re.fullmatch(r"[0-9a-f]{32}", session.id)
    session["a"] = 1
    session.save()
    loaded = Session({"cookie": request["cookie_out"].split(";")[0]}, data_dir=str(tmp_path))
    assert not loaded.is_new and loaded.last_accessed == session["_accessed_time"]
    loaded["a"] = 2
    loaded.revert()
    assert loaded["a"] == 1
    loaded.lock()
    loaded.unlock()
    with pytest.raises(LockError):
        loaded.unlock()


@pytest.mark.parametrize("serializer", ["json", "pickle"])
def test_data_serializer_choices(serializer: str, tmp_path: Path) -> None:
    app = webtest.TestApp(
        SessionMiddleware(
            counter_app, {"session.data_dir": str(tmp_path), "session.data_serializer": serializer}
        )
    )
    app.get("/")
    assert app.get("/").json["count"] == 2


def test_custom_data_serializer_object(tmp_path: Path) -> None:
    class Codec:
        def __init__(self) -> None:
            self.calls = 0

        def dumps(self, value: Any) -> bytes:
            self.calls += 1
            return json.dumps(value).encode()

        def loads(self, data: bytes) -> Any:
            return json.loads(data)

    codec = Codec()
    app = webtest.TestApp(
        SessionMiddleware(counter_app, {"session.data_dir": str(tmp_path)}, data_serializer=codec)
    )
    app.get("/")
    assert app.get("/").json["count"] == 2 and codec.calls >= 2


def test_corrupt_stored_session(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Deliberate difference: the native engine logs the replaced record on beaker.sessions
    # where Beaker issued a BeakerWarning.
    opts = {"type": "file", "data_dir": str(tmp_path)}
    request: dict[str, Any] = {}
    session = Session(request, **opts)
    session["a"] = 1
    session.save()
    cookie = request["cookie_out"].split(";")[0]
    backend = session_setup(opts).sessions.backend
    store, namespace = backend.inner.store, backend.inner.namespace  # type: ignore[attr-defined]
    entry = store.get(namespace, session.id)
    store.set(namespace, session.id, entry._replace(value=b"BKs1 broken"))
    with pytest.raises(DeserializationError):
        Session({"cookie": cookie}, invalidate_corrupt=False, **opts)
    with caplog.at_level("WARNING", logger="beaker.sessions"):
        fresh = Session({"cookie": cookie}, invalidate_corrupt=True, **opts)
    assert "a" not in fresh and fresh.id != session.id and fresh.is_new
    assert "corrupt session record" in caplog.text


def test_cookie_too_large_is_a_beaker_exception() -> None:
    app = webtest.TestApp(
        SessionMiddleware(counter_app, {"session.type": "cookie", "session.validate_key": "v"})
    )
    with pytest.raises(CookieTooLarge) as info:
        app.get("/big")
    assert isinstance(info.value, BeakerException)


def test_cookie_session_never_unpickles_unverified_bytes() -> None:
    import base64
    import pickle

    class Boom:
        def __reduce__(self) -> Any:
            return (pytest.fail, ("unpickled client data",))

    evil = base64.urlsafe_b64encode(pickle.dumps({"x": Boom()})).rstrip(b"=").decode()
    for value in (evil, base64.b64encode(pickle.dumps({"x": Boom()})).decode()):
        request = {"cookie": f"beaker.session.id={value}"}
        session = CookieSession(request, validate_key="v", data_serializer="pickle")
        assert "x" not in session


def test_vary_cookie_added_when_session_used() -> None:
    response = webtest.TestApp(SessionMiddleware(counter_app, {})).get("/")
    assert "Cookie" in response.headers["Vary"]


@pytest.mark.parametrize("options", [{}, {"session.type": "cookie", "session.validate_key": "k"}])
def test_a_request_leaves_no_reference_cycle(options: dict[str, Any]) -> None:
    """The session is freed when its request ends, without the garbage collector (a cycle
    through the environ kept every request's session, data and record until a collection)."""
    sessions: list[weakref.ref[Any]] = []

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        counter = environ["beaker.session"]
        counter["n"] = counter.get("n", 0) + 1
        counter.save()
        sessions.append(weakref.ref(counter._session()))
        start_response("200 OK", [])
        return [b""]

    middleware = SessionMiddleware(app, options)
    gc.disable()
    try:
        for _ in range(2):
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
            list(middleware(environ, lambda status, headers, exc_info=None: None))
            del environ
        assert [ref() for ref in sessions] == [None, None]
    finally:
        gc.enable()


def test_cookie_session_unsaved_changes_do_not_travel() -> None:
    # A loaded cookie session is re-sent with every response (Beaker); with
    # save_accessed_time off and no save(), the cookie must carry the data as loaded.
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        if environ["PATH_INFO"] == "/set":
            session["v"] = "saved"
            session.save()
        elif environ["PATH_INFO"] == "/scribble":
            session["v"] = "not saved"
        start_response("200 OK", [])
        return [str(session.get("v")).encode()]

    opts = {
        "session.type": "cookie",
        "session.validate_key": "v",
        "session.save_accessed_time": "false",
    }
    client = webtest.TestApp(SessionMiddleware(app, opts))
    client.get("/set")
    assert client.get("/scribble").text == "not saved"
    assert client.get("/read").text == "saved"
