"""Flask on the native session engine: :class:`BeakerSessionInterface`, a
:class:`flask.sessions.SessionInterface` that gives a Flask app server-side sessions (any
:class:`~beaker.stores.base.Store`) or signed / AES-GCM sealed cookie sessions::

    from beaker.sessions import server_side
    from beaker.sessions.flask import BeakerSessionInterface
    from beaker.stores.redis import RedisStore

    app.session_interface = BeakerSessionInterface(server_side(RedisStore(url=...)))

``flask.session`` is then a :class:`FlaskSession`: a dict as Flask's own, saved when changed,
with the engine's :class:`~beaker.sessions.model.Session` (``regenerate_id()``, ``id`` …) at
:attr:`FlaskSession.beaker`.

Needs the ``flask`` extra. Must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from flask.sessions import SessionInterface, SessionMixin

from beaker.sessions.cookies import CookieSettings
from beaker.sessions.factory import SYNC_SESSIONS, Sessions
from beaker.sessions.model import Session

if TYPE_CHECKING:
    from flask import Flask, Request, Response


class FlaskSession(SessionMixin):
    """``flask.session`` on :class:`BeakerSessionInterface`: the request's
    :class:`~beaker.sessions.model.Session` with Flask's session attributes.

    Nothing is read until the data is touched. As in Flask, setting or deleting a key marks
    the session :attr:`modified`, and a modified session is saved when the response is made
    (set ``modified = True`` yourself after changing a nested value in place);
    :attr:`permanent` (stored in the data under ``"_permanent"``, as Flask does) chooses the
    cookie's lifetime, see :class:`BeakerSessionInterface`.

    Attributes:
        beaker: the engine's session, for what Flask's API lacks: ``regenerate_id()`` (call
            it on login), ``invalidate()``, ``id``, ``created``, ``is_new``.
        modified: whether the data changed in this request (``bool``).
        accessed: set by Flask when ``flask.session`` is used (``bool``).
    """

    def __init__(self, session: Session) -> None:
        """Args:
        session: the request's session, from :meth:`Sessions.open
            <beaker.sessions.factory.Sessions.open>`.
        """
        self.beaker = session
        self.modified = False
        self.accessed = False

    @property
    def new(self) -> bool:  # type: ignore[override]  # Flask's is a plain class attribute
        """Whether no stored session was found for this request (loads the session)."""
        return self.beaker.is_new

    def __getitem__(self, key: str) -> Any:
        return self.beaker[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.beaker[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        del self.beaker[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return iter(self.beaker)

    def __len__(self) -> int:
        return len(self.beaker)

    def __contains__(self, key: object) -> bool:
        return key in self.beaker

    def get(self, key: str, default: Any = None) -> Any:
        return self.beaker.get(key, default)

    def clear(self) -> None:
        self.beaker.clear()
        self.modified = True

    def __repr__(self) -> str:
        return f"<FlaskSession {self.beaker!r}>"


@attrs.frozen
class BeakerSessionInterface(SessionInterface):
    """Flask's session interface on a :class:`~beaker.sessions.factory.Sessions`:
    ``app.session_interface = BeakerSessionInterface(sessions)``.

    ``sessions`` is the source of truth: the backend (server-side store or cookie), timeouts,
    locking and the cookie (:class:`~beaker.sessions.cookies.CookieSettings`: name, path,
    domain, flags, lifetime). Flask's ``SESSION_COOKIE_*`` settings and ``SECRET_KEY`` are not
    read; to reuse the app's cookie settings, build the cookie with
    :func:`flask_cookie_settings` (``server_side(store, cookie=flask_cookie_settings(
    app.config))``). The interface answers Flask's ``get_cookie_*`` questions from
    ``sessions.cookie``.

    Life cycle, per request: the session is opened lazily (a request that never touches
    ``flask.session`` reads and writes nothing, and gets no ``Set-Cookie``); when Flask makes
    the response, a session that was :attr:`~FlaskSession.modified` is saved, one emptied by
    ``session.clear()`` is deleted (record removed, cookie expired, as Flask removes an
    emptied cookie), and the engine settles the rest (access-time refresh with a ``timeout``,
    expired or forged cookies replaced, the lock released). ``Vary: Cookie`` is added whenever
    the session was used. A forged, altered or expired cookie gives a fresh session.

    As Flask's ``session.permanent``, a session that is not permanent (Flask's default) gets a
    browser-session cookie; a permanent one gets the lifetime of ``sessions.cookie.expires``.

    Flask calls ``save_session`` for error responses too (its own cookie session is saved
    then); so is this one. ``lock_requests`` holds the lock until that call.

    Args:
        sessions: the session configuration, on a sync store or a cookie backend.

    Raises:
        ComponentTypeError: ``sessions`` is not a ``Sessions``.
        ConfigError: ``sessions`` keeps its records in an async store.
    """

    sessions: Sessions = attrs.field(validator=SYNC_SESSIONS)

    def open_session(self, app: Flask, request: Request) -> FlaskSession:
        """The request's session, not yet loaded."""
        return FlaskSession(self.sessions.open(request.environ.get("HTTP_COOKIE")))

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Save or delete ``session`` as it was changed, and put its cookie on ``response``.

        Raises:
            CookieTooLarge: a cookie session's data does not fit its cookie.
            SerializationError: the data cannot be encoded.
        """
        assert isinstance(session, FlaskSession)
        beaker = session.beaker
        if session.accessed or beaker.loaded:
            response.vary.add("Cookie")
        if beaker.loaded:
            beaker.cookie_expires = None if session.permanent else True
            if session.modified:
                beaker.save_or_delete()
        cookie = beaker.finish()
        if cookie is not None:
            response.headers.add("Set-Cookie", cookie)

    def get_cookie_name(self, app: Flask) -> str:
        """``sessions.cookie.name``."""
        return self.sessions.cookie.name

    def get_cookie_domain(self, app: Flask) -> str | None:
        """``sessions.cookie.domain``."""
        return self.sessions.cookie.domain

    def get_cookie_path(self, app: Flask) -> str:
        """``sessions.cookie.path``."""
        return self.sessions.cookie.path

    def get_cookie_httponly(self, app: Flask) -> bool:
        """``sessions.cookie.httponly``."""
        return self.sessions.cookie.httponly

    def get_cookie_secure(self, app: Flask) -> bool:
        """``sessions.cookie.secure``."""
        return self.sessions.cookie.secure

    def get_cookie_samesite(self, app: Flask) -> str | None:
        """``sessions.cookie.samesite``."""
        return self.sessions.cookie.samesite

    def get_cookie_partitioned(self, app: Flask) -> bool:
        """``False``: the session cookie is never partitioned."""
        return False


def flask_cookie_settings(config: Mapping[str, Any], **overrides: Any) -> CookieSettings:
    """Cookie settings from a Flask app's configuration (``app.config``), for
    ``server_side(..., cookie=...)`` / ``cookie_only(..., cookie=...)``.

    Reads ``SESSION_COOKIE_NAME``, ``SESSION_COOKIE_PATH`` (else ``APPLICATION_ROOT``),
    ``SESSION_COOKIE_DOMAIN``, ``SESSION_COOKIE_SECURE``, ``SESSION_COOKIE_HTTPONLY``,
    ``SESSION_COOKIE_SAMESITE`` and ``PERMANENT_SESSION_LIFETIME`` (the lifetime of permanent
    sessions' cookies, a ``timedelta`` or seconds).

    Args:
        config: the app's configuration (any mapping with Flask's keys).
        **overrides: any :class:`~beaker.sessions.cookies.CookieSettings` argument, winning
            over the configuration (e.g. ``max_size``).

    Raises:
        ConfigError: a setting that is not a legal cookie attribute (see ``CookieSettings``).
        ComponentTypeError: a setting of the wrong type.
    """
    settings: dict[str, Any] = {
        "name": config["SESSION_COOKIE_NAME"],
        "path": config.get("SESSION_COOKIE_PATH") or config.get("APPLICATION_ROOT") or "/",
        "domain": config.get("SESSION_COOKIE_DOMAIN") or None,
        "secure": bool(config.get("SESSION_COOKIE_SECURE", False)),
        "httponly": bool(config.get("SESSION_COOKIE_HTTPONLY", True)),
        "samesite": config.get("SESSION_COOKIE_SAMESITE"),
        "expires": config["PERMANENT_SESSION_LIFETIME"],
    }
    settings.update(overrides)
    return CookieSettings(**settings)
