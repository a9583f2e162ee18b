"""Whole-request locking: two concurrent requests of one browser over real HTTP (a threaded
wsgiref server on 127.0.0.1) each keep the other's write; without locking one is lost. Also
lock timeouts and lock release on errors and late session use."""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from webtest import TestApp

from beaker.errors import LockTimeout
from beaker.locks.file import FileLock
from beaker.locks.thread import ThreadLock
from beaker.sessions import SessionMiddleware, Sessions, server_side
from beaker.stores.file import FileStore
from beaker.stores.memory import MemoryStore
from tests.network._servers import MEMCACHED_PATIENT, REDIS_PATIENT

from .conftest import LiveServer

NAME = "beaker.session.id"


def append_app(
    before_load: threading.Barrier, after_load: threading.Barrier | None
) -> Callable[..., Any]:
    """``/start`` creates the session; ``/append?item=X`` waits until both concurrent requests
    are inside the app, loads the list (taking the session lock in locking mode), optionally
    waits until both have loaded, appends X and saves; ``/show`` returns the list."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ["PATH_INFO"]
        session = environ["beaker.session"]
        if path == "/start":
            session["items"] = []
            session.save()
        elif path == "/append":
            item = parse_qs(environ["QUERY_STRING"])["item"][0]
            before_load.wait(timeout=20)
            items = list(session["items"])
            if after_load is not None:
                after_load.wait(timeout=20)
            items.append(item)
            session["items"] = items
            session.save()
        body = json.dumps(session.get("items")).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return app


def run_pair(server: LiveServer, cookie: str) -> list[list[str]]:
    """Send /append?item=a and /append?item=b at once with the same cookie."""
    results: dict[str, list[str]] = {}
    errors: list[Exception] = []

    def send(item: str) -> None:
        request = urllib.request.Request(
            f"{server.url}/append?item={item}", headers={"Cookie": f"{NAME}={cookie}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                results[item] = json.loads(response.read())
        except (OSError, ValueError) as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(item,)) for item in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return [results["a"], results["b"]]


def start_session(server: LiveServer) -> str:
    server.get("/start")
    [cookie] = [c.value for c in server.jar if c.name == NAME]
    return cookie


@pytest.fixture(
    params=["thread-lock+memory", "file-lock+file", "redis-lock+redis", "memcached-lock+sql"]
)
def locking_sessions(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Sessions]:
    unique = f"t{uuid.uuid4().hex[:12]}:"
    store: Any
    lock: Any
    if request.param == "thread-lock+memory":
        store, lock = MemoryStore(), ThreadLock()
    elif request.param == "file-lock+file":
        store, lock = FileStore(str(tmp_path / "data")), FileLock(str(tmp_path / "locks"))
    elif request.param == "redis-lock+redis":
        from beaker.locks.redis import RedisLock
        from beaker.stores.redis import RedisStore

        url = request.getfixturevalue("redis_url")
        store = RedisStore(url=url, prefix=unique, **REDIS_PATIENT)
        lock = RedisLock(url=url, prefix=unique + "lock:", **REDIS_PATIENT)
    else:
        from beaker.locks.memcached import MemcachedLock
        from beaker.stores.sqlalchemy import SQLAlchemyStore

        store = SQLAlchemyStore(url=f"sqlite:///{tmp_path / 'sessions.db'}")
        servers = request.getfixturevalue("memcached_servers")
        lock = MemcachedLock(servers, prefix=unique, **MEMCACHED_PATIENT)
    yield server_side(store, lock=lock, secret="s", lock_requests=True)
    store.close()
    if hasattr(lock, "close"):
        lock.close()


def test_concurrent_requests_keep_each_others_writes(
    live_server: Callable[[Any], LiveServer], locking_sessions: Sessions
) -> None:
    server = live_server(
        SessionMiddleware(append_app(threading.Barrier(2), None), locking_sessions)
    )
    cookie = start_session(server)
    seen_a, seen_b = run_pair(server, cookie)
    # the one that ran second saw the first one's write
    assert sorted([seen_a, seen_b], key=len) in ([["a"], ["a", "b"]], [["b"], ["b", "a"]])
    assert sorted(server.get("/show")) == ["a", "b"]


def test_without_locking_a_write_is_lost(live_server: Callable[[Any], LiveServer]) -> None:
    """The control: the same race without lock_requests loses one write, so the test above
    would notice if locking did nothing."""
    sessions = server_side(MemoryStore(), secret="s")
    app = append_app(threading.Barrier(2), threading.Barrier(2))
    server = live_server(SessionMiddleware(app, sessions))
    cookie = start_session(server)
    seen_a, seen_b = run_pair(server, cookie)
    assert (seen_a, seen_b) == (["a"], ["b"])
    assert server.get("/show") in (["a"], ["b"])


def make(sessions: Sessions) -> tuple[TestApp, str]:
    session = sessions.open(None)
    session["x"] = 1
    session.save()
    header = session.finish()
    assert header is not None
    return TestApp(SessionMiddleware(lambda e, s: [], sessions)), header.split(";")[0]


def test_lock_timeout_raises() -> None:
    sessions = server_side(MemoryStore(), lock_requests=True, lock_timeout=0)
    _, cookie = make(sessions)
    holder = sessions.open(cookie)
    assert holder["x"] == 1  # holds the lock
    waiter = sessions.open(cookie)
    with pytest.raises(LockTimeout):
        waiter.get("x")
    holder.finish()
    assert sessions.open(cookie)["x"] == 1


def test_lock_is_released_when_the_app_raises() -> None:
    sessions = server_side(MemoryStore(), lock_requests=True, lock_timeout=0)
    _, cookie = make(sessions)

    def broken(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["beaker.session"]["x"] = 2
        environ["beaker.session"].save()
        raise RuntimeError("boom")

    app = TestApp(SessionMiddleware(broken, sessions))
    for _ in range(2):  # the second would time out if the first leaked its lock
        with pytest.raises(RuntimeError):
            app.get("/", headers={"Cookie": cookie})
    assert sessions.open(cookie)["x"] == 1  # and nothing was saved


def test_error_response_with_exc_info_saves_nothing() -> None:
    sessions = server_side(MemoryStore(), lock_requests=True, lock_timeout=0)
    _, cookie = make(sessions)

    def failing(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["beaker.session"]["x"] = 2
        environ["beaker.session"].save()
        try:
            raise ValueError("handled")
        except ValueError:
            import sys

            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"error"]

    app = TestApp(SessionMiddleware(failing, sessions))
    response = app.get("/", headers={"Cookie": cookie}, status=500)
    assert "Set-Cookie" not in response.headers
    assert sessions.open(cookie)["x"] == 1


def test_session_first_used_in_the_body_releases_its_lock_on_close() -> None:
    sessions = server_side(MemoryStore(), lock_requests=True, lock_timeout=0)
    _, cookie = make(sessions)

    def streaming(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield str(environ["beaker.session"]["x"]).encode()  # loads (and locks) late

    app = TestApp(SessionMiddleware(streaming, sessions))
    assert app.get("/", headers={"Cookie": cookie}).text == "1"
    assert app.get("/", headers={"Cookie": cookie}).text == "1"
