"""Load test (not a timed test): real WSGI servers serving a page that reads the cache and
updates the session, driven for a bounded time by concurrent browsers on loopback.

    python benchmarks/load_sessions.py [--seconds 30] [--sessions file|dbm|redis|memcached|
        sqlite|postgresql] [--workers 2] [--threads 4] [--browsers 8] [--tabs 3]

Servers: ``--workers`` waitress processes with ``--threads`` threads each, on their own ports
(clients spread over them, as behind a load balancer). The page memoizes a small computation
in a cache on a private redis-server (``on_store_error="compute"``) and adds one to the
calling tab's own key in the browser's session (no request lock: the session store's
compare-and-set and merge keep concurrent writes). Clients: ``--browsers`` browsers of
``--tabs`` tabs each, one thread per tab with a keep-alive ``http.client`` connection and the
browser's session cookie; each tab counts the increments its server acknowledged.

Phase 1 runs for ``--seconds``; phase 2 runs as long again, killing the private redis-server
a third of the way in and restarting it on the same port at two thirds (sessions stay on
their own store). Each phase reports requests, requests/second, p50/p99 latency, failed
requests and lost writes (acknowledged increments missing from the stored sessions). The
network servers for ``--sessions redis|memcached|postgresql`` come from the ``BEAKER_TEST_*``
variables (``.ci/services.sh``); a fresh prefix or table is used.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.network._servers import await_answer, end, free_port
from tests.network.test_redis import RedisServer


def session_store(kind: str, directory: str, unique: str) -> Any:
    """The session store of one server process (every process builds the same)."""
    if kind == "file":
        from beaker.stores.file import FileStore

        return FileStore(os.path.join(directory, "sessions"))
    if kind == "dbm":
        from beaker.stores.dbm import DBMStore

        return DBMStore(os.path.join(directory, "dbm"))
    if kind == "redis":
        from beaker.stores.redis import RedisStore

        return RedisStore(url=os.environ["BEAKER_TEST_REDIS_URL"], prefix=f"load{unique}:")
    if kind == "memcached":
        from beaker.stores.memcached import MemcachedStore

        return MemcachedStore(os.environ["BEAKER_TEST_MEMCACHED"], prefix=f"load{unique}:")
    from beaker.stores.sqlalchemy import SQLAlchemyStore

    if kind == "sqlite":
        return SQLAlchemyStore(url=f"sqlite:///{os.path.join(directory, 'sessions.db')}")
    return SQLAlchemyStore(
        url=os.environ["BEAKER_TEST_POSTGRESQL_URL"], table_name=f"load_{unique}"
    )


def make_app(cache_url: str, kind: str, directory: str, unique: str) -> Callable[..., Any]:
    """``/?tab=T&item=N`` reads item N through the cache and adds one to the session's key T;
    ``/show`` answers the session's data as JSON."""
    from beaker.caching import compose
    from beaker.sessions import SessionMiddleware, server_side
    from beaker.stores.redis import RedisStore

    cache = compose(
        RedisStore(url=cache_url, prefix=f"load{unique}:", socket_timeout=0.5, retries=0),
        ttl=5,
        on_store_error="compute",
        namespace="page",
    )
    sessions = server_side(session_store(kind, directory, unique), secret="load-test")

    def page(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        if environ["PATH_INFO"] == "/show":
            body = json.dumps(dict(session)).encode()
        else:
            query = dict(part.split("=", 1) for part in environ["QUERY_STRING"].split("&"))
            item = query["item"]
            cache.get_or_create(f"item-{item}", lambda: sum(range(int(item) * 100)))
            tab = query["tab"]
            session[tab] = session.get(tab, 0) + 1
            session.save()
            body = str(session[tab]).encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    return SessionMiddleware(page, sessions)


def serve(args: argparse.Namespace) -> None:
    import logging

    import waitress

    # Waitress's queue-depth notices and compute mode's per-call outage warnings would flood
    # the report; failures are counted by the clients.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    logging.getLogger("beaker").setLevel(logging.ERROR)

    app = make_app(args.cache_url, args.sessions, args.directory, args.unique)
    waitress.serve(
        app, host="127.0.0.1", port=args.port, threads=args.threads, _quiet=True, backlog=256
    )


class Tab(threading.Thread):
    """One browser tab: requests over one keep-alive connection until ``stop`` is set."""

    def __init__(self, name: str, port: int, cookie: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.tab, self.port, self.cookie, self.stop = name, port, cookie, stop
        self.acknowledged = 0
        self.failures: list[str] = []
        self.latencies: list[float] = []

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        n = 0
        while not self.stop.is_set():
            n += 1
            started = time.perf_counter()
            try:
                connection.request(
                    "GET", f"/?tab={self.tab}&item={n % 50}", headers={"Cookie": self.cookie}
                )
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.05)
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            self.latencies.append(time.perf_counter() - started)
            if response.status == 200:
                self.acknowledged += 1
            else:
                self.failures.append(f"HTTP {response.status}: {body[:200]!r}")
        connection.close()


def get(port: int, path: str, cookie: str | None = None) -> tuple[str | None, bytes]:
    """One request on a fresh connection: (the session cookie set, if any; the body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}: {body[:200]!r}")
        set_cookie = response.getheader("Set-Cookie")
        return (None if set_cookie is None else set_cookie.split(";", 1)[0]), body
    finally:
        connection.close()


def phase(
    name: str,
    ports: list[int],
    args: argparse.Namespace,
    during: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Drive the servers for ``args.seconds``; ``during(elapsed)`` is called about every 50 ms."""
    cookies = []
    for browser in range(args.browsers):
        cookie, _ = get(ports[browser % len(ports)], "/?tab=start&item=0")
        assert cookie is not None
        cookies.append(cookie)
    stop = threading.Event()
    tabs = [
        Tab(f"tab{t}", ports[(b * args.tabs + t) % len(ports)], cookies[b], stop)
        for b in range(args.browsers)
        for t in range(args.tabs)
    ]
    started = time.perf_counter()
    for tab in tabs:
        tab.start()
    while (elapsed := time.perf_counter() - started) < args.seconds:
        if during is not None:
            during(elapsed)
        time.sleep(0.05)
    stop.set()
    for tab in tabs:
        tab.join()
    wall = time.perf_counter() - started
    lost = 0
    for b, cookie in enumerate(cookies):
        _, body = get(ports[0], "/show", cookie)
        stored = json.loads(body)
        for tab in tabs[b * args.tabs : (b + 1) * args.tabs]:
            lost += tab.acknowledged - stored.get(tab.tab, 0)
    latencies = sorted(x for tab in tabs for x in tab.latencies)
    failures = [f for tab in tabs for f in tab.failures]
    total = len(latencies) + sum(
        1 for tab in tabs for f in tab.failures if not f.startswith("HTTP")
    )
    result = {
        "phase": name,
        "requests": total,
        "rps": total / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
        "failed": len(failures),
        "lost_writes": lost,
    }
    print(
        f"{name:<28} {total:>7} requests {result['rps']:>8.0f} req/s  "
        f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  "
        f"failed {len(failures)}  lost writes {lost}",
        flush=True,
    )
    for failure in failures[:5]:
        print("   ", failure)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--sessions",
        default="file",
        choices=["file", "dbm", "redis", "memcached", "sqlite", "postgresql"],
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--browsers", type=int, default=8)
    parser.add_argument("--tabs", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cache-url", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    parser.add_argument("--unique", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return 0

    directory = tempfile.mkdtemp(prefix="beaker-load-")
    unique = uuid.uuid4().hex[:10]
    redis_server = RedisServer(Path(directory)).start()
    cache_url = redis_server.url
    ports = [free_port() for _ in range(args.workers)]
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                "--port",
                str(port),
                "--threads",
                str(args.threads),
                "--cache-url",
                cache_url,
                "--sessions",
                args.sessions,
                "--directory",
                directory,
                "--unique",
                unique,
            ],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for port in ports
    ]
    try:
        for server, port in zip(servers, ports):
            await_answer(server, lambda p=port: get(p, "/show"), (OSError,), "waitress", port)
        print(
            f"{args.workers} waitress processes x {args.threads} threads; {args.browsers} "
            f"browsers x {args.tabs} tabs; sessions on {args.sessions}, cache on a private "
            f"redis-server (compute mode); {args.seconds:.0f} s per phase",
            flush=True,
        )
        results = [phase("steady", ports, args)]
        events: list[str] = []

        def restart(elapsed: float) -> None:
            if not events and elapsed > args.seconds / 3:
                redis_server.stop()
                events.append("killed")
            elif events == ["killed"] and elapsed > 2 * args.seconds / 3:
                redis_server.start()
                events.append("restarted")

        results.append(phase("redis killed and restarted", ports, args, restart))
        assert events == ["killed", "restarted"], events
    finally:
        for server in servers:
            end(server, signal.SIGTERM)
        redis_server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    bad = [r for r in results if r["failed"] or r["lost_writes"]]
    print("total requests:", sum(r["requests"] for r in results))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
