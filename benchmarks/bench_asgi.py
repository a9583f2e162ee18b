"""ASGI session benchmark: ns per request through beaker.sessions.asgi.SessionMiddleware and
Starlette's own SessionMiddleware, on the same app, in one run.

    python benchmarks/bench_asgi.py [--rounds N]

The app is a bare ASGI callable that reads a counter from ``scope["session"]``, increments it
and answers; each middleware wraps it and is called directly (a minimal HTTP scope carrying
the browser's Cookie header, a ``receive`` and a ``send`` that do nothing), so the figures are
the middleware's cost: reading and verifying the cookie, and building the new one. Workloads:
signed cookie (ours HMAC-SHA256; Starlette's itsdangerous HMAC-SHA1 timestamp signature),
sealed cookie (ours AES-256-GCM; Starlette has no sealed cookie, so its signed one is the
baseline), an untouched request (the middleware's floor), and, for information, server-side
sessions on an AsyncMemoryStore (no Starlette counterpart). Ours and Starlette's are timed in
alternation and each keeps its best.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from _timing import best_alternating, print_targets, report
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware

from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.signing import HMACSigner
from beaker.sessions import cookie_only, server_side
from beaker.sessions.asgi import SessionMiddleware
from beaker.stores import AsyncMemoryStore

BATCH = 200
SECRET = "a long random secret for the session cookie"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain")],
}
BODY = {"type": "http.response.body", "body": b"ok"}


async def counter_app(scope: Any, receive: Any, send: Any) -> None:
    session = scope["session"]
    session["count"] = session.get("count", 0) + 1
    await send(START)
    await send(BODY)


async def untouched_app(scope: Any, receive: Any, send: Any) -> None:
    await send(START)
    await send(BODY)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _scope(cookie: bytes | None) -> dict[str, Any]:
    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    return {"type": "http", "method": "GET", "path": "/", "headers": headers}


async def _cookie_of(middleware: Any) -> bytes | None:
    """The browser's Cookie header after one counting request (``name=value``)."""
    found: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        for name, value in message.get("headers", ()):
            if name == b"set-cookie":
                found.append(value.split(b";", 1)[0])

    await middleware(_scope(None), _receive, send)
    return found[0] if found else None


def requester(loop: asyncio.AbstractEventLoop, middleware: Any) -> Callable[[], object]:
    """A no-argument callable running :data:`BATCH` requests of one browser."""
    cookie = loop.run_until_complete(_cookie_of(middleware))

    async def send(message: dict[str, Any]) -> None:
        pass

    async def batch() -> None:
        for _ in range(BATCH):
            await middleware(_scope(cookie), _receive, send)

    def run() -> object:
        return loop.run_until_complete(batch())

    return run


def measure(rounds: int, min_seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    loop = asyncio.new_event_loop()
    starlette_counter = StarletteSessionMiddleware(counter_app, secret_key=SECRET)
    starlette_untouched = StarletteSessionMiddleware(untouched_app, secret_key=SECRET)
    pairs: dict[str, tuple[Any, Any]] = {
        "signed cookie request": (
            SessionMiddleware(counter_app, cookie_only(HMACSigner(SECRET))),
            starlette_counter,
        ),
        "sealed cookie request": (
            SessionMiddleware(counter_app, cookie_only(AESGCMEncrypter(SECRET))),
            starlette_counter,
        ),
        "untouched request": (
            SessionMiddleware(untouched_app, cookie_only(HMACSigner(SECRET))),
            starlette_untouched,
        ),
        "AsyncMemoryStore session request": (
            SessionMiddleware(counter_app, server_side(AsyncMemoryStore(), secret=SECRET)),
            None,
        ),
    }
    ours: dict[str, float] = {}
    theirs: dict[str, float] = {}
    try:
        for name, (mine, baseline) in pairs.items():
            baselines = [] if baseline is None else [requester(loop, baseline)]
            best, others = best_alternating(requester(loop, mine), baselines, min_seconds, rounds)
            ours[name] = best / BATCH
            if others:
                theirs[name] = others[0] / BATCH
    finally:
        loop.close()
    return ours, theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternations (default 3)")
    parser.add_argument(
        "--min-seconds", type=float, default=0.2, help="least time per timing (default 0.2)"
    )
    args = parser.parse_args()
    ours, theirs = measure(max(1, args.rounds), args.min_seconds)
    report(
        "ASGI sessions: one counter request (ns/request; ratio = ours / Starlette's)",
        ours,
        {"starlette": theirs},
    )
    targets = {"signed cookie request": 1.0, "sealed cookie request": 1.2}
    print_targets(ours, theirs, targets, 24, against="Starlette's SessionMiddleware")
    return 0


if __name__ == "__main__":
    sys.exit(main())
