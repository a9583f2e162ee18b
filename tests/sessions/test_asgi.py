"""The ASGI SessionMiddleware: Starlette's ``request.session`` on it under uvicorn over real HTTP
(httpx) for server-side sessions on async stores and for sealed cookies; forged cookies give a
fresh session, never a 500; laziness, timeouts, regenerate_id, deletion, request locking, Vary,
failures and WebSockets in process (httpx's ASGI transport)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any, ClassVar

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from beaker.demo_async import serve as uvicorn_server
from beaker.entry import Entry
from beaker.errors import ComponentTypeError, ConfigError, SessionError
from beaker.locks import AsyncFileLock, AsyncMemcachedLock, AsyncRedisLock
from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.signing import HMACSigner
from beaker.sessions import CookieSettings, Sessions, cookie_only, server_side
from beaker.sessions.asgi import SessionMiddleware
from beaker.sessions.store import ServerSideBackend, unpack_record
from beaker.stores import (
    AsyncDBMStore,
    AsyncFileStore,
    AsyncMemcachedStore,
    AsyncMemoryStore,
    AsyncRedisStore,
    AsyncSQLAlchemyStore,
)
from beaker.stores.base import Versioned
from beaker.stores.memory import MemoryStore
from beaker.testing import FakeClock
from tests.network._servers import MEMCACHED_PATIENT, REDIS_PATIENT

NAME = "beaker.session.id"


async def count(request: Request) -> Response:
    request.session["count"] = request.session.get("count", 0) + 1
    session = request.session
    return JSONResponse({"count": session["count"], "id": session.id, "new": session.is_new})


async def peek(request: Request) -> Response:
    return JSONResponse({"count": request.session.get("count", 0), "id": request.session.id})


async def untouched(request: Request) -> Response:
    return PlainTextResponse("untouched")


async def login(request: Request) -> Response:
    request.session.regenerate_id()
    request.session["user"] = "ada"
    return JSONResponse({"id": request.session.id, "count": request.session.get("count", 0)})


async def logout(request: Request) -> Response:
    request.session.clear()
    return PlainTextResponse("bye")


async def fail(request: Request) -> Response:
    request.session["count"] = 1000
    raise RuntimeError("the app failed")


async def slow_count(request: Request) -> Response:
    value = request.session.get("count", 0)
    await asyncio.sleep(0.01)  # another request of this session would interleave here
    request.session["count"] = value + 1
    return JSONResponse({"count": value + 1})


async def lock_inside(request: Request) -> Response:
    request.session.lock()
    return PlainTextResponse("locked")


async def varying(request: Request) -> Response:
    request.session["seen"] = True
    return PlainTextResponse("v", headers={"Vary": "Accept-Encoding"})


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"count": websocket.session.get("count", 0)})
    await websocket.close()


ROUTES = [
    Route("/", count),
    Route("/peek", peek),
    Route("/none", untouched),
    Route("/login", login),
    Route("/logout", logout),
    Route("/fail", fail),
    Route("/slow", slow_count),
    Route("/lock", lock_inside),
    Route("/vary", varying),
    WebSocketRoute("/ws", ws),
]


def starlette_app(sessions: Sessions) -> Starlette:
    """The routes on the middleware; a server running its lifespan closes the async store at
    shutdown, in the server's event loop (where its connections live)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await close(sessions)

    middleware = [Middleware(SessionMiddleware, sessions=sessions)]
    return Starlette(routes=ROUTES, middleware=middleware, lifespan=lifespan)


def make_sessions(kind: str, request: pytest.FixtureRequest, **options: Any) -> Sessions:
    if kind == "memory":
        return server_side(AsyncMemoryStore(), secret="id key", **options)
    if kind == "file":
        directory = request.getfixturevalue("tmp_path")
        store = AsyncFileStore(directory / "sessions")
        return server_side(store, lock=AsyncFileLock(directory / "locks"), **options)
    if kind == "dbm":
        store = AsyncDBMStore(request.getfixturevalue("tmp_path") / "dbm")
        return server_side(store, secret="id key", **options)
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        store = AsyncRedisStore(url=url, prefix=f"tasgi{uuid.uuid4().hex[:10]}:", **REDIS_PATIENT)
        lock = AsyncRedisLock(url=url, prefix=f"tasgilock{uuid.uuid4().hex[:10]}:", **REDIS_PATIENT)
        return server_side(store, lock=lock, **options)
    if kind == "memcached":
        servers = request.getfixturevalue("memcached_servers")
        prefixes = (f"tasgi{uuid.uuid4().hex[:10]}:", f"tasgilock{uuid.uuid4().hex[:10]}:")
        store = AsyncMemcachedStore(servers, prefix=prefixes[0], **MEMCACHED_PATIENT)
        lock = AsyncMemcachedLock(servers, prefix=prefixes[1], **MEMCACHED_PATIENT)
        return server_side(store, lock=lock, **options)
    if kind == "sqlite":
        database = request.getfixturevalue("tmp_path") / "sessions.db"
        return server_side(AsyncSQLAlchemyStore(url=f"sqlite:///{database}"), **options)
    if kind == "sealed":
        return cookie_only(AESGCMEncrypter(["newest key", "older key"]), **options)
    return cookie_only(HMACSigner("signing key"), **options)


SERVER_SIDE = ["memory", "file", "dbm", "sqlite", "redis", "memcached"]
KINDS = [*SERVER_SIDE, "sealed", "signed"]


@pytest.fixture(params=KINDS)
def sessions(request: pytest.FixtureRequest) -> Sessions:
    return make_sessions(request.param, request)


async def close(sessions: Sessions) -> None:
    """Close the sessions' async store and lock (their connections, in this event loop)."""
    backend = sessions.backend
    if isinstance(backend, ServerSideBackend):
        for part in (backend.store, backend.lock):
            closing = getattr(part, "close", None)
            if closing is not None:
                await closing()


def run(check: Coroutine[Any, Any, None], sessions: Sessions | None = None) -> None:
    """Run a test's coroutine, then close the sessions' async store in the same event loop
    (a SQL engine's connections belong to it)."""

    async def main() -> None:
        try:
            await check
        finally:
            if sessions is not None:
                await close(sessions)

    asyncio.run(main())


def client(app: Any, **options: Any) -> httpx.AsyncClient:
    """An in-process browser (cookie jar included) on ``app``."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=options.pop("raise_", True))
    options.setdefault("base_url", "http://testserver")
    return httpx.AsyncClient(transport=transport, **options)


async def stored(sessions: Sessions) -> dict[str, dict[str, Any]]:
    """Every stored session's data, read through the async store."""
    backend = sessions.backend
    assert isinstance(backend, ServerSideBackend)
    store: Any = backend.store
    found = {}
    for key in await store.keys(backend.namespace):
        entry = await store.get(backend.namespace, key)
        found[key] = backend.serializer.loads(unpack_record(entry.value).payload)
    return found


def _tampered(value: str) -> list[str]:
    flipped = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    return [flipped, value[:-4], value + "AAAA", "x" * 10_000, '"{"a": 1}"', "../../etc/passwd"]


# ------------------------------------------------------------------ over real HTTP (uvicorn)


@pytest.mark.parametrize("kind", ["redis", "sealed", "file"])
def test_starlette_session_over_uvicorn(kind: str, request: pytest.FixtureRequest) -> None:
    sessions = make_sessions(kind, request)
    with (
        uvicorn_server(starlette_app(sessions), lifespan="on") as url,
        httpx.Client(base_url=url) as browser,
    ):
        first = browser.get("/").json()
        assert first["count"] == 1 and first["new"] is True
        assert [browser.get("/").json()["count"] for _ in range(2)] == [2, 3]
        cookie = browser.cookies[NAME]
        if kind != "sealed":  # read back by the async store's sync twin on the same data
            backend = sessions.backend
            assert isinstance(backend, ServerSideBackend)
            twin = ServerSideBackend(backend.store.sync)  # type: ignore[union-attr]
            loaded = twin.read_id(first["id"])
            assert loaded is not None and loaded.data == {"count": 3}
        else:
            assert "count" not in cookie  # sealed: unreadable
        with httpx.Client(base_url=url) as other:
            assert other.get("/peek").json()["count"] == 0
        for bad in _tampered(cookie):
            with httpx.Client(base_url=url, headers={"Cookie": f"{NAME}={bad}"}) as forger:
                response = forger.get("/")
                assert response.status_code == 200
                assert response.json()["count"] == 1 and response.json()["new"] is True
        assert browser.get("/peek").json()["count"] == 3


@pytest.mark.parametrize("kind", ["memory", "file", "dbm", "redis", "memcached"])  # (SQL: per loop)
def test_lock_requests_serializes_one_sessions_requests(
    kind: str, request: pytest.FixtureRequest
) -> None:
    sessions = make_sessions(kind, request, lock_requests=True)

    async def burst(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url) as browser:
            await browser.get("/")
            responses = await asyncio.gather(*(browser.get("/slow") for _ in range(20)))
            return sorted(response.json()["count"] for response in responses)

    with uvicorn_server(starlette_app(sessions), lifespan="on") as url:
        assert asyncio.run(burst(url)) == list(range(2, 22))  # no update lost


# ------------------------------------------------------------------ in process (httpx)


def test_counter_kept_across_requests(sessions: Sessions) -> None:
    async def check() -> None:
        app = starlette_app(sessions)
        async with client(app) as browser, client(app) as other:
            first = (await browser.get("/")).json()
            assert first["count"] == 1 and first["new"] is True
            assert (await browser.get("/")).json() == {"count": 2, "id": first["id"], "new": False}
            assert (await other.get("/peek")).json()["count"] == 0

    run(check(), sessions)


def test_tampered_cookies_give_a_fresh_session(sessions: Sessions) -> None:
    async def check() -> None:
        app = starlette_app(sessions)
        async with client(app) as browser:
            await browser.get("/")
            for bad in _tampered(browser.cookies[NAME]):
                async with client(app, headers={"Cookie": f"{NAME}={bad}"}) as forger:
                    response = await forger.get("/")
                    assert response.status_code == 200 and response.json()["count"] == 1
            assert (await browser.get("/peek")).json()["count"] == 1

    run(check(), sessions)


def test_reading_only_sends_no_cookie(sessions: Sessions) -> None:
    async def check() -> None:
        async with client(starlette_app(sessions)) as browser:
            await browser.get("/")
            response = await browser.get("/peek")
            assert response.json()["count"] == 1
            assert "set-cookie" not in response.headers
            assert response.headers["vary"] == "Cookie"

    run(check(), sessions)


class CountingStore(AsyncMemoryStore):
    """An AsyncMemoryStore that records the reads and writes reaching it."""

    calls: ClassVar[list[str]] = []

    async def get(self, namespace: str, key: str) -> Entry | None:
        self.calls.append("get")
        return await super().get(namespace, key)

    async def get_versioned(self, namespace: str, key: str) -> Versioned:
        self.calls.append("get")  # how sessions read (with the version they save against)
        return await super().get_versioned(namespace, key)

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.calls.append("set")
        await super().set(namespace, key, entry)


def test_nothing_is_read_without_a_cookie_or_for_a_forged_one() -> None:
    store = CountingStore()
    store.calls.clear()
    app = starlette_app(server_side(store, secret="id key"))

    async def check() -> None:
        async with client(app) as browser:
            response = await browser.get("/none")
            assert response.text == "untouched" and store.calls == []
            assert "set-cookie" not in response.headers and "vary" not in response.headers
            await browser.get("/")
            assert store.calls == ["set"]
            await browser.get("/none")  # a cookie: its record is read before the app runs
            assert store.calls == ["set", "get"]
        async with client(app, headers={"Cookie": f"{NAME}={'f' * 32}"}) as forger:
            await forger.get("/none")  # an unsigned id: refused before any read
        assert store.calls == ["set", "get"]

    run(check())


def test_regenerate_id_moves_the_data(request: pytest.FixtureRequest) -> None:
    sessions = make_sessions("memory", request)

    async def check() -> None:
        async with client(starlette_app(sessions)) as browser:
            old = (await browser.get("/")).json()["id"]
            new = (await browser.get("/login")).json()
            assert new["id"] != old and new["count"] == 1
            assert await stored(sessions) == {new["id"]: {"count": 1, "user": "ada"}}
            assert (await browser.get("/peek")).json() == {"count": 1, "id": new["id"]}

    run(check(), sessions)


def test_clear_deletes_the_session(sessions: Sessions) -> None:
    async def check() -> None:
        async with client(starlette_app(sessions)) as browser:
            await browser.get("/")
            response = await browser.get("/logout")
            assert "Max-Age=0" in response.headers["set-cookie"]
            if sessions.backend.server_side:
                assert await stored(sessions) == {}
            assert (await browser.get("/peek")).json()["count"] == 0

    run(check(), sessions)


@pytest.mark.parametrize("kind", KINDS)
def test_idle_and_absolute_timeouts(kind: str, request: pytest.FixtureRequest) -> None:
    clock = FakeClock(1_700_000_000.0)
    sessions = make_sessions(kind, request, timeout=60, absolute_timeout=300, clock=clock)

    async def check() -> None:
        async with client(starlette_app(sessions)) as browser:
            first = (await browser.get("/")).json()["id"]
            for _ in range(5):  # active: each request refreshes the idle deadline
                clock.advance(50)
                assert (await browser.get("/")).json()["id"] == first
            clock.advance(51)  # 301 s after creation: past the absolute timeout
            second = (await browser.get("/")).json()
            assert second["new"] is True and second["id"] != first
            clock.advance(61)  # idle for too long
            third = (await browser.get("/")).json()
            assert third["new"] is True and third["id"] != second["id"]

    run(check(), sessions)


def test_app_failure_saves_nothing_and_releases_the_lock(request: pytest.FixtureRequest) -> None:
    sessions = make_sessions("memory", request, lock_requests=True, lock_timeout=5)

    async def check() -> None:
        async with client(starlette_app(sessions), raise_=False) as browser:
            await browser.get("/")
            assert (await browser.get("/fail")).status_code == 500
            assert (await browser.get("/peek")).json()["count"] == 1  # not 1000; lock free

    run(check(), sessions)


def test_session_lock_inside_the_app_is_refused(request: pytest.FixtureRequest) -> None:
    sessions = make_sessions("memory", request)

    async def check() -> None:
        async with client(starlette_app(sessions)) as browser:
            await browser.get("/")
            with pytest.raises(SessionError, match="lock_requests"):
                await browser.get("/lock")

    run(check(), sessions)


def test_vary_is_merged() -> None:
    async def check() -> None:
        async with client(starlette_app(cookie_only("k"))) as browser:
            assert (await browser.get("/vary")).headers["vary"] == "Accept-Encoding, Cookie"

    run(check())


def test_cookie_settings_are_sent(request: pytest.FixtureRequest) -> None:
    cookie = CookieSettings(name="sid", secure=True, samesite="Strict", expires=600)
    sessions = make_sessions("sealed", request, cookie=cookie)

    async def check() -> None:
        async with client(starlette_app(sessions), base_url="https://testserver") as browser:
            header = (await browser.get("/")).headers["set-cookie"]
            assert header.startswith("sid=")
            for flag in ("Path=/", "HttpOnly", "Secure", "SameSite=Strict", "Max-Age=600"):
                assert flag in header
            assert (await browser.get("/")).json()["count"] == 2

    run(check(), sessions)


@pytest.mark.parametrize("codec", [AESGCMEncrypter, HMACSigner])
def test_key_rotation(codec: Any) -> None:
    async def check() -> None:
        async with client(starlette_app(cookie_only(codec(["old key"])))) as before:
            await before.get("/")
            old_cookie = before.cookies[NAME]
        rotated = starlette_app(cookie_only(codec(["new key", "old key"])))
        async with client(rotated, headers={"Cookie": f"{NAME}={old_cookie}"}) as browser:
            response = await browser.get("/")
            assert response.json()["count"] == 2  # the old key still reads
            new_cookie = response.cookies[NAME]
        async with client(starlette_app(cookie_only(codec(["new key"])))) as after:
            after.cookies.set(NAME, new_cookie)
            assert (await after.get("/peek")).json()["count"] == 2  # re-sealed with the newest

    run(check())


def test_websocket_reads_the_session(sessions: Sessions) -> None:
    app = starlette_app(sessions)

    async def check() -> None:
        async with client(app) as browser:
            await browser.get("/")
            await browser.get("/")
            cookie = f"{NAME}={browser.cookies[NAME]}".encode()
        sent: list[dict[str, Any]] = []
        incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect"}]

        async def receive() -> dict[str, Any]:
            return incoming.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "websocket",
            "path": "/ws",
            "headers": [(b"cookie", cookie)],
            "query_string": b"",
            "root_path": "",
            "scheme": "ws",
            "asgi": {"version": "3.0"},
        }
        await app(scope, receive, send)
        assert sent[0]["type"] == "websocket.accept"
        assert sent[1]["type"] == "websocket.send" and sent[1]["text"] == '{"count":2}'

    run(check(), sessions)


def test_other_scopes_pass_through() -> None:
    seen = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope))

    middleware = SessionMiddleware(app, cookie_only("k"))
    asyncio.run(middleware({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == [{"type": "lifespan"}]


def test_construction_errors() -> None:
    with pytest.raises(ConfigError, match="AsyncStore"):
        SessionMiddleware(count, server_side(MemoryStore()))  # type: ignore[arg-type]
    with pytest.raises(ComponentTypeError):
        SessionMiddleware("not an app", cookie_only("k"))  # type: ignore[arg-type]
    with pytest.raises(ComponentTypeError):
        SessionMiddleware(count, "not sessions")  # type: ignore[arg-type]
