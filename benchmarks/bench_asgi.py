"""ASGI session benchmark: ns per request through beaker.sessions.asgi.SessionMiddleware and
Starlette's own SessionMiddleware, on the same app, in one run.

    python benchmarks/bench_asgi.py [--samples N]

The app is a bare ASGI callable that reads a counter from ``scope["session"]``, increments it
and answers; each middleware wraps it and is called directly (a minimal HTTP scope carrying
the browser's Cookie header, a ``receive`` and a ``send`` that do nothing), so the figures are
the middleware's cost: reading and verifying the cookie, and building the new one. Workloads:
signed cookie (ours HMAC-SHA256; Starlette's itsdangerous HMAC-SHA1 timestamp signature),
sealed cookie (ours AES-256-GCM; Starlette has no sealed cookie, so its signed one is the
baseline), an untouched request (the middleware's floor), and, for information, server-side
sessions on an AsyncMemoryStore (no Starlette counterpart: against its cookie). Ours and
Starlette's are timed back to back, a batch of 20 requests each, many times (which goes first
alternating), in CPU time of the thread; the ratio is the median of the pairs' ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

from _timing import Paired, paired, print_ratios
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware

from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.signing import HMACSigner
from beaker.sessions import cookie_only, server_side
from beaker.sessions.asgi import SessionMiddleware
from beaker.stores import AsyncMemoryStore

BATCH = 20
SECRET = "a long random secret for the session cookie"
BODY = {"type": "http.response.body", "body": b"ok"}


def _start() -> dict[str, Any]:
    """A fresh response start message, as a framework sends one per response (a middleware
    may add to its header list in place: Starlette's does)."""
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain")],
    }


async def counter_app(scope: Any, receive: Any, send: Any) -> None:
    session = scope["session"]
    session["count"] = session.get("count", 0) + 1
    await send(_start())
    await send(BODY)


async def untouched_app(scope: Any, receive: Any, send: Any) -> None:
    await send(_start())
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


def requester(loop: asyncio.AbstractEventLoop, middleware: Any) -> Callable[[], float]:
    """Times :data:`BATCH` requests of one browser through ``middleware``, in this thread's
    CPU time (not wall time: another process's load on a shared machine does not count);
    returns ns per request."""
    cookie = loop.run_until_complete(_cookie_of(middleware))

    async def send(message: dict[str, Any]) -> None:
        pass

    async def batch() -> float:
        started = time.thread_time_ns()
        for _ in range(BATCH):
            await middleware(_scope(cookie), _receive, send)
        return (time.thread_time_ns() - started) / BATCH

    return lambda: loop.run_until_complete(batch())


def measure(samples: int) -> dict[str, Paired]:
    """Each workload: ours and Starlette's in interleaved batches (:func:`_timing.paired`)."""
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
        # For information: a server-side session against Starlette's cookie.
        "AsyncMemoryStore session request": (
            SessionMiddleware(counter_app, server_side(AsyncMemoryStore(), secret=SECRET)),
            starlette_counter,
        ),
    }
    try:
        return {
            name: paired(requester(loop, mine), requester(loop, baseline), samples)
            for name, (mine, baseline) in pairs.items()
        }
    finally:
        loop.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--samples", type=int, default=300, help="batch pairs per workload (default 300)"
    )
    args = parser.parse_args()
    print_ratios(
        "ASGI sessions, one counter request: ours / Starlette's SessionMiddleware (CPU time)",
        measure(args.samples),
        {"signed cookie request": 1.0, "sealed cookie request": 1.2},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
