"""Beaker's WSGI middleware (``beaker.middleware``): :class:`SessionMiddleware` and
:class:`CacheMiddleware`, plus the Paste filter factories.

Options come as Beaker takes them: a ``config`` dict of ``session.*`` / ``beaker.session.*``
(or ``cache.*`` / ``beaker.cache.*``) settings, overridden by keyword arguments; they are
coerced and validated when the middleware is built, so a bad option fails at start-up with
one :class:`~beaker.errors.ConfigError` naming it, not on the first request.

Imports the compat session, session setup, cache and config modules, and the native
middleware's ``Vary`` handling.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

from beaker.compat.cache import CacheManager
from beaker.compat.config import (
    CACHE_PREFIXES,
    coerce_session_params,
    parse_cache_config_options,
    prefixed,
    session_options,
)
from beaker.compat.session import Session, SessionObject
from beaker.compat.session_setup import session_setup
from beaker.sessions.middleware import add_vary_cookie

__all__ = [
    "CacheMiddleware",
    "SessionMiddleware",
    "session_filter_app_factory",
    "session_filter_factory",
]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Config = dict[str, Any] | None
_SESSION = "beaker.session"

_SESSION_PREFIXES = ("beaker.session.", "session.", "session_")
_SESSION_DEFAULTS = {
    "invalidate_corrupt": True,
    "type": None,
    "data_dir": None,
    "key": "beaker.session.id",
    "timeout": None,
    "save_accessed_time": True,
    "secret": None,
    "log_file": None,
}


class SessionMiddleware:
    """Puts a lazy session in ``environ[environ_key]`` for every request (Beaker's
    ``beaker.middleware.SessionMiddleware``).

    The session is loaded only when touched. When the application calls ``start_response``,
    a touched session is persisted by Beaker's rules (written if ``save()``/``delete()`` was
    called or ``auto`` is on; otherwise only its access time, with ``save_accessed_time``)
    and its ``Set-Cookie`` header is added, with ``Vary: Cookie``. Call ``save()`` before
    ``start_response``. ``environ['beaker.get_session']`` makes a cookie-less session for
    background work.

    Args:
        wrap_app: the WSGI application.
        config: settings; those prefixed ``session.`` or ``beaker.session.`` are used.
        environ_key: where the session goes in the environ (default ``"beaker.session"``).
        **kwargs: session options (prefixed or not) overriding ``config``.

    Raises:
        ConfigError: a bad option, naming it.
    """

    def __init__(
        self, wrap_app: WSGIApp, config: Config = None, environ_key: str = _SESSION, **kwargs: Any
    ) -> None:
        found, spelled = prefixed({**(config or {}), **kwargs}, _SESSION_PREFIXES)
        if any(key.startswith("session_") for key in spelled.values()):
            warnings.warn(
                "Session options should start with session. instead of session_.",
                DeprecationWarning,
                stacklevel=2,
            )
        options: dict[str, Any] = {**_SESSION_DEFAULTS, **found, **kwargs}

        def named(name: str) -> str:
            return spelled.get(name, name)

        # Parsed once, here: a bad or missing option fails now, not at the first request.
        parsed = session_options(options, named)
        self._setup = session_setup(parsed, named)
        coerce_session_params(options, parsed)
        self.options = options
        self._varname = options.get("webtest_varname")
        self.wrap_app = self.app = wrap_app
        self.environ_key = environ_key

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        session = SessionObject._for(environ, self.options, self._setup)
        environ[self.environ_key] = session
        environ["beaker.get_session"] = self._get_session
        if self._varname is not None and "paste.testing_variables" in environ:
            environ["paste.testing_variables"][self._varname] = session

        def session_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            state = session.__dict__
            if state["_sess"] is not None:  # accessed
                session.persist()
                out = state["_headers"]
                if out.get("set_cookie") and out["cookie_out"]:
                    headers.append(("Set-Cookie", out["cookie_out"]))
                add_vary_cookie(headers)
            return start_response(status, headers, exc_info)

        return self.wrap_app(environ, session_start_response)

    def _get_session(self) -> Session:
        return Session._open({}, self._setup, use_cookies=False)


class CacheMiddleware:
    """Puts a :class:`~beaker.compat.cache.CacheManager` in ``environ[environ_key]`` (Beaker's
    ``beaker.middleware.CacheMiddleware``).

    Args:
        app: the WSGI application.
        config: settings; those prefixed ``cache.`` or ``beaker.cache.`` are used (all of
            them if none is prefixed).
        environ_key: where the manager goes (default ``"beaker.cache"``).
        **kwargs: cache options overriding ``config``.

    Raises:
        ConfigError: a bad option, naming it.
    """

    def __init__(
        self, app: WSGIApp, config: Config = None, environ_key: str = "beaker.cache", **kwargs: Any
    ) -> None:
        config = config or {}
        if not prefixed(config, CACHE_PREFIXES)[0]:  # no prefix at all: every key is an option
            config = {f"cache.{key}": value for key, value in config.items()}
        options = parse_cache_config_options({**config, **kwargs})
        options.update({k: v for k, v in kwargs.items() if not k.startswith(CACHE_PREFIXES)})
        self.app = app
        self.options = options
        self.cache_manager = CacheManager(**options)
        self.environ_key = environ_key

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        environ[self.environ_key] = self.cache_manager
        return self.app(environ, start_response)


def session_filter_factory(
    global_conf: dict[str, Any], **kwargs: Any
) -> Callable[[WSGIApp], SessionMiddleware]:
    """Paste Deploy filter factory for :class:`SessionMiddleware`."""

    def filter(app: WSGIApp) -> SessionMiddleware:
        return SessionMiddleware(app, global_conf, **kwargs)

    return filter


def session_filter_app_factory(
    app: WSGIApp, global_conf: dict[str, Any], **kwargs: Any
) -> SessionMiddleware:
    """Paste Deploy filter-app factory for :class:`SessionMiddleware`."""
    return SessionMiddleware(app, global_conf, **kwargs)
