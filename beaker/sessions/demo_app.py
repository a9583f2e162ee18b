"""A small WSGI application showing sessions, for the demo and the tests.

Routes (every response is JSON):

* ``GET /visits`` — a per-browser visit counter: ``{"visits": n}``.
* ``GET /login?user=NAME`` — logs ``NAME`` in and moves the session to a new id
  (``regenerate_id()``, the defence against session fixation); the visit count survives:
  ``{"user": NAME, "visits": n}``.
* ``GET /whoami`` — ``{"user": NAME or null, "visits": n}``; reads without writing.
* ``GET /logout`` — deletes the session and expires the cookie: ``{"user": null}``.

Build it with :func:`make_app` (WSGI) or :func:`make_asgi_app` (ASGI) around any
:class:`~beaker.sessions.factory.Sessions`, or with :func:`demo_app` for a file-backed (or
cookie-only) default; :func:`handle` holds the routes both share.

Must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from beaker.sessions.factory import Sessions, cookie_only, server_side
from beaker.sessions.middleware import SessionMiddleware, StartResponse, WSGIApp
from beaker.sessions.model import Session

if TYPE_CHECKING:
    from beaker.sessions.asgi import ASGIApp, Receive, Scope, Send

_USER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def handle(session: Session, path: str, query: str) -> tuple[int, Any]:
    """The demo's routes, the same for every front: ``(HTTP status, JSON body)`` for a request
    to ``path`` with ``query`` (the raw query string) on ``session``."""
    if path == "/visits":
        session["visits"] = session.get("visits", 0) + 1
        session.save()
        return 200, {"visits": session["visits"]}
    if path == "/login":
        users = parse_qs(query).get("user", [])
        if len(users) != 1 or not _USER.fullmatch(users[0]):
            return 400, {"error": "?user=NAME needed"}
        session.regenerate_id()
        session["user"] = users[0]
        session.save()
        return 200, {"user": users[0], "visits": session.get("visits", 0)}
    if path == "/whoami":
        return 200, {"user": session.get("user"), "visits": session.get("visits", 0)}
    if path == "/logout":
        session.delete()
        return 200, {"user": None}
    return 404, {"error": f"no route {path}"}


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def make_app(sessions: Sessions) -> WSGIApp:
    """The demo application wrapped in a :class:`SessionMiddleware` using ``sessions``."""
    key = sessions.environ_key

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, body = handle(
            environ[key], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
        )
        data = _json(body)
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    return SessionMiddleware(app, sessions)


def make_asgi_app(sessions: Sessions) -> ASGIApp:
    """The demo as a pure ASGI application wrapped in the ASGI
    :class:`~beaker.sessions.asgi.SessionMiddleware` using ``sessions`` (on an async store,
    or cookie-only)."""
    from beaker.sessions.asgi import SessionMiddleware as ASGISessionMiddleware

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        status, body = handle(
            scope["session"], scope["path"], scope.get("query_string", b"").decode("latin-1")
        )
        data = _json(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    return ASGISessionMiddleware(app, sessions)


def demo_app(
    data_dir: str | None = None, *, secret: str = "demo secret, change me", **options: Any
) -> WSGIApp:
    """The demo with file sessions under ``data_dir`` (locks in ``data_dir/locks``, id cookie
    signed with ``secret``), or with signed cookie-only sessions when ``data_dir`` is
    ``None``. ``options`` go to :class:`~beaker.sessions.factory.Sessions`."""
    if data_dir is None:
        return make_app(cookie_only([secret], **options))
    import os

    from beaker.locks.file import FileLock
    from beaker.stores.file import FileStore

    store = FileStore(data_dir)
    lock = FileLock(os.path.join(data_dir, "locks"))
    return make_app(server_side(store, lock=lock, secret=secret, **options))
