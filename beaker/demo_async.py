"""The demo's async parts: an :func:`~beaker.compose_async` cache memoizing a coroutine under
a burst of concurrent callers (run by every ``python -m beaker demo``), and the session pages
served by the ASGI :class:`~beaker.sessions.asgi.SessionMiddleware` under uvicorn
(``python -m beaker demo --asgi``; uvicorn comes with the ``asgi`` extra).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from beaker.async_caching import compose_async
from beaker.sessions.asgi import ASGIApp
from beaker.sessions.demo_app import make_asgi_app
from beaker.sessions.factory import server_side
from beaker.stores.memory import AsyncMemoryStore

CALLERS = 100
SLOW_SECONDS = 0.25


async def _burst() -> tuple[int, float, float]:
    cache = compose_async(AsyncMemoryStore(), ttl=60)
    computed = 0

    @cache.memoize(namespace="demo.async")
    async def forecast(city: str) -> dict[str, object]:
        nonlocal computed
        computed += 1
        await asyncio.sleep(SLOW_SECONDS)  # the slow awaited work being cached
        return {"city": city, "rain_mm": len(city) * 3}

    started = time.perf_counter()
    results = await asyncio.gather(*(forecast("Paris") for _ in range(CALLERS)))
    cold_ms = (time.perf_counter() - started) * 1000
    if any(result != results[0] for result in results):
        return -1, cold_ms, 0.0
    started = time.perf_counter()
    await forecast("Paris")
    warm_ms = (time.perf_counter() - started) * 1000
    return computed, cold_ms, warm_ms


def run_async_cache() -> int:
    """Print the burst's outcome; 0 when the coroutine ran once for all callers."""
    computed, cold_ms, warm_ms = asyncio.run(_burst())
    print(
        f"\nasync: {CALLERS} concurrent callers of a memoized coroutine on a cold key: "
        f"{computed} computation, {cold_ms:.1f} ms; then a hit in {warm_ms:.2f} ms"
    )
    return 0 if computed == 1 else 1


@contextmanager
def serve(
    app: ASGIApp, port: int = 0, lifespan: Literal["auto", "on", "off"] = "off"
) -> Iterator[str]:
    """Serve the ASGI ``app`` with uvicorn on 127.0.0.1 (``port`` 0: any free one) in a
    thread; yields the base URL (``http://127.0.0.1:PORT``) and stops the server after.
    ``lifespan`` is uvicorn's option (``"on"`` for an app with startup/shutdown steps).

    Raises:
        SystemExit: uvicorn is not installed (``pip install 'beaker[asgi]'``).
        RuntimeError: the server did not start within 30 seconds.
    """
    try:
        import uvicorn
    except ImportError:
        raise SystemExit("serving ASGI needs uvicorn: pip install 'beaker[asgi]'") from None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def asgi_sessions_app() -> ASGIApp:
    """The session pages on the ASGI middleware: server-side sessions in an
    AsyncMemoryStore, the id cookie signed."""
    return make_asgi_app(server_side(AsyncMemoryStore(), secret="demo secret, change me"))
