"""The native WSGI :class:`SessionMiddleware`: one lazy session per request, settled when the
application starts its response.

Must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

import attrs

from beaker.sessions.factory import SYNC_SESSIONS, Sessions
from beaker.sessions.model import Session
from beaker.validators import is_callable

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Headers = list[tuple[str, str]]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def vary_with_cookie(vary: str) -> str | None:
    """The ``Vary`` header value ``vary`` with ``Cookie`` appended, or ``None`` when it already
    names ``Cookie`` or ``*``."""
    fields = [field.strip().lower() for field in vary.split(",")]
    if "cookie" in fields or "*" in fields:
        return None
    return f"{vary}, Cookie"


def add_vary_cookie(headers: Headers) -> None:
    """Add ``Cookie`` to the ``Vary`` header in ``headers`` (a WSGI header list, changed in
    place): appended to an existing ``Vary`` (:func:`vary_with_cookie`), else a new
    ``Vary: Cookie`` header. Used by this middleware and the compat one."""
    for index, (name, value) in enumerate(headers):
        if name.lower() == "vary":
            vary = vary_with_cookie(value)
            if vary is not None:
                headers[index] = (name, vary)
            return
    headers.append(("Vary", "Cookie"))


@attrs.frozen
class SessionMiddleware:
    """Puts a lazy :class:`~beaker.sessions.model.Session` in ``environ[sessions.environ_key]``
    (default ``"beaker.session"``) for every request.

    Nothing is read for a request that never touches the session, and nothing is written or
    sent for one that touches it without changing it (unless ``save_accessed_time`` asks for
    a refresh). When the application calls ``start_response``, a touched session is settled
    (:meth:`Session.finish <beaker.sessions.model.Session.finish>`): saved if asked, its
    ``Set-Cookie`` header added, and ``Vary: Cookie`` added because the response depended on
    the cookie. As in Beaker, call ``session.save()`` *before* ``start_response``.

    If the application raises, or calls ``start_response`` with ``exc_info``, nothing is
    saved, and a lock held by the session is released either way — also when the session is
    first touched while the response body is being produced.

    Args:
        app: the WSGI application to wrap.
        sessions: the session configuration (:class:`~beaker.sessions.factory.Sessions`).

    Raises:
        ComponentTypeError: ``app`` is not callable or ``sessions`` not a ``Sessions``.
        ConfigError: ``sessions`` keeps its records in an async store.
    """

    app: WSGIApp = attrs.field(validator=is_callable("a WSGI application (callable)"))
    sessions: Sessions = attrs.field(validator=SYNC_SESSIONS)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        session = self.sessions.open(environ.get("HTTP_COOKIE"))
        environ[self.sessions.environ_key] = session

        def session_start_response(
            status: str, headers: Headers, exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            if session.loaded:
                cookie = session.finish(commit=exc_info is None)
                headers = list(headers)
                add_vary_cookie(headers)
                if cookie is not None:
                    headers.append(("Set-Cookie", cookie))
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, session_start_response)
        except BaseException:
            session.finish(commit=False)
            raise
        if self.sessions.lock_requests:
            return _Closing(result, session)
        return result


class _Closing:
    """Wraps a response body so that a session first touched while the body is produced (after
    ``start_response``) still releases its lock when the server closes the body."""

    __slots__ = ("_result", "_session")

    def __init__(self, result: Iterable[bytes], session: Session) -> None:
        self._result = result
        self._session = session

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._result)

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._session.finish(commit=False)
