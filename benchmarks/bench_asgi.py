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
sessions on an AsyncMemoryStore (no Starlette counterpart). Ours and Starlette's are timed in
turn, a batch of 20 requests each, many times, in CPU time of the thread, and each keeps its
fastest batch.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _timing import print_targets, report
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware

from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.signing import HMACSigner
from beaker.sessions import cookie_only, server_side
from beaker.sessions.asgi import SessionMiddleware
from beaker.stores import AsyncMemoryStore

BATCH = 20
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


def requester(loop: asyncio.AbstractEventLoop, middleware: Any) -> Callable[[], Awaitable[None]]:
    """A coroutine function running :data:`BATCH` requests of one browser."""
    cookie = loop.run_until_complete(_cookie_of(middleware))

    async def send(message: dict[str, Any]) -> None:
        pass

    async def batch() -> None:
        for _ in range(BATCH):
            await middleware(_scope(cookie), _receive, send)

    return batch


async def _interleaved(batches: list[Callable[[], Awaitable[None]]], samples: int) -> list[float]:
    """The fastest of ``samples`` timings of each batch, in ns of this thread's CPU time per
    request (CPU time, not wall time: on a shared machine another process's load does not
    count), the batches timed in turn (one of each per sample)."""
    best = [float("inf")] * len(batches)
    for _ in range(samples):
        for index, batch in enumerate(batches):
            started = time.thread_time_ns()
            await batch()
            best[index] = min(best[index], (time.thread_time_ns() - started) / BATCH)
    return best


def measure(samples: int) -> tuple[dict[str, float], dict[str, float]]:
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
            batches = [requester(loop, mine)]
            if baseline is not None:
                batches.append(requester(loop, baseline))
            best = loop.run_until_complete(_interleaved(batches, samples))
            ours[name] = best[0]
            if baseline is not None:
                theirs[name] = best[1]
    finally:
        loop.close()
    return ours, theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--samples", type=int, default=300, help="timings of each side, in turn (default 300)"
    )
    args = parser.parse_args()
    ours, theirs = measure(max(1, args.samples))
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
