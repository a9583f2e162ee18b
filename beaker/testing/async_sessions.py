"""The session-store checks for the asyncio front: :func:`check_async_compare_and_set` (the
:class:`~beaker.stores.base.AsyncVersionedStore` contract) and
:func:`check_async_session_store_no_lost_writes` (concurrent requests of one browser through
the ASGI :class:`~beaker.sessions.asgi.SessionMiddleware`, each changing its own key, lose no
write without any request lock): the twins of :mod:`beaker.testing.sessions`.

Requests are ASGI calls with the browser's ``Cookie`` header, from tasks of one event loop and
optionally from worker processes, each with a loop of its own (``multiprocessing`` with
``spawn``: the store must pickle, as ours do).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from beaker.sessions import Sessions, server_side
from beaker.sessions.asgi import SessionMiddleware
from beaker.stores.base import AsyncStore, AsyncVersionedStore, VersionedStore
from beaker.testing.async_stores import BlockingStore
from beaker.testing.sessions import (
    SessionLoad,
    _joined,
    _none_lost,
    _session_cookie,
    _start_processes,
    check_compare_and_set,
)

_COOKIE = "beaker.session.id"
_Message = MutableMapping[str, Any]


def _counting_app(think: float) -> Callable[..., Awaitable[None]]:
    """``/?worker=W`` adds one to the session's key ``W``, ``think`` seconds after reading it
    (the window in which another request may save)."""

    async def app(scope: _Message, receive: Any, send: Any) -> None:
        session = scope["session"]
        key = scope["query_string"].decode().removeprefix("worker=")
        count = session.get(key, 0)
        if think:
            await asyncio.sleep(think)
        session[key] = count + 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(count + 1).encode()})

    return app


async def _request(
    app: Callable[..., Awaitable[None]], query: str, cookie: str | None
) -> str | None:
    """One ASGI GET; returns the session cookie the response sets (or ``None``)."""
    headers = [] if cookie is None else [(b"cookie", f"{_COOKIE}={cookie}".encode())]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": query.encode(),
        "headers": headers,
    }
    got: list[str] = []

    async def receive() -> _Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: _Message) -> None:
        if message["type"] == "http.response.start":
            if message["status"] != 200:
                raise AssertionError(f"request failed: {message['status']}")
            got.extend(
                value.decode("latin-1")
                for name, value in message["headers"]
                if name.lower() == b"set-cookie"
            )

    await app(scope, receive, send)
    return _session_cookie(got)


def _sessions(store: AsyncStore, namespace: str) -> Sessions:
    return server_side(store, namespace=namespace)


async def _run_worker(
    store: AsyncStore, namespace: str, cookie: str, worker: str, requests: int, think: float
) -> None:
    app = SessionMiddleware(_counting_app(think), _sessions(store, namespace))
    for _ in range(requests):
        await _request(app, f"worker={worker}", cookie)


def _process_worker(*args: Any) -> None:
    store: AsyncStore = args[0]

    async def main() -> None:
        try:
            await _run_worker(*args)
        finally:
            await store.close()

    asyncio.run(main())


async def _read_counts(
    store: AsyncStore, namespace: str, cookie: str, workers: list[str]
) -> dict[str, int]:
    counts: dict[str, int] = {}

    async def peek(scope: _Message, receive: Any, send: Any) -> None:
        counts.update({worker: scope["session"].get(worker, 0) for worker in workers})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    await _request(SessionMiddleware(peek, _sessions(store, namespace)), "", cookie)
    return counts


def check_async_session_store_no_lost_writes(
    store: AsyncStore, load: SessionLoad | None = None
) -> int:
    """The ASGI twin of :func:`~beaker.testing.check_session_store_no_lost_writes`:
    ``load.workers`` tasks of one event loop and ``load.processes`` processes (each with a
    loop of its own) send ``load.requests`` requests of one session (no request lock) adding
    one to the worker's own key, awaiting ``load.think`` seconds between reading and saving;
    every increment must be in the stored session at the end. The default load is 3 tasks,
    no process, 40 requests each. Returns the number of requests sent.

    Raises:
        AssertionError: a write was lost (naming how many), or a request failed.
    """
    load = SessionLoad(requests=40) if load is None else load
    namespace = f"lost-writes-{secrets.token_hex(4)}"
    workers = load.names()
    tasks, requests, think = load.workers, load.requests, load.think

    async def main() -> dict[str, int]:
        app = SessionMiddleware(_counting_app(0), _sessions(store, namespace))
        cookie = await _request(app, "worker=start", None)
        assert cookie is not None, "the first request set no session cookie"
        children = _start_processes(
            _process_worker, (store, namespace, cookie, requests, think), workers[tasks:]
        )
        try:
            await asyncio.gather(
                *(
                    _run_worker(store, namespace, cookie, worker, requests, think)
                    for worker in workers[:tasks]
                )
            )
        finally:
            await asyncio.to_thread(_joined, children)
        try:
            return await _read_counts(store, namespace, cookie, workers)
        finally:
            await store.clear(namespace)
            await store.close()

    return _none_lost(asyncio.run(main()), requests)


def check_async_compare_and_set(store: AsyncVersionedStore, *, tasks: int = 8) -> None:
    """Check :class:`~beaker.stores.base.AsyncVersionedStore`'s contract on ``store``: the
    rules of :func:`~beaker.testing.check_compare_and_set`, each call awaited on an event loop
    of the check's own (the ``tasks`` racing writes run concurrently on it). Closes the store.

    Raises:
        AssertionError: naming the broken rule.
    """
    assert isinstance(store, AsyncVersionedStore), f"{store!r} has no get_versioned/compare_and_set"
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    blocking = BlockingStore(store, loop)
    try:
        check_compare_and_set(cast(VersionedStore, blocking), threads=tasks)
    finally:
        blocking.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
