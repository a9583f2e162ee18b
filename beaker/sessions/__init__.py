"""Sessions: per-browser state behind a cookie, kept server-side in any Store or in the cookie
itself (signed or encrypted), with a native WSGI middleware.

Quick start::

    from beaker.sessions import SessionMiddleware, server_side, cookie_only
    from beaker.stores.file import FileStore
    from beaker.locks.file import FileLock
    from beaker.serializers.aead import AESGCMEncrypter

    sessions = server_side(FileStore("/var/lib/app/sessions"), lock=FileLock("/var/lock/app"),
                           secret="long random secret", timeout=1800)
    # or: sessions = cookie_only(AESGCMEncrypter(["new key", "old key"]))
    app = SessionMiddleware(app, sessions)

    def app(environ, start_response):
        session = environ["beaker.session"]
        session["visits"] = session.get("visits", 0) + 1
        session.save()
        ...

The parts: :class:`Sessions` (configuration, frozen), :class:`Session` (one request's session),
:class:`ServerSideBackend` / :class:`CookieBackend` (where data lives), :class:`CookieSettings`
(the cookie), :class:`SessionIds` (ids), :class:`SessionMiddleware` (WSGI);
:mod:`beaker.sessions.asgi` has the ASGI middleware (Starlette's and FastAPI's
``request.session``) and :mod:`beaker.sessions.flask` Flask's session interface, both on the
same engine; ``beaker.sessions.purge`` removes expired server-side sessions.

Must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from beaker.sessions.cookies import CookieSettings
from beaker.sessions.factory import Sessions, cookie_only, server_side
from beaker.sessions.ids import SessionIds
from beaker.sessions.middleware import SessionMiddleware
from beaker.sessions.model import Session
from beaker.sessions.store import (
    CookieBackend,
    ServerSideBackend,
    SessionBackend,
    SessionRecord,
)

__all__ = [
    "CookieBackend",
    "CookieSettings",
    "ServerSideBackend",
    "Session",
    "SessionBackend",
    "SessionIds",
    "SessionMiddleware",
    "SessionRecord",
    "Sessions",
    "cookie_only",
    "server_side",
]
