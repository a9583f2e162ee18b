"""``python -m beaker demo``: real HTTP requests against a WSGI app using caching and sessions.

The app memoizes a deliberately slow function (a stand-in for a database query or a remote
call) through a FileStore + FileLock cache in a temporary directory, and keeps file-backed
sessions beside it. A client requests a few cached pages over HTTP and prints each request's
latency and whether it was a hit or a miss; then, with a cookie jar like a browser's, it counts
its visits and logs in, which moves the session to a new id while keeping its data. Between
the two, an async cache memoizes a coroutine for a burst of concurrent callers (it runs once).
With ``--asgi`` the session pages are served by the ASGI middleware under uvicorn instead.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from beaker.caching import compose
from beaker.demo_async import asgi_sessions_app, run_async_cache, serve
from beaker.locks.file import FileLock
from beaker.sessions.demo_app import demo_app
from beaker.stores.file import FileStore

SLOW_SECONDS = 0.25

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_app(
    workdir: Path, ttl: float = 60.0
) -> tuple[Callable[..., Iterable[bytes]], dict[str, int]]:
    """Build the demo's WSGI app. Returns the app and its live counters (calls, requests)."""
    cache = compose(store=FileStore(workdir / "cache"), lock=FileLock(workdir / "locks"), ttl=ttl)
    counters = {"requests": 0, "computed": 0}

    @cache.memoize("report", namespace="demo.report")
    def report(city: str, year: int) -> dict[str, Any]:
        counters["computed"] += 1
        time.sleep(SLOW_SECONDS)  # the slow work being cached
        return {"city": city, "year": year, "visitors": len(city) * 1000 + year % 100}

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        city = query.get("city", ["Paris"])[0]
        try:
            year = int(query.get("year", ["2024"])[0])
        except ValueError:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"year must be an integer\n"]
        counters["requests"] += 1
        before = counters["computed"]
        body = json.dumps(report(city, year)).encode()
        outcome = "miss" if counters["computed"] > before else "hit"
        start_response("200 OK", [("Content-Type", "application/json"), ("X-Cache", outcome)])
        return [body]

    return app, counters


def make_site(workdir: Path) -> Callable[..., Iterable[bytes]]:
    """The whole demo site: the cached report at ``/`` and the session pages
    (``/visits``, ``/login?user=NAME``, ``/whoami``, ``/logout``)."""
    report_app, _ = make_app(workdir)
    sessions_app = demo_app(str(workdir / "sessions"))

    def site(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") == "/":
            return report_app(environ, start_response)
        return sessions_app(environ, start_response)

    return site


def _session_cookie(jar: http.cookiejar.CookieJar) -> str:
    values = [cookie.value or "" for cookie in jar]
    return values[0][:12] + "…" if values else "(none)"


def _drive_sessions(base: str) -> int:
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    print(f"\n{'request':<28}{'response':<34}session cookie")
    seen: list[dict[str, Any]] = []
    for path in ["/visits", "/visits", "/login?user=ada", "/visits", "/whoami"]:
        before = _session_cookie(jar)
        with browser.open(base + path, timeout=10) as response:
            body = json.loads(response.read())
        seen.append(body)
        after = _session_cookie(jar)
        note = f"{after}" if before == after else f"{before} -> {after}"
        print(f"GET {path:<24}{json.dumps(body):<34}{note}")
    expected = [
        {"visits": 1},
        {"visits": 2},
        {"user": "ada", "visits": 2},
        {"visits": 3},
        {"user": "ada", "visits": 3},
    ]
    print("\nthe visit count lives in the session; logging in moved it to a new id")
    return 0 if seen == expected else 1


def _drive(base: str) -> int:
    paths = [
        "/?city=Paris&year=2024",
        "/?city=Paris&year=2024",
        "/?city=Lagos&year=2024",
        "/?city=Paris&year=2024",
        "/?city=Lagos&year=2024",
        "/?city=Osaka&year=2023",
        "/?city=Osaka&year=2023",
    ]
    counts = {"hit": 0, "miss": 0}
    print(f"{'request':<28}{'result':>8}{'latency':>12}")
    for path in paths:
        started = time.perf_counter()
        with urllib.request.urlopen(base + path, timeout=10) as response:
            outcome = response.headers["X-Cache"]
            response.read()
        elapsed_ms = (time.perf_counter() - started) * 1000
        counts[outcome] += 1
        print(f"GET {path:<24}{outcome:>8}{elapsed_ms:>10.1f} ms")
    print(
        f"\n{counts['hit']} hits, {counts['miss']} misses "
        f"(each miss ran the {SLOW_SECONDS * 1000:.0f} ms function once)"
    )
    return 0 if counts == {"hit": 4, "miss": 3} else 1


def main(argv: list[str] | None = None) -> int:
    """Run the demo; ``--serve`` keeps the server up for a browser until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m beaker demo", description=__doc__)
    parser.add_argument("--serve", action="store_true", help="keep serving after the demo")
    parser.add_argument("--port", type=int, default=0, help="port for --serve (default: any)")
    parser.add_argument(
        "--asgi",
        action="store_true",
        help="serve the session pages from the ASGI middleware under uvicorn (the asgi extra)",
    )
    args = parser.parse_args(argv)
    status = 1
    with tempfile.TemporaryDirectory(prefix="beaker-demo-") as tmp, ExitStack() as stack:
        site = make_site(Path(tmp))
        server: WSGIServer = make_server("127.0.0.1", args.port, site, handler_class=_QuietHandler)
        base = f"http://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        print(f"demo app on {base} (cache in {tmp})\n")
        sessions_base = base
        try:
            if args.asgi:
                sessions_base = stack.enter_context(serve(asgi_sessions_app()))
            status = _drive(base) or run_async_cache()
            if args.asgi:
                print(f"\nsession pages on the ASGI middleware under uvicorn: {sessions_base}")
            status = status or _drive_sessions(sessions_base)
            if args.serve:
                print(
                    f"\nserving {base}/?city=Paris&year=2024 and {sessions_base}/visits"
                    " — Ctrl-C to stop"
                )
                thread.join()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
            server.server_close()
    return status
