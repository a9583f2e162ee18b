"""A small WSGI application showing sessions, for the demo and the tests.

Routes (every response is JSON):

* ``GET /visits`` — a per-browser visit counter: ``{"visits": n}``.
* ``GET /login?user=NAME`` — logs ``NAME`` in and moves the session to a new id
  (``regenerate_id()``, the defence against session fixation); the visit count survives:
  ``{"user": NAME, "visits": n}``.
* ``GET /whoami`` — ``{"user": NAME or null, "visits": n}``; reads without writing.
* ``GET /logout`` — deletes the session and expires the cookie: ``{"user": null}``.

Build it with :func:`make_app` around any :class:`~beaker.sessions.factory.Sessions`, or with
:func:`demo_app` for a file-backed (or cookie-only) default.

Must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from beaker.sessions.factory import Sessions, cookie_only, server_side
from beaker.sessions.middleware import SessionMiddleware, StartResponse, WSGIApp

_USER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def _respond(start_response: StartResponse, status: str, body: Any) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def _app(environ: dict[str, Any], start_response: StartResponse, key: str) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/visits":
        session = environ[key]
        session["visits"] = session.get("visits", 0) + 1
        session.save()
        return _respond(start_response, "200 OK", {"visits": session["visits"]})
    if path == "/login":
        users = parse_qs(environ.get("QUERY_STRING", "")).get("user", [])
        if len(users) != 1 or not _USER.fullmatch(users[0]):
            return _respond(start_response, "400 Bad Request", {"error": "?user=NAME needed"})
        session = environ[key]
        session.regenerate_id()
        session["user"] = users[0]
        session.save()
        return _respond(
            start_response, "200 OK", {"user": users[0], "visits": session.get("visits", 0)}
        )
    if path == "/whoami":
        session = environ[key]
        return _respond(
            start_response,
            "200 OK",
            {"user": session.get("user"), "visits": session.get("visits", 0)},
        )
    if path == "/logout":
        environ[key].delete()
        return _respond(start_response, "200 OK", {"user": None})
    return _respond(start_response, "404 Not Found", {"error": f"no route {path}"})


def make_app(sessions: Sessions) -> WSGIApp:
    """The demo application wrapped in a :class:`SessionMiddleware` using ``sessions``."""
    key = sessions.environ_key

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return _app(environ, start_response, key)

    return SessionMiddleware(app, sessions)


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
