"""The session life cycle through the middleware and WebTest (cookies included): laziness,
saving, persist, regenerate_id, invalidate, delete, revert, timeouts on a fake clock,
save_accessed_time, auto, lock()/unlock(), corrupt records."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from webtest import TestApp

from beaker.entry import Entry
from beaker.errors import ConfigError, DeserializationError, LockError
from beaker.serializers import JSONSerializer
from beaker.sessions import (
    CookieSettings,
    ServerSideBackend,
    SessionMiddleware,
    Sessions,
    cookie_only,
    server_side,
)
from beaker.sessions.store import DEFAULT_NAMESPACE, unpack_record
from beaker.stores.memory import MemoryStore
from beaker.testing import FakeClock

from .conftest import RecordingStore, counter_app

Action = Callable[[Any], Any]


def make_app(sessions: Sessions) -> tuple[TestApp, dict[str, Action]]:
    """An app whose routes run named actions on the session; returns the TestApp and the
    action table to fill."""
    actions: dict[str, Action] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        session = environ["beaker.session"]
        result = actions[environ["PATH_INFO"].strip("/")](session)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(result).encode()]

    return TestApp(SessionMiddleware(app, sessions)), actions


def stored(sessions: Sessions) -> dict[str, dict[str, Any]]:
    backend = sessions.backend
    assert isinstance(backend, ServerSideBackend)
    out = {}
    for key in backend.store.keys(backend.namespace):
        entry = backend.store.get(backend.namespace, key)
        assert entry is not None
        out[key] = backend.serializer.loads(unpack_record(entry.value).payload)
    return out


def set_cookies(response: Any) -> list[str]:
    return response.headers.getall("Set-Cookie")


@pytest.fixture
def mem(clock: FakeClock) -> Sessions:
    return server_side(MemoryStore(), secret="s3cret", clock=clock)


def test_counter_persists_across_requests(store: Any, clock: FakeClock) -> None:
    app = TestApp(SessionMiddleware(counter_app, server_side(store, clock=clock)))
    first = app.get("/").json
    assert first["count"] == 1 and first["is_new"]
    second = app.get("/").json
    assert second == {"count": 2, "id": first["id"], "is_new": False}
    assert len(first["id"]) == 32 and int(first["id"], 16) >= 0


def test_untouched_session_reads_and_sends_nothing(clock: FakeClock) -> None:
    store = RecordingStore()
    app = TestApp(SessionMiddleware(counter_app, server_side(store, clock=clock)))
    app.get("/")
    store.calls.clear()
    response = app.get("/none")
    assert store.calls == []
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers


def test_read_only_request_writes_and_sends_nothing(clock: FakeClock) -> None:
    store = RecordingStore()
    app = TestApp(SessionMiddleware(counter_app, server_side(store, clock=clock)))
    app.get("/")
    store.calls.clear()
    response = app.get("/peek")
    assert [op for op, _ in store.calls] == ["get"]
    assert "Set-Cookie" not in response.headers
    assert response.headers["Vary"] == "Cookie"


def test_vary_is_merged_with_the_apps_own() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["beaker.session"].get("x")
        start_response("200 OK", [("Vary", "Accept-Encoding")])
        return [b""]

    response = TestApp(SessionMiddleware(app, server_side(MemoryStore()))).get("/")
    assert response.headers.getall("Vary") == ["Accept-Encoding, Cookie"]


def test_new_session_not_saved_sends_no_cookie(mem: Sessions) -> None:
    app, actions = make_app(mem)
    actions["touch"] = lambda s: s.get("x")
    response = app.get("/touch")
    assert set_cookies(response) == []
    assert stored(mem) == {}


def test_unsaved_changes_are_not_written(mem: Sessions) -> None:
    app, actions = make_app(mem)
    actions["save"] = lambda s: (s.__setitem__("a", 1), s.save())
    actions["change"] = lambda s: s.__setitem__("a", 2)
    actions["read"] = lambda s: s["a"]
    app.get("/save")
    app.get("/change")
    assert app.get("/read").json == 1


def test_persist_writes_immediately(mem: Sessions) -> None:
    app, actions = make_app(mem)
    seen: dict[str, Any] = {}

    def persist(session: Any) -> None:
        session["a"] = 1
        seen["cookie"] = session.persist()
        seen.update(stored(mem))

    actions["persist"] = persist
    response = app.get("/persist")
    cookie = seen.pop("cookie")
    assert list(seen.values()) == [{"a": 1}]
    assert set_cookies(response) == [cookie]  # persist() returns the header finish() sends


@pytest.mark.parametrize("kind", ["server", "cookie"])
def test_finish_with_save_writes_what_save_would(
    kind: str, mem: Sessions, clock: FakeClock
) -> None:
    """``finish(save=True)`` (the compat front's end of request) writes the whole session as
    ``save()`` then ``finish()`` do; without it, unsaved changes are not written."""
    sessions = mem if kind == "server" else cookie_only("k" * 32, clock=clock)
    session = sessions.open(None)
    session["a"] = 1
    cookie = session.finish(save=True)
    assert cookie is not None
    header = cookie.split(";")[0]  # the Cookie header a browser sends back
    again = sessions.open(header)
    assert dict(again) == {"a": 1} and again.id == session.id
    again["b"] = 2
    assert again.finish() is None
    assert dict(sessions.open(header)) == {"a": 1}


def test_snapshot_is_a_copy_of_the_data_with_id_and_times(mem: Sessions) -> None:
    session = mem.open(None)
    session["a"] = [1]
    data, session_id, created, accessed = session.snapshot()
    assert data == {"a": [1]}
    data["b"] = 2  # a copy: the session does not change
    assert "b" not in session
    assert (session_id, created, accessed) == (session.id, session.created, session.accessed)


def test_regenerate_id_keeps_data_and_changes_id(store: Any, clock: FakeClock) -> None:
    sessions = server_side(store, clock=clock)
    app, actions = make_app(sessions)
    actions["login"] = lambda s: (s.__setitem__("user", "ann"), s.save(), s.id)[2]
    actions["regenerate"] = lambda s: (s.regenerate_id(), s.id)[1]
    actions["who"] = lambda s: [s.id, s.get("user"), s.is_new]
    old = app.get("/login").json
    new = app.get("/regenerate").json
    assert new != old
    assert app.get("/who").json == [new, "ann", False]
    assert list(stored(sessions)) == [new]  # the old record is gone


def test_old_id_cookie_no_longer_works_after_regenerate(mem: Sessions) -> None:
    app, actions = make_app(mem)
    actions["login"] = lambda s: (s.__setitem__("user", "ann"), s.save())
    actions["regenerate"] = lambda s: s.regenerate_id()
    actions["who"] = lambda s: s.get("user")
    app.get("/login")
    old_cookie = app.cookies["beaker.session.id"]
    app.get("/regenerate")
    app.cookiejar.clear()
    app.set_cookie("beaker.session.id", old_cookie)
    assert app.get("/who").json is None


def test_invalidate_starts_over(mem: Sessions) -> None:
    app, actions = make_app(mem)
    actions["save"] = lambda s: (s.__setitem__("a", 1), s.save(), s.id)[2]
    actions["invalidate"] = lambda s: (s.invalidate(), [s.id, dict(s), s.is_new])[1]
    old = app.get("/save").json
    new_id, data, is_new = app.get("/invalidate").json
    assert new_id != old and data == {} and is_new
    assert stored(mem) == {}


def test_invalidate_without_save_expires_the_cookie_even_for_cookie_sessions(
    clock: FakeClock,
) -> None:
    app, actions = make_app(cookie_only("k", clock=clock))
    actions["save"] = lambda s: (s.__setitem__("user", "ann"), s.save())
    actions["invalidate"] = lambda s: s.invalidate()
    actions["who"] = lambda s: s.get("user")
    app.get("/save")
    response = app.get("/invalidate")
    [cookie] = set_cookies(response)
    assert "Max-Age=0" in cookie
    assert app.get("/who").json is None


def test_delete_removes_now_and_expires_cookie(mem: Sessions) -> None:
    app, actions = make_app(mem)
    actions["save"] = lambda s: (s.__setitem__("a", 1), s.save())
    seen: list[Any] = []
    actions["delete"] = lambda s: (s.delete(), seen.append(stored(mem)))
    app.get("/save")
    response = app.get("/delete")
    assert seen == [{}]
    [cookie] = set_cookies(response)
    assert cookie.startswith("beaker.session.id=;") and "Max-Age=0" in cookie
    assert "beaker.session.id" not in app.cookies


def test_save_after_delete_gives_a_new_id(mem: Sessions) -> None:
    app, actions = make_app(mem)
    actions["save"] = lambda s: (s.__setitem__("a", 1), s.save(), s.id)[2]
    actions["delete_then_save"] = lambda s: (s.delete(), s.__setitem__("b", 2), s.save(), s.id)[3]
    old = app.get("/save").json
    new = app.get("/delete_then_save").json
    assert new != old
    assert stored(mem) == {new: {"b": 2}}


def test_revert(mem: Sessions) -> None:
    app, actions = make_app(mem)
    actions["save"] = lambda s: (s.__setitem__("a", [1]), s.save())

    def revert(session: Any) -> dict[str, Any]:
        session["a"].append(2)
        session["b"] = 1
        session.revert()
        return dict(session)

    def invalidate_then_revert(session: Any) -> dict[str, Any]:
        session.invalidate()
        session["b"] = 1
        session.revert()  # back to the data as loaded, whatever the id
        return dict(session)

    actions["revert"] = revert
    actions["revert_new"] = invalidate_then_revert
    app.get("/save")
    assert app.get("/revert").json == {"a": [1]}
    assert app.get("/revert_new").json == {"a": [1]}


def test_times(mem: Sessions, clock: FakeClock) -> None:
    app, actions = make_app(mem)
    actions["times"] = lambda s: (s.save(), [s.created, s.accessed, s.last_accessed])[1]
    start = clock.now
    assert app.get("/times").json == [start, start, None]
    clock.advance(10)
    assert app.get("/times").json == [start, start + 10, start]
    clock.advance(5)
    assert app.get("/times").json == [start, start + 15, start + 10]


@pytest.mark.parametrize("kind", ["server", "cookie"])
def test_idle_timeout_expires(kind: str, clock: FakeClock) -> None:
    options = {"timeout": 60, "clock": clock}
    sessions = (
        server_side(MemoryStore(), **options) if kind == "server" else cookie_only("k", **options)
    )
    app = TestApp(SessionMiddleware(counter_app, sessions))
    first = app.get("/").json
    clock.advance(59)
    assert app.get("/peek").json["id"] == first["id"]  # a read refreshes the access time
    clock.advance(59)
    assert app.get("/").json == {"count": 2, "id": first["id"], "is_new": False}
    clock.advance(61)
    after = app.get("/").json
    assert after["is_new"] and after["count"] == 1 and after["id"] != first["id"]


@pytest.mark.parametrize("kind", ["server", "cookie"])
def test_absolute_timeout_expires_an_active_session(kind: str, clock: FakeClock) -> None:
    options = {"absolute_timeout": 100, "clock": clock}
    sessions = (
        server_side(MemoryStore(), **options) if kind == "server" else cookie_only("k", **options)
    )
    app = TestApp(SessionMiddleware(counter_app, sessions))
    first = app.get("/").json
    for _ in range(3):
        clock.advance(30)
        assert app.get("/").json["id"] == first["id"]
    clock.advance(11)
    after = app.get("/").json
    assert after["is_new"] and after["count"] == 1


def test_expired_record_is_removed_when_seen(clock: FakeClock) -> None:
    sessions = server_side(MemoryStore(), timeout=10, clock=clock)
    app = TestApp(SessionMiddleware(counter_app, sessions))
    first = app.get("/").json["id"]
    clock.advance(11)
    app.get("/peek")
    assert first not in stored(sessions)


def test_access_time_refresh_writes_loaded_data_not_unsaved_changes(clock: FakeClock) -> None:
    sessions = server_side(MemoryStore(), timeout=100, clock=clock)
    app, actions = make_app(sessions)
    actions["save"] = lambda s: (s.__setitem__("a", 1), s.save())
    actions["scribble"] = lambda s: s.__setitem__("a", 99)
    app.get("/save")
    clock.advance(50)
    response = app.get("/scribble")
    assert len(set_cookies(response)) == 1  # refreshed
    [(key, data)] = stored(sessions).items()
    assert data == {"a": 1}
    backend = sessions.backend
    assert isinstance(backend, ServerSideBackend)
    entry = backend.store.get(DEFAULT_NAMESPACE, key)
    assert entry is not None and unpack_record(entry.value).accessed == clock.now
    assert entry.expires_at == clock.now + 100


def test_save_accessed_time_false_with_timeout_is_refused() -> None:
    with pytest.raises(ConfigError):
        server_side(MemoryStore(), timeout=10, save_accessed_time=False)


def test_save_accessed_time_true_refreshes_without_timeout(clock: FakeClock) -> None:
    store = RecordingStore()
    app = TestApp(
        SessionMiddleware(counter_app, server_side(store, save_accessed_time=True, clock=clock))
    )
    app.get("/")
    store.calls.clear()
    app.get("/peek")
    assert [op for op, _ in store.calls] == ["get", "set"]


def test_auto_saves_every_touched_session(clock: FakeClock) -> None:
    app, actions = make_app(server_side(MemoryStore(), auto=True, clock=clock))
    actions["set"] = lambda s: s.__setitem__("a", 1)
    actions["get"] = lambda s: s.get("a")
    app.get("/set")
    assert app.get("/get").json == 1


def test_lock_and_unlock(mem: Sessions) -> None:
    app, actions = make_app(mem)

    def locking(session: Any) -> list[bool]:
        session.lock()
        session.lock()  # already held by this session: no-op
        session.unlock()
        with pytest.raises(LockError):
            session.unlock()
        session.lock()  # released by the middleware at the end of the request
        return [True]

    actions["lock"] = locking
    assert app.get("/lock").json == [True]
    assert app.get("/lock").json == [True]  # would block forever if the lock leaked


def test_corrupt_record_gives_new_session_by_default(clock: FakeClock, caplog: Any) -> None:
    sessions = server_side(MemoryStore(), clock=clock)
    app = TestApp(SessionMiddleware(counter_app, sessions))
    first = app.get("/").json["id"]
    backend = sessions.backend
    assert isinstance(backend, ServerSideBackend)
    entry = backend.store.get(DEFAULT_NAMESPACE, first)
    assert entry is not None
    backend.store.set(DEFAULT_NAMESPACE, first, Entry(entry.value[:-3] + b"zzz", clock.now))
    with caplog.at_level("WARNING", logger="beaker.sessions"):
        after = app.get("/").json
    assert after["is_new"] and after["id"] != first
    assert "corrupt session record" in caplog.text


def test_corrupt_record_raises_when_asked(clock: FakeClock) -> None:
    sessions = server_side(MemoryStore(), invalidate_corrupt=False, clock=clock)
    app = TestApp(SessionMiddleware(counter_app, sessions))
    first = app.get("/").json["id"]
    backend = sessions.backend
    assert isinstance(backend, ServerSideBackend)
    backend.store.set(DEFAULT_NAMESPACE, first, Entry(b"garbage", clock.now))
    with pytest.raises(DeserializationError):
        app.get("/")


def test_json_serializer_server_side(clock: FakeClock) -> None:
    sessions = server_side(MemoryStore(), serializer=JSONSerializer(), clock=clock)
    app = TestApp(SessionMiddleware(counter_app, sessions))
    app.get("/")
    assert app.get("/").json["count"] == 2


def test_session_after_finish_cannot_be_loaded(mem: Sessions) -> None:
    session = mem.open(None)
    assert session.finish() is None
    with pytest.raises(Exception, match="finished"):
        session.get("a")


def test_sessions_without_middleware(mem: Sessions) -> None:
    session = mem.open(None)
    session["a"] = 1
    session.save()
    cookie = session.finish()
    assert cookie is not None and session.finish() is None
    value = cookie.split(";")[0]
    again = mem.open(value)
    assert again["a"] == 1 and not again.is_new
    assert "not loaded" in repr(mem.open(value))


def test_configuration_is_validated() -> None:
    with pytest.raises(ConfigError):
        server_side(MemoryStore(), timeout=0)
    with pytest.raises(ConfigError):
        cookie_only("k", lock_requests=True)
    with pytest.raises(TypeError):
        Sessions(backend="memory")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Sessions(ServerSideBackend(MemoryStore()), cookie={"name": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ServerSideBackend(store={})  # type: ignore[arg-type]
    assert "s3cret" not in repr(server_side(MemoryStore(), secret="s3cret"))
    assert (
        Sessions(ServerSideBackend(MemoryStore()), cookie=CookieSettings(name="sid")).cookie.name
        == "sid"
    )


@pytest.mark.parametrize("kind", ["server", "cookie"])
def test_changes_after_save_are_saved_too(kind: str, clock: FakeClock) -> None:
    sessions = server_side(MemoryStore(), clock=clock) if kind == "server" else cookie_only("k")
    app, actions = make_app(sessions)

    def change_after_save(session: Any) -> None:
        session["n"] = 1
        session["items"] = [1]
        session.save()
        session["n"] = 2  # through the session
        session["items"].append(2)  # inside a value: no __setitem__ to notice

    def scalar_after_save(session: Any) -> None:
        session.save()
        session["n"] = 3

    actions["change"] = change_after_save
    actions["scalar"] = scalar_after_save
    actions["read"] = lambda s: dict(s)
    app.get("/change")
    assert app.get("/read").json == {"n": 2, "items": [1, 2]}
    app.get("/scalar")
    assert app.get("/read").json == {"n": 3, "items": [1, 2]}


def test_get_by_id(clock: FakeClock) -> None:
    sessions = server_side(MemoryStore(), timeout=100, clock=clock)
    app = TestApp(SessionMiddleware(counter_app, sessions))
    session_id = app.get("/").json["id"]
    found = sessions.get_by_id(session_id)
    assert found is not None and found["count"] == 1 and found.id == session_id
    found["count"] = 5
    found.save()
    assert found.finish() is not None
    assert app.get("/peek").json["count"] == 5
    assert sessions.get_by_id("0" * 32) is None  # unknown
    assert sessions.get_by_id("../../etc/passwd") is None  # malformed
    assert cookie_only("k").get_by_id(session_id) is None  # nothing stored server-side
    clock.advance(101)
    assert sessions.get_by_id(session_id) is None  # expired
