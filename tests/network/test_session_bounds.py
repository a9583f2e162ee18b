"""Bounded work for what a client sends: one request whose ``Cookie`` header carries 2,000
well-formed session ids costs at most four store commands (and at most four lock cycles with
``lock_requests``), counted by a private redis-server's ``INFO commandstats``."""

from __future__ import annotations

import secrets

from webtest import TestApp

from beaker.locks.redis import RedisLock
from beaker.sessions import SessionMiddleware, Sessions, server_side
from beaker.sessions.cookies import MAX_SESSION_COOKIES
from beaker.stores.redis import RedisStore
from tests.network.test_redis import RedisServer, command_delta, private_redis  # noqa: F401

NAME = "beaker.session.id"


def visits(environ: dict[str, object], start_response: object) -> list[bytes]:
    session = environ["beaker.session"]
    start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
    return [f"{session.get('user')}".encode()]  # type: ignore[attr-defined]


def live_session(sessions: Sessions) -> str:
    session = sessions.open(None)
    session["user"] = "ada"
    session.save()
    session.finish()
    return session.id


def flood(live: str | None) -> str:
    """2,000 well-formed ids nobody issued, then (if given) the live one last."""
    ids = [secrets.token_hex(16) for _ in range(2000)]
    if live is not None:
        ids.append(live)
    return "; ".join(f"{NAME}={value}" for value in ids)


def test_two_thousand_ids_cost_at_most_four_store_commands(
    private_redis: RedisServer,  # noqa: F811
) -> None:
    store = RedisStore(url=private_redis.url)
    sessions = server_side(store)
    live = live_session(sessions)  # also opens the client's connection
    app = TestApp(SessionMiddleware(visits, sessions))
    try:
        before = private_redis.commands()
        assert app.get("/", headers={"Cookie": flood(None)}).text == "None"
        spent = command_delta(before, private_redis.commands())
        assert sum(spent.values()) <= MAX_SESSION_COOKIES == 4, spent
        assert spent == {"get": 4}
        # The live session among them still loads when sent last (Beaker's last-value rule).
        before = private_redis.commands()
        assert app.get("/", headers={"Cookie": flood(live)}).text == "ada"
        assert command_delta(before, private_redis.commands()) == {"get": 1}
    finally:
        store.close()


def test_two_thousand_ids_cost_at_most_four_lock_cycles(
    private_redis: RedisServer,  # noqa: F811
) -> None:
    store = RedisStore(url=private_redis.url)
    lock = RedisLock(url=private_redis.url)
    sessions = server_side(store, lock=lock, lock_requests=True)
    live_session(sessions)
    lock.acquire("warm-up").release()  # opens the lock's connection and loads its script
    app = TestApp(SessionMiddleware(visits, sessions))
    try:
        before = private_redis.commands()
        app.get("/", headers={"Cookie": flood(None)})
        spent = command_delta(before, private_redis.commands())
        # Four lock cycles (SET NX PX to take, the release script's EVALSHA, which runs a
        # GET and a DEL inside) and four store GETs.
        assert spent == {"set": 4, "evalsha": 4, "get": 4 + 4, "del": 4}, spent
    finally:
        store.close()
        lock.close()
