"""Sessions shared across fronts: a WSGI app in this process (sync store) and an ASGI app in
another process (its async twin, under uvicorn) on one session directory; a
browser alternating between them over real HTTP keeps one session, through a login that
moves it to a new id."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from beaker.sessions import server_side
from beaker.sessions.demo_app import make_app

from ._asgi_process import SECRET
from .conftest import LiveServer


@contextmanager
def asgi_process(kind: str, address: str) -> Iterator[str]:
    """The ASGI front in a process of its own; yields its URL."""
    script = Path(__file__).with_name("_asgi_process.py")
    with subprocess.Popen(
        [sys.executable, str(script), kind, address],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        try:
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), "the ASGI process did not start"
            yield url
        finally:
            process.stdin.close()  # the process stops serving and exits
            process.wait(timeout=30)


def sync_store(kind: str, address: str) -> Any:
    if kind.startswith("redis"):
        from beaker.stores.redis import RedisStore

        return RedisStore(url=address, prefix=kind.partition(":")[2])
    if kind == "sqlite":
        from beaker.stores.sqlalchemy import SQLAlchemyStore

        return SQLAlchemyStore(url=f"sqlite:///{address}")
    from beaker.stores.file import FileStore

    return FileStore(address)


@pytest.mark.parametrize("kind", ["redis", "sqlite", "file"])
def test_wsgi_and_asgi_processes_share_sessions(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    live_server: Callable[[Any], LiveServer],
) -> None:
    if kind == "redis":
        address = request.getfixturevalue("redis_url")
        kind = f"redis:tcross{uuid.uuid4().hex[:10]}:"
    else:
        address = str(tmp_path / ("sessions.db" if kind == "sqlite" else "sessions"))
    store = sync_store(kind, address)
    wsgi = live_server(make_app(server_side(store, secret=SECRET)))
    browser = wsgi.browser()
    with asgi_process(kind, address) as asgi_url:
        asgi = LiveServer(asgi_url, wsgi.jar)  # cookies do not depend on the port

        assert wsgi.get("/visits", browser) == {"visits": 1}
        assert asgi.get("/visits", browser) == {"visits": 2}
        assert wsgi.get("/visits", browser) == {"visits": 3}
        assert asgi.get("/login?user=ada", browser) == {"user": "ada", "visits": 3}
        assert wsgi.get("/whoami", browser) == {"user": "ada", "visits": 3}
        assert wsgi.get("/login?user=bob", browser) == {"user": "bob", "visits": 3}
        assert asgi.get("/visits", browser) == {"visits": 4}
        assert asgi.get("/whoami", browser) == {"user": "bob", "visits": 4}
        assert wsgi.get("/logout", browser) == {"user": None}
        assert asgi.get("/whoami", browser) == {"user": None, "visits": 0}
    store.close()
