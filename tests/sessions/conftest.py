"""Shared pieces for the session tests: a fake clock, real stores, a store wrapper that
records which keys were asked for, a counter app, and a real HTTP server on loopback."""

from __future__ import annotations

import http.cookiejar
import json
import socketserver
import threading
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs
import pytest

from beaker.entry import Entry
from beaker.stores.dbm import DBMStore
from beaker.stores.file import FileStore
from beaker.stores.memory import MemoryStore
from beaker.testing import FakeClock

with warnings.catch_warnings():
    # WebOb (under WebTest) imports the `cgi` module, deprecated since Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    import webtest  # noqa: F401


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


def _network_store(kind: str, request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """A store on a real server (tests/conftest.py), isolated by a prefix or table of its own."""
    unique = uuid.uuid4().hex[:12]
    if kind == "redis":
        from beaker.stores.redis import RedisStore

        return RedisStore(url=request.getfixturevalue("redis_url"), prefix=f"t{unique}:")
    if kind == "memcached":
        from beaker.stores.memcached import MemcachedStore

        return MemcachedStore(request.getfixturevalue("memcached_servers"), prefix=f"t{unique}:")
    from beaker.stores.sqlalchemy import SQLAlchemyStore

    if kind == "sqlite":
        return SQLAlchemyStore(url=f"sqlite:///{tmp_path / 'sessions.db'}")
    return SQLAlchemyStore(
        url=request.getfixturevalue("postgresql_url"), table_name=f"sessions_{unique}"
    )


@pytest.fixture(params=["memory", "file", "dbm", "redis", "memcached", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """Every store sessions must work on: the local ones and each network one."""
    if request.param == "memory":
        made: Any = MemoryStore()
    elif request.param == "file":
        made = FileStore(str(tmp_path / "files"))
    elif request.param == "dbm":
        made = DBMStore(str(tmp_path / "dbm"))
    else:
        made = _network_store(request.param, request, tmp_path)
    yield made
    made.close()


@attrs.frozen
class RecordingStore:
    """A real MemoryStore that also records every (operation, key) it is asked for, to check
    what reaches a store (never a client-chosen id) and that lazy requests read nothing."""

    inner: MemoryStore = attrs.field(factory=MemoryStore)
    calls: list[tuple[str, str]] = attrs.field(factory=list, eq=False)
    holds_objects = True

    def get(self, namespace: str, key: str) -> Entry | None:
        self.calls.append(("get", key))
        return self.inner.get(namespace, key)

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.calls.append(("set", key))
        self.inner.set(namespace, key, entry)

    def delete(self, namespace: str, key: str) -> None:
        self.calls.append(("delete", key))
        self.inner.delete(namespace, key)

    def clear(self, namespace: str) -> None:
        self.inner.clear(namespace)

    def keys(self, namespace: str) -> Iterator[str]:
        return self.inner.keys(namespace)

    def close(self) -> None:
        pass


def counter_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """``/`` increments ``count`` and saves; ``/peek`` only reads; ``/none`` never touches the
    session. Answers JSON with the count, the id and ``is_new``."""
    path = environ.get("PATH_INFO", "/")
    if path == "/none":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"untouched"]
    session = environ["beaker.session"]
    if path in ("/", "/app/", "/app/count"):
        session["count"] = session.get("count", 0) + 1
        session.save()
    body = {"count": session.get("count", 0), "id": session.id, "is_new": session.is_new}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@attrs.define
class LiveServer:
    """A threaded wsgiref server on 127.0.0.1 and an opener with a cookie jar (a browser)."""

    url: str
    jar: http.cookiejar.CookieJar

    def browser(self) -> urllib.request.OpenerDirector:
        """A new client with its own cookie jar."""
        return urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str, opener: urllib.request.OpenerDirector | None = None) -> Any:
        opener = opener or urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        with opener.open(self.url + path, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], LiveServer]]:
    servers: list[tuple[WSGIServer, threading.Thread]] = []

    def start(app: Any) -> LiveServer:
        server = make_server(
            "127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return LiveServer(f"http://127.0.0.1:{server.server_port}", http.cookiejar.CookieJar())

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
