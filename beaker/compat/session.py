"""Beaker's session API (``beaker.session``): :class:`Session`, :class:`CookieSession`,
:class:`SessionObject` and :class:`SignedCookie`, on this package's session machinery.

The objects keep Beaker's contract — a ``dict`` holding the data and the special keys
``_creation_time``, ``_accessed_time``, ``_domain`` and ``_path``; the ``request`` dict through
which ``cookie_out`` and ``set_cookie`` reach the middleware (and pyramid_beaker); Beaker's
saving rules (``save()`` / ``persist()`` / ``auto`` / ``save_accessed_time``) — while the parts
underneath are this package's:

* server-side records go through :class:`~beaker.sessions.store.ServerSideBackend` into the
  same stores as the caches (:mod:`beaker.compat.backends`), with atomic file writes;
* the id cookie is signed with HMAC-SHA256 under ``secret`` (keys derived with HKDF) and
  checked in constant time; only ids of the exact issued shape are ever looked up, and an
  unknown id is never adopted: a new one is issued;
* cookie-only sessions (``type = cookie``) are signed with ``validate_key`` or sealed with
  AES-256-GCM under ``encrypt_key`` (:class:`~beaker.sessions.store.CookieBackend`): nothing
  is deserialized before it verifies, so pickle only ever sees bytes this server wrote; a bad
  cookie gives a fresh session, never an error; the ``SameSite`` attribute is on the first
  cookie and ``cookie_path`` is honoured;
* sessions and cookies Beaker 1.14.1 left behind are read by :mod:`beaker.compat.legacy`.

Where Beaker would keep serving a record after ``delete()`` or leave the old record behind on
``invalidate()``/``regenerate_id()``, these remove it.

This module holds :class:`SessionObject`, the lazy session the middleware hands the
application, and re-exports the rest of ``beaker.session``'s names from where they live:
:mod:`beaker.compat.session_setup` (configuration), :mod:`beaker.compat.server_session`
(:class:`Session`) and :mod:`beaker.compat.cookie_session` (:class:`CookieSession`,
:class:`SignedCookie`, ``InvalidSignature``).

Imports those compat session modules; must not import the middleware.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from beaker.compat.cookie_session import (
    CookieSession,
    DeferredCookieRequest,
    InvalidSignature,
    SignedCookie,
)
from beaker.compat.exceptions import BeakerException
from beaker.compat.server_session import Session

# Importable from here as before; explicit re-exports, not Beaker's API, so not in __all__.
from beaker.compat.session_setup import SessionSetup as SessionSetup  # noqa: PLC0414
from beaker.compat.session_setup import session_setup as session_setup  # noqa: PLC0414

__all__ = [
    "CookieSession",
    "InvalidSignature",
    "Session",
    "SessionObject",
    "SignedCookie",
]


class SessionObject:
    """The lazy session the middleware puts in the environ (``beaker.session.SessionObject``).

    Nothing is read until the session is touched; then a :class:`Session` (or
    :class:`CookieSession` for ``type = cookie``, or ``session_class``) is built and every
    attribute and item access goes to it. ``save()`` only marks the session to be written when
    the response starts (:meth:`persist`).

    Args:
        environ: the WSGI environ (its ``HTTP_COOKIE`` is read).
        **params: the session options.
    """

    def __init__(self, environ: dict[str, Any], **params: Any) -> None:
        self._start(environ, params)

    @classmethod
    def _for(cls, environ: dict[str, Any], params: dict[str, Any]) -> SessionObject:
        """A session object sharing ``params`` (never modified) — the middleware's fast path."""
        self = cls.__new__(cls)
        self._start(environ, params)
        return self

    def _start(self, environ: dict[str, Any], params: dict[str, Any]) -> None:
        state = self.__dict__
        state["_params"] = params
        state["_environ"] = environ
        state["_sess"] = None
        state["_headers"] = {}

    def _session(self) -> Session:
        """The session, built on first use."""
        session = self.__dict__["_sess"]
        if session is None:
            params = self.__dict__["_params"]
            self.__dict__["_headers"] = request = DeferredCookieRequest(
                self.__dict__["_environ"].get("HTTP_COOKIE")
            )
            session_class = params.get("session_class")
            if session_class is None:
                session_class = CookieSession if params.get("type") == "cookie" else Session
                session = session_class(request, **params)
            elif isinstance(session_class, type) and issubclass(session_class, Session):
                options = {k: v for k, v in params.items() if k != "session_class"}
                session = session_class(request, **options)
            else:
                raise BeakerException(f"session_class {session_class!r} is not a Session")
            self.__dict__["_sess"] = session
        return session  # type: ignore[no-any-return]

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._session(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self._session(), attr, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._session(), name)

    def __getitem__(self, key: str) -> Any:
        return self._session()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._session()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._session()[key]

    def __repr__(self) -> str:
        return repr(self._session())

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._session().keys()))

    def __contains__(self, key: object) -> bool:
        return key in self._session()

    def __len__(self) -> int:
        return len(self._session())

    def has_key(self, key: str) -> bool:
        return key in self._session()

    def get_by_id(self, id: str) -> Session | None:
        """The stored session ``id`` (``None`` if there is none), without cookies."""
        params = {k: v for k, v in self.__dict__["_params"].items() if k != "session_class"}
        if params.get("type") == "cookie":
            return None
        session = Session({}, use_cookies=False, id=id, **params)
        return None if session.is_new else session

    def save(self) -> None:
        """Mark the session to be written when the response starts."""
        self.__dict__["_dirty"] = True

    def delete(self) -> None:
        """Delete the session now (storage and cookie)."""
        self.__dict__["_dirty"] = True
        self._session().delete()

    def persist(self) -> None:
        """Write the session as Beaker's rules say: everything if ``save()``/``delete()`` was
        called or ``auto`` is set; otherwise only the access time (``save_accessed_time``)."""
        params = self.__dict__["_params"]
        session = self._session()
        if params.get("auto"):
            session.save()
        elif params.get("save_accessed_time", True) is not False:
            if self.dirty():
                session.save()
            else:
                session.save(accessed_only=True)
        elif self.dirty():
            session.save()

    def dirty(self) -> bool:
        """Whether ``save()`` or ``delete()`` was called."""
        return bool(self.__dict__.get("_dirty", False))

    def accessed(self) -> bool:
        """Whether the session was touched in this request."""
        return self.__dict__["_sess"] is not None
