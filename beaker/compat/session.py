"""Beaker's session API (``beaker.session``): :class:`Session`, :class:`CookieSession`,
:class:`SessionObject`, :class:`SignedCookie`, as fronts on the native engine.

A compat session is a ``dict`` in front of one :class:`beaker.sessions.Session`, which does
the work (ids, timeouts, loading, saving, retiring ids, the cookie and its codec, Beaker
1.14.1's leftovers). The front keeps what Beaker's callers see: the ``_creation_time`` /
``_accessed_time`` / ``_domain`` / ``_path`` (cookie sessions: ``_id``) entries, the
``request`` dict receiving ``cookie_out`` and ``set_cookie``, the attribute names, and
:class:`SessionObject`'s laziness and saving rules.

Imports :mod:`beaker.compat.session_setup` and :mod:`beaker.sessions`, not the middleware.
"""

from __future__ import annotations

import base64
import http.cookies
from collections.abc import Iterator
from operator import attrgetter, itemgetter
from typing import Any, Final

import attrs

from beaker.compat.container import NamespaceManager
from beaker.compat.exceptions import BeakerException
from beaker.compat.session_setup import CallSerializer, SessionSetup, session_setup
from beaker.errors import ConfigError
from beaker.sessions import Session as NativeSession
from beaker.sessions import Sessions
from beaker.sessions.migration import legacy_cookie_id, sign_legacy_id

__all__ = [
    "CookieSession",
    "InvalidSignature",
    "Session",
    "SessionNamespace",
    "SessionObject",
    "SignedCookie",
]


def _entry(key: str, default: str | None, doc: str) -> Any:
    """A property showing the ``dict`` entry ``key`` (``default`` when unset or empty);
    assigning it sends a server session's cookie with it, as Beaker's setter."""

    def assign(self: Session, value: str) -> None:
        self[key] = value
        if not self._cookie_only:
            self._push()

    return property(lambda self: self.get(key) or default, assign, doc=doc)


class Session(dict):  # type: ignore[type-arg]
    """A server-side session (``beaker.session.Session``): a ``dict`` of the data, loaded
    at construction.

    Args:
        request: a ``dict`` carrying the request's ``"cookie"`` header in and receiving
            ``"cookie_out"`` (the ``Set-Cookie`` value) and ``"set_cookie"`` out.
        id: load this stored session (an unknown id gives a new session with a new id, where
            Beaker adopted it).
        use_cookies: read and produce cookies (``bool``, default ``True``).
        **options: Beaker's session options (``type``, ``data_dir``, ``key``, ``secret``,
            ``timeout``, ``cookie_expires`` …); strings are coerced as from an INI file.

    Attributes:
        id, is_new, last_accessed (``None`` when new), accessed_dict (the data as loaded),
        was_invalidated, request, key, timeout, secure, httponly, samesite, cookie_expires,
        secret, save_atime, invalidate_corrupt, use_cookies: as Beaker's.

    Raises:
        ConfigError: a bad option.
        DeserializationError: the stored record is corrupt and ``invalidate_corrupt`` is
            false (with it true, a new session replaces it and the engine logs it).
    """

    _native: NativeSession
    _setup: SessionSetup
    _scope: tuple[str | None, str] | None = None  # the native session's, once set
    _deleted = False
    request: dict[str, Any]
    use_cookies: bool
    was_invalidated: bool
    _loaded: tuple[dict[str, Any], dict[str, Any]]
    _cookie_only = False
    #: The entries this front shows that are no session data (``_domain``/``_path`` may be).
    _shown: tuple[str, ...] = ("_creation_time", "_accessed_time")
    #: Whether this class overrides Beaker's cookie payload hooks (see CookieSession).
    _hooked = False

    def __init__(
        self,
        request: dict[str, Any],
        id: str | None = None,
        use_cookies: bool = True,
        **options: Any,
    ) -> None:
        self._begin(request, session_setup(options), id, use_cookies)

    @classmethod
    def _open(
        cls,
        request: dict[str, Any],
        setup: SessionSetup,
        id: str | None = None,
        use_cookies: bool = True,
    ) -> Session:
        """A session on a built setup (the middleware's path: no option parsing)."""
        self = cls.__new__(cls)
        self._begin(request, setup, id, use_cookies)
        return self

    def _begin(
        self, request: dict[str, Any], setup: SessionSetup, id: str | None, use_cookies: bool
    ) -> None:
        if (setup.type == "cookie") is not self._cookie_only:
            raise ConfigError(
                "type", setup.type, "'cookie' for CookieSession, else Session's types"
            )
        sessions = setup.sessions
        if self._hooked:
            sessions = self._engine(sessions)
        native = None if id is None else sessions.get_by_id(id)
        if native is None:
            native = sessions.open(request.get("cookie") if use_cookies and id is None else None)
        self.__dict__.update(_setup=setup, request=request, use_cookies=use_cookies, _native=native)
        self._fill()

    def _engine(self, sessions: Sessions) -> Sessions:
        """The native sessions serving this one (a subclass's hooks may wrap them)."""
        return sessions

    def __getattr__(self, name: str) -> Any:
        """Beaker's per-session attributes that follow from the options (``key``,
        ``timeout`` …), until a session sets its own."""
        try:
            return self.__dict__["_setup"].defaults[name]
        except KeyError:
            raise AttributeError(name) from None

    def _fill(self) -> None:
        """Show the native session's data and times in this ``dict``."""
        native, default = self._native, self._setup.scope
        data, session_id, created, accessed = native.snapshot()
        scope = default
        if "_domain" in data or "_path" in data:  # a scope kept with the session
            scope = (data.get("_domain") or default[0], data.get("_path") or default[1])
        if scope != (self._scope or default):
            native.restore_scope(*scope)
            self._scope = scope
        entries = {
            "_domain": scope[0],
            "_path": scope[1],
            "_creation_time": created,
            "_accessed_time": accessed,
        }
        if self._cookie_only:
            entries["_id"] = session_id
        if self:
            dict.clear(self)
        dict.update(self, data)
        dict.update(self, entries)
        self._loaded = (data, entries)

    @property
    def accessed_dict(self) -> dict[str, Any]:
        """The data as loaded at the start of the request (Beaker's ``accessed_dict``)."""
        data, entries = self._loaded
        return {**data, **entries}

    def _push(self) -> dict[str, Any]:
        """Hand this ``dict``'s data to the native session; return what was handed over."""
        native, default = self._native, self._setup.scope
        shown = self._shown
        data = {key: value for key, value in self.items() if key not in shown}
        scope = (data.pop("_domain", None) or default[0], data.pop("_path", None) or default[1])
        if scope != default:
            data["_domain"], data["_path"] = scope
        if scope != (self._scope or default):  # a change: the cookie goes out with it
            native.domain, native.path = self._scope = scope
        native.replace(data)
        return data

    id: Any = property(attrgetter("_native.id"), doc="The session id (32 hex digits).")
    is_new = property(attrgetter("_native.is_new"), doc="No stored session (or invalidated).")
    last_accessed = property(
        attrgetter("_native.last_accessed"), doc="The previous access time (``None``: new)."
    )

    @property
    def created(self) -> float:
        """When the session was created (``_creation_time``)."""
        return self["_creation_time"]  # type: ignore[no-any-return]

    domain = _entry("_domain", None, "The cookie's ``Domain``, kept with the session (Beaker's).")
    path = _entry("_path", "/", "The cookie's ``Path``, kept with the session (as Beaker's).")

    @property
    def namespace(self) -> SessionNamespace:
        """The session's storage as Beaker's per-session namespace manager (``namespace`` is
        the id; its one key ``"session"`` holds the stored data)."""
        if self._cookie_only:
            raise AttributeError("namespace")  # as Beaker's CookieSession: the cookie is all
        return SessionNamespace(self.id, self._setup.sessions.backend)

    @property
    def cookie(self) -> http.cookies.SimpleCookie:
        """The request's cookies and the one about to be sent (Beaker's ``cookie``), a
        :class:`http.cookies.SimpleCookie` holding this package's cookie values."""
        cookie = http.cookies.SimpleCookie()
        for header in (self.request.get("cookie"), self.request.get("cookie_out")):
            try:
                cookie.load(header or "")
            except http.cookies.CookieError:
                pass
        return cookie

    has_key = dict.__contains__

    def clear(self) -> None:
        """Remove the data; the cookie domain and path stay (as Beaker)."""
        scope = {"_domain": self.get("_domain"), "_path": self.get("_path")}
        super().clear()
        dict.update(self, scope)

    def _send(self, cookie: str | None) -> None:
        if cookie is not None and self.use_cookies:
            self.request["cookie_out"] = cookie
            self.request["set_cookie"] = True

    def save(self, accessed_only: bool = False) -> None:
        """Write the session now.

        Args:
            accessed_only: Beaker's end-of-request write (the data as loaded with the new
                access time, if ``save_accessed_time``); ends the session's request: its
                lock is released and retired ids removed.

        Raises:
            SerializationError: the data cannot be encoded by ``data_serializer``.
            CookieTooLarge: a cookie session's cookie would exceed 4096 bytes.
        """
        if accessed_only:
            self._end(False)
            return
        data = self._push()
        if self._deleted and not data:
            return  # after delete(), only new data is kept
        cookie = self._native.persist()
        if not self._cookie_only and self._native.snapshot()[0] != data:  # merged into newer
            loaded = self._loaded
            self._fill()
            self._loaded = loaded
        self._send(cookie)

    def _end(self, write: bool) -> None:
        """Beaker's end of the request in one step: with ``write`` (``save()`` was called) the
        whole session is written, else only what the native rules write (``auto``, the
        access time); the session's request ends (lock released, retired ids removed) and the
        cookie goes to :attr:`request`."""
        native = self._native
        if write:  # after delete(), only new data is kept
            write = bool(self._push()) or not self._deleted
        elif native.save_requested or self._setup.sessions.auto:
            self._push()
        cookie = native.finish(save=write)
        if cookie is not None and self.use_cookies:  # _send, inline: every request ends here
            self.request["cookie_out"] = cookie
            self.request["set_cookie"] = True

    def delete(self) -> None:
        """Remove the session from storage and expire the browser's cookie."""
        native = self._native
        cookie = self._setup.sessions.cookie.delete_cookie(path=native.path, domain=native.domain)
        native.delete()
        self._deleted = True
        self._fill()
        self._send(cookie)

    def invalidate(self) -> None:
        """Start over: a new id, no data, ``is_new``; the old record is removed."""
        self._native.invalidate()
        self.was_invalidated = True
        self._fill()

    def regenerate_id(self) -> None:
        """Keep the data under a new id (call on login, against session fixation)."""
        self._native.regenerate_id()
        if self._cookie_only:
            self["_id"] = self._native.id

    def revert(self) -> None:
        """Put the data back as it was loaded at the start of the request."""
        self._native.revert()
        self._fill()

    def lock(self) -> None:
        """Hold this session's lock until :meth:`unlock` (pair them in ``try``/``finally``)."""
        self._native.lock()

    def unlock(self) -> None:
        """Release the lock taken by :meth:`lock` (:class:`~beaker.errors.LockError` if not
        held)."""
        self._native.unlock()


class CookieSession(Session):
    """A session kept entirely in the cookie (``beaker.session.CookieSession``): signed with
    ``validate_key`` (HMAC-SHA256) or sealed with AES-256-GCM under ``encrypt_key``, verified
    before anything is decoded; a bad cookie is a fresh session. The id is the ``_id`` entry.

    Args:
        request: as for :class:`Session`.
        **options: ``validate_key`` (required), ``encrypt_key``, ``key``, ``timeout``,
            ``save_accessed_time``, ``cookie_expires``, ``cookie_domain``, ``cookie_path``,
            ``secure``, ``httponly``, ``samesite``, ``data_serializer``, ``invalidate_corrupt``.

    Raises:
        BeakerException: no ``validate_key``; (from ``save``) ``CookieTooLarge``.
    """

    _cookie_only = True
    _shown = ("_creation_time", "_accessed_time", "_id")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hooks = (CookieSession._encrypt_data, CookieSession._decrypt_data)
        cls._hooked = (cls._encrypt_data, cls._decrypt_data) != hooks

    def __init__(self, request: dict[str, Any], **options: Any) -> None:
        for name in ("id", "use_cookies"):
            options.pop(name, None)
        self._begin(request, session_setup({**options, "type": "cookie"}), None, True)

    id = property(itemgetter("_id"), doc="The session id (``_id``).")

    def _engine(self, sessions: Sessions) -> Sessions:
        """The sessions with this class's ``_encrypt_data`` / ``_decrypt_data`` making the
        cookie's payload when a subclass overrides them (signed or sealed around it)."""
        hooks = CallSerializer(
            self._encrypt_data,
            lambda data: self._decrypt_data(data.decode("utf-8")),
            "_encrypt_data/_decrypt_data",
        )
        backend = attrs.evolve(sessions.backend, serializer=hooks)  # type: ignore[misc]
        return attrs.evolve(sessions, backend=backend)

    def _encrypt_data(self, session_data: dict[str, Any] | None = None) -> str:
        """The session data as the text the cookie carries (Beaker's hook; a subclass may
        override it with :meth:`_decrypt_data`): base64 of ``data_serializer``'s bytes. The
        cookie's signature or encryption is added around it.

        Args:
            session_data: the data (default: this session's).
        """
        serializer = self._setup.sessions.backend.serializer
        return base64.b64encode(serializer.dumps(session_data or dict(self))).decode("ascii")

    def _decrypt_data(self, session_data: str) -> dict[str, Any]:
        """The data in a cookie payload made by :meth:`_encrypt_data` (Beaker's hook)."""
        serializer = self._setup.sessions.backend.serializer
        return serializer.loads(base64.b64decode(session_data))  # type: ignore[no-any-return]


#: The session classes whose ``save`` is this module's (SessionObject.persist may fuse its steps).
_OWN_CLASSES: Final = (Session, CookieSession)


class SessionNamespace(NamespaceManager):
    """A server session's storage as Beaker's per-session namespace manager (what
    ``session.namespace`` is): ``namespace`` is the session id, the one key ``"session"``
    holds the stored data ``dict``; removing it removes the stored session.

    Args:
        session_id: the id (``str``).
        backend: the native :class:`~beaker.sessions.store.SessionBackend` holding it.
    """

    def __init__(self, session_id: str, backend: Any) -> None:
        NamespaceManager.__init__(self, session_id)
        self.backend = backend

    def _items(self) -> dict[str, Any]:
        loaded = self.backend.read_id(self.namespace)
        return {} if loaded is None else {"session": loaded.data}

    def __getitem__(self, key: Any) -> Any:
        return self._items()[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._items()

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        self.do_remove()

    def keys(self) -> list[str]:
        return list(self._items())

    def do_remove(self) -> None:
        self.backend.remove(self.namespace)


class _InvalidSignatureType:
    """What :class:`SignedCookie` gives for a value whose signature does not verify (falsy)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "InvalidSignature"


#: Beaker's marker for a cookie value that failed verification.
InvalidSignature: Final = _InvalidSignatureType()


class SignedCookie(http.cookies.SimpleCookie):
    """Beaker's HMAC-SHA1 signed cookie (``beaker.session.SignedCookie``), kept for imports
    and Beaker-format cookies; sessions issue HMAC-SHA256 cookies instead.

    Args:
        secret: the signing secret (``str``).
        input: a ``Cookie`` header to parse.
    """

    def __init__(self, secret: str, input: str | None = None) -> None:
        self.secret = secret.encode("utf-8")
        super().__init__(input)

    def value_decode(self, val: str) -> tuple[Any, str]:
        val = val.strip('"')
        if not val:
            return None, val
        session_id = legacy_cookie_id(val, self.secret)
        return (InvalidSignature if session_id is None else session_id), val

    def value_encode(self, val: Any) -> tuple[str, str]:
        text = str(val)
        return text, sign_legacy_id(self.secret, text)


class SessionObject:
    """The lazy session the middleware puts in the environ (``beaker.session.SessionObject``).

    Nothing is read until the session is touched; then a :class:`Session` (a
    :class:`CookieSession` for ``type = cookie``, or ``session_class``) is built and every
    attribute and item access goes to it. ``save()`` marks the session to be written when the
    response starts (:meth:`persist`).

    Args:
        environ: the WSGI environ (its ``HTTP_COOKIE`` is read).
        **params: the session options.
    """

    def __init__(self, environ: dict[str, Any], **params: Any) -> None:
        self.__dict__.update(_params=params, _environ=environ, _sess=None, _headers={}, _setup=None)

    @classmethod
    def _for(
        cls, env: dict[str, Any], params: dict[str, Any], setup: SessionSetup
    ) -> SessionObject:
        """A session object for ``env`` on the middleware's ``setup`` (``params``: shared)."""
        self = cls.__new__(cls)
        self.__dict__.update(_params=params, _environ=env, _sess=None, _headers={}, _setup=setup)
        return self

    def _setup_now(self) -> SessionSetup:
        setup = self.__dict__["_setup"]
        if setup is None:
            setup = self.__dict__["_setup"] = session_setup(self.__dict__["_params"])
        return setup  # type: ignore[no-any-return]

    def _session(self) -> Session:
        """The session, built on first use."""
        session = self.__dict__["_sess"]
        if session is None:
            session = self._build()
        return session  # type: ignore[no-any-return]

    def _build(self) -> Session:
        own = self.__dict__
        cookie = own["_environ"].get("HTTP_COOKIE")
        own["_headers"] = request = {"cookie_out": None, "set_cookie": False, "cookie": cookie}
        params = own["_params"]
        session_class = params.get("session_class")
        if session_class is None:
            setup = own["_setup"] or self._setup_now()
            session_class = CookieSession if setup.type == "cookie" else Session
            session = session_class.__new__(session_class)
            session._begin(request, setup, None, True)
        elif isinstance(session_class, type) and issubclass(session_class, Session):
            session = session_class(request, **params)
        else:
            raise BeakerException(f"session_class {session_class!r} is not a Session")
        # The environ holds this object: letting it go leaves no cycle (freed without the GC).
        own.update(_sess=session, _environ=None)
        return session

    # The three calls of a request that reads, changes and saves get the session inline.

    def get(self, key: str, default: Any = None) -> Any:
        """The session's value for ``key``, or ``default`` (as ``dict.get``)."""
        session = self.__dict__["_sess"]
        return (self._build() if session is None else session).get(key, default)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._session(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self._session(), attr, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._session(), name)

    def __getitem__(self, key: str) -> Any:
        return self._session()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        session = self.__dict__["_sess"]
        (self._build() if session is None else session)[key] = value

    def __delitem__(self, key: str) -> None:
        del self._session()[key]

    def __repr__(self) -> str:
        return repr(self._session())

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._session().keys()))

    def __contains__(self, key: object) -> bool:
        return key in self._session()

    has_key = __contains__

    def __len__(self) -> int:
        return len(self._session())

    def get_by_id(self, id: str) -> Session | None:
        """The stored session ``id`` (``None`` if there is none), without cookies."""
        setup = self._setup_now()
        if setup.type == "cookie":
            return None
        session = Session._open({}, setup, id=id, use_cookies=False)
        return None if session.is_new else session

    def save(self) -> None:
        """Mark the session to be written when the response starts."""
        self.__dict__["_dirty"] = True

    def delete(self) -> None:
        """Delete the session now (storage and cookie)."""
        self.__dict__["_dirty"] = True
        self._session().delete()

    def persist(self) -> None:
        """Settle the session by Beaker's rules (the native engine's): write everything if
        ``save()``/``delete()`` was called or ``auto`` is set, else only the access time
        (``save_accessed_time``); ends the session's request."""
        own = self.__dict__
        session = own["_sess"]
        if session is None:
            session = self._build()
        if type(session) in _OWN_CLASSES:  # save() not overridden: both steps in one
            session._end(own.get("_dirty", False))
            return
        if self.dirty():
            session.save()
        session.save(accessed_only=True)

    def dirty(self) -> bool:
        """Whether ``save()`` or ``delete()`` was called."""
        return bool(self.__dict__.get("_dirty", False))

    def accessed(self) -> bool:
        """Whether the session was touched in this request."""
        return self.__dict__["_sess"] is not None
