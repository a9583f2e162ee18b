"""The session-store checks: a store's compare-and-set keeps its contract
(:func:`check_compare_and_set`), and concurrent requests of one browser, each changing its
own key, lose no write without any request lock (:func:`check_session_store_no_lost_writes`,
the optimistic concurrency of :class:`~beaker.stores.base.VersionedStore`).

Requests go through the native :class:`~beaker.sessions.SessionMiddleware` as WSGI calls
with the browser's ``Cookie`` header, from threads of this process or from worker processes
(``multiprocessing`` with ``spawn``: the store must pickle, as ours do).
"""

from __future__ import annotations

import multiprocessing
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from beaker.entry import Entry
from beaker.sessions import SessionMiddleware, Sessions, server_side
from beaker.stores.base import Store, VersionedStore
from beaker.validators import in_range, positive_int, seconds

_COOKIE = "beaker.session.id"


@attrs.frozen
class SessionLoad:
    """How hard a lost-write check presses one session: the load of
    :func:`check_session_store_no_lost_writes` and of its ASGI twin
    :func:`~beaker.testing.check_async_session_store_no_lost_writes`.

    Args:
        workers: workers in this process (``int`` >= 0): threads for the WSGI check, tasks of
            one event loop for the ASGI one.
        processes: worker processes (``int`` >= 0; ``spawn``, so the store must pickle).
        requests: requests per worker (``int`` >= 1).
        think: seconds each request waits between reading and saving its session, so that
            concurrent requests overlap.

    Raises:
        ConfigError: a count or ``think`` out of range.
    """

    workers: int = attrs.field(default=3, validator=in_range(0))
    processes: int = attrs.field(default=0, validator=in_range(0))
    requests: int = attrs.field(default=60, validator=positive_int())
    think: float = attrs.field(default=0.002, validator=seconds())

    def names(self) -> list[str]:
        """The workers' names (the session keys they count in): ``t0…`` in this process,
        then ``p0…`` for the processes."""
        return [f"t{n}" for n in range(self.workers)] + [f"p{n}" for n in range(self.processes)]


def _counting_app(think: float) -> Callable[..., Iterable[bytes]]:
    """``/?worker=W`` adds one to the session's key ``W`` and saves, ``think`` seconds after
    reading it (the window in which another request may save)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        key = environ["QUERY_STRING"].removeprefix("worker=")
        count = session.get(key, 0)
        if think:
            time.sleep(think)
        session[key] = count + 1
        session.save()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(count + 1).encode()]

    return app


def _request(app: Callable[..., Iterable[bytes]], query: str, cookie: str | None) -> str | None:
    """One WSGI GET; returns the session cookie the response sets (or ``None``)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }
    if cookie is not None:
        environ["HTTP_COOKIE"] = f"{_COOKIE}={cookie}"
    got: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if not status.startswith("200"):
            raise AssertionError(f"request failed: {status}")
        got.extend(value for name, value in headers if name.lower() == "set-cookie")
        return lambda data: None

    body = app(environ, start_response)
    try:
        b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return _session_cookie(got)


def _session_cookie(set_cookies: Iterable[str]) -> str | None:
    """The session id among a response's ``Set-Cookie`` header values (or ``None``)."""
    for header in set_cookies:
        name, _, rest = header.partition("=")
        if name == _COOKIE:
            return rest.split(";", 1)[0]
    return None


def _start_processes(
    target: Callable[..., None], args: tuple[Any, ...], workers: list[str]
) -> list[Any]:
    """One started ``spawn`` process per worker name, running ``target(*args[:3], worker,
    *args[3:])`` (the worker's name after the store, namespace and cookie)."""
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=target, args=(*args[:3], worker, *args[3:])) for worker in workers
    ]
    for child in children:
        child.start()
    return children


def _joined(children: list[Any]) -> None:
    """Wait for the worker processes; each must have exited cleanly."""
    for child in children:
        child.join()
    for child in children:
        assert child.exitcode == 0, f"worker process exited with {child.exitcode}"


def _none_lost(counts: dict[str, int], requests: int) -> int:
    """The number of requests the workers sent, once every one's increments are all in
    ``counts``."""
    lost = sum(requests - count for count in counts.values())
    total = requests * len(counts)
    assert lost == 0, f"{lost} of {total} session writes lost: {counts}"
    return total


def _sessions(store: Store, namespace: str) -> Sessions:
    return server_side(store, namespace=namespace)


def _run_worker(
    store: Store, namespace: str, cookie: str, worker: str, requests: int, think: float
) -> None:
    app = SessionMiddleware(_counting_app(think), _sessions(store, namespace))
    for _ in range(requests):
        _request(app, f"worker={worker}", cookie)


def _process_worker(*args: Any) -> None:
    store: Store = args[0]
    try:
        _run_worker(*args)
    finally:
        store.close()


def check_session_store_no_lost_writes(store: Store, load: SessionLoad | None = None) -> int:
    """Run ``load.workers`` threads and ``load.processes`` processes, each sending
    ``load.requests`` requests of one session (no request lock) that add one to the worker's
    own key; every increment must be in the stored session at the end.

    Args:
        store: the store under test (a fresh namespace of it is used).
        load: the :class:`SessionLoad` (default: 3 threads, no process, 60 requests each).

    Returns:
        The number of requests sent.

    Raises:
        AssertionError: a write was lost (naming how many), or a request failed.
    """
    load = SessionLoad() if load is None else load
    requests, think = load.requests, load.think
    namespace = f"lost-writes-{secrets.token_hex(4)}"
    sessions = _sessions(store, namespace)
    app = SessionMiddleware(_counting_app(0), sessions)
    cookie = _request(app, "worker=start", None)
    assert cookie is not None, "the first request set no session cookie"
    workers = load.names()
    threads = load.workers

    def thread_main(worker: str) -> None:
        _run_worker(store, namespace, cookie, worker, requests, think)

    children = _start_processes(
        _process_worker, (store, namespace, cookie, requests, think), workers[threads:]
    )
    try:
        if threads:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(thread_main, workers[:threads]))  # re-raises a request's error
    finally:
        _joined(children)
    final = sessions.open(f"{_COOKIE}={cookie}")
    try:
        counts = {worker: final.get(worker, 0) for worker in workers}
    finally:
        final.finish(commit=False)
    total = _none_lost(counts, requests)
    store.clear(namespace)
    return total


def check_compare_and_set(store: VersionedStore, *, threads: int = 8) -> None:
    """Check :class:`~beaker.stores.base.VersionedStore`'s contract on ``store``: an absent
    entry has a version; a write with a stale version is refused and writes nothing; of
    ``threads`` concurrent writes given one version exactly one succeeds.

    Raises:
        AssertionError: naming the broken rule.
    """
    assert isinstance(store, VersionedStore), f"{store!r} has no get_versioned/compare_and_set"
    namespace, key = f"cas-{secrets.token_hex(4)}", "k"
    now = time.time()

    def made(value: bytes) -> Entry:
        return Entry(value, now, now + 3600)

    try:
        absent = store.get_versioned(namespace, key)
        assert absent.entry is None, "a key never written read as present"
        assert store.compare_and_set(namespace, key, made(b"one"), absent.version)
        assert not store.compare_and_set(namespace, key, made(b"stale"), absent.version), (
            "a write with the version of the absent entry succeeded over a written one"
        )
        first = store.get_versioned(namespace, key)
        assert first.entry is not None and first.entry.value == b"one"
        store.set(namespace, key, made(b"plain"))
        assert not store.compare_and_set(namespace, key, made(b"stale"), first.version), (
            "a write with a stale version succeeded after a plain set()"
        )
        current = store.get_versioned(namespace, key)
        assert current.entry is not None and current.entry.value == b"plain"
        wins: list[bytes] = []
        start = threading.Barrier(threads)

        def race(n: int) -> None:
            value = f"racer-{n}".encode()
            start.wait()
            if store.compare_and_set(namespace, key, made(value), current.version):
                wins.append(value)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(race, range(threads)))
        assert len(wins) == 1, f"{len(wins)} of {threads} writes with one version succeeded"
        final = store.get(namespace, key)
        assert final is not None and final.value == wins[0], "the winning write is not stored"
        assert final.expires_at == now + 3600, "compare_and_set lost the entry's metadata"
    finally:
        store.clear(namespace)
