"""Sessions on a store whose server goes away: the request fails loudly, nothing is silently
dropped, and once the server is back the session is there with its data."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import webtest

from beaker.errors import StoreUnavailable
from beaker.sessions import SessionMiddleware, server_side
from beaker.stores.redis import RedisStore
from tests.network.test_redis import RedisServer


def counter(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    session = environ["beaker.session"]
    session["n"] = session.get("n", 0) + 1
    session.save()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"n": session["n"], "id": session.id}).encode()]


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path).start()
    yield running
    running.stop()


def test_outage_fails_the_request_and_keeps_the_session(server: RedisServer) -> None:
    store = RedisStore(url=server.url, socket_timeout=1.0, retries=0)
    app = webtest.TestApp(SessionMiddleware(counter, server_side(store, secret="s")))
    first = app.get("/").json
    assert app.get("/").json == {"n": 2, "id": first["id"]}

    server.stop()
    # Loading the session cannot reach the store: an error, never a fresh session that would
    # replace the user's data with an empty one.
    with pytest.raises(StoreUnavailable) as info:
        app.get("/")
    assert f"127.0.0.1:{server.port}" in str(info.value)

    server.start()  # same port, empty memory: this redis keeps nothing across restarts
    # The store reconnects by itself; this server lost its data, so the session starts anew,
    # and the next requests count up again on one id.
    again = app.get("/").json
    assert app.get("/").json == {"n": again["n"] + 1, "id": again["id"]}
    store.close()


def test_save_failure_is_raised_not_swallowed(server: RedisServer) -> None:
    store = RedisStore(url=server.url, socket_timeout=1.0, retries=0)

    def kill_then_save(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        session = environ["beaker.session"]
        session["n"] = session.get("n", 0) + 1
        server.stop()  # the store goes away between load and save
        session.save()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    app = webtest.TestApp(SessionMiddleware(kill_then_save, server_side(store, secret="s")))
    with pytest.raises(StoreUnavailable):
        app.get("/")
    store.close()
