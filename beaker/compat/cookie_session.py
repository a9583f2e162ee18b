"""Beaker's cookie-only session and cookie classes: :class:`CookieSession` (the whole session
in a signed or encrypted cookie), :class:`SignedCookie` (Beaker's HMAC-SHA1 id cookie, kept for
imports and old cookies) with its :data:`InvalidSignature` marker, and
:class:`DeferredCookieRequest`, the request dict through which a cookie session builds its
cookie only when the response needs it.

Imports :mod:`beaker.compat.server_session` (``CookieSession`` is a ``Session``), the legacy
cookie helpers and :mod:`beaker.sessions` parts; must not import :mod:`beaker.compat.session`
or the middleware.
"""

from __future__ import annotations

import http.cookies
from collections.abc import Callable
from typing import Any, Final

from beaker.compat.legacy import legacy_cookie_id, sign_legacy_id
from beaker.compat.server_session import Session
from beaker.compat.session_setup import session_setup
from beaker.sessions.cookies import cookie_values
from beaker.sessions.store import SessionRecord

__all__ = ["CookieSession", "DeferredCookieRequest", "InvalidSignature", "SignedCookie"]


class _InvalidSignatureType:
    """What :class:`SignedCookie` gives for a value whose signature does not verify (falsy)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "InvalidSignature"


#: Beaker's marker for a cookie value that failed verification.
InvalidSignature: Final = _InvalidSignatureType()


class SignedCookie(http.cookies.SimpleCookie):
    """Beaker's HMAC-SHA1 signed cookie (``beaker.session.SignedCookie``), kept so imports and
    Beaker-format cookies keep working; sessions issue HMAC-SHA256 cookies instead.

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


class CookieSession(Session):
    """A session kept entirely in the cookie (``beaker.session.CookieSession``).

    The data is signed with ``validate_key`` (HMAC-SHA256), or encrypted and authenticated
    with AES-256-GCM under ``encrypt_key``; a cookie that does not verify gives a fresh
    session (with a ``BeakerWarning`` when ``invalidate_corrupt`` is set), never an error.

    Args:
        request: as for :class:`Session`.
        **options: ``validate_key`` (required), ``encrypt_key``, ``key``, ``timeout``,
            ``save_accessed_time``, ``cookie_expires``, ``cookie_domain``, ``cookie_path``,
            ``secure``, ``httponly``, ``samesite``, ``data_serializer``,
            ``invalidate_corrupt``.

    Raises:
        BeakerException: no ``validate_key``.
        CookieTooLarge: (from ``save``) the cookie would exceed 4096 bytes; a
            ``BeakerException`` as in Beaker.
    """

    def __init__(self, request: dict[str, Any], **options: Any) -> None:
        dict.__init__(self)
        options["type"] = "cookie"
        options.pop("id", None)
        options.pop("use_cookies", None)
        setup = session_setup(options)
        self.__dict__.update(setup.defaults)
        self.request = request
        self.use_cookies = True
        request["set_cookie"] = False
        self._restore_config()
        self.accessed_dict = {}
        loaded = None
        values = cookie_values(request.get("cookie"), self.key)
        for value in values:
            loaded = setup.backend.read(value)
            if loaded is not None:
                break
        if loaded is None:  # no cookie, or an altered/foreign one (logged by the backend)
            self["_id"] = setup.ids.new()
            self.is_new = True
            if not values:
                return
        else:
            self.is_new = False
            self.update(loaded.data)
            self["_id"] = loaded.record.id
            self.last_accessed = loaded.record.accessed
        if self.timeout is not None:
            now = setup.clock()
            if now - self.get("_accessed_time", now) > self.timeout:
                self.clear()
                self["_id"] = setup.ids.new()
        self.accessed_dict = dict(self)
        if type(request) is DeferredCookieRequest:  # built only if the response needs it
            request["set_cookie"] = True
            request.build = self._initial_cookie
        else:
            self._initial_cookie()

    def _initial_cookie(self) -> None:
        """The cookie Beaker sends for a loaded session that is not saved again: the data as
        loaded, with a fresh access time."""
        setup = self._setup
        now = setup.clock()
        data = dict(self.accessed_dict)
        if not setup.ids.is_valid(data.get("_id")):
            data["_id"] = self["_id"] = setup.ids.new()
        data.setdefault("_creation_time", now)
        data["_accessed_time"] = now
        self._encode_cookie(data, now)

    @property
    def id(self) -> str:  # type: ignore[override]
        """The session id (``_id``)."""
        return self["_id"]  # type: ignore[no-any-return]

    def _cookie_scope_changed(self) -> None:
        """Nothing to send now: the data cookie takes the new domain or path when saved."""

    def _create_cookie(self) -> None:
        setup = self._setup
        now = setup.clock()
        if "_creation_time" not in self:
            self["_creation_time"] = now
        if not setup.ids.is_valid(self.get("_id")):
            self["_id"] = setup.ids.new()
        self["_accessed_time"] = now
        self._encode_cookie(dict(self), now)

    def _encode_cookie(self, data: dict[str, Any], now: float) -> None:
        setup = self._setup
        record = SessionRecord(
            data["_id"], data["_creation_time"], now, setup.backend.serializer.dumps(data)
        )
        value = setup.backend.write(record, None, now)
        request = self.request
        request["cookie_out"] = setup.cookie.set_cookie(
            value, now, path=data.get("_path") or "/", domain=data.get("_domain")
        )
        request["set_cookie"] = True
        if type(request) is DeferredCookieRequest:
            request.build = None

    def save(self, accessed_only: bool = False) -> None:
        """Build the cookie from the data (sent with the response).

        Raises:
            CookieTooLarge: the cookie would exceed 4096 bytes.
            SerializationError: the data cannot be encoded.
        """
        if accessed_only and (self.is_new or not self.save_atime):
            return
        if accessed_only:
            super().clear()
            self.update(self.accessed_dict)
        self._create_cookie()

    def delete(self) -> None:
        """Expire the cookie and clear the data."""
        self._delete_cookie()
        self.clear()

    def invalidate(self) -> None:
        """Clear the data and start a new session id."""
        self.clear()
        self["_id"] = self._setup.ids.new()

    def load(self) -> None:  # pragma: no cover - nothing stored server-side
        """Cookie sessions load from the cookie at construction."""

    def lock(self) -> None:
        """Nothing to lock: the browser holds the only copy."""

    def unlock(self) -> None:
        """Nothing to unlock."""


class DeferredCookieRequest(dict):  # type: ignore[type-arg]
    """The request dict a :class:`~beaker.compat.session.SessionObject` hands its session. A cookie-only session may
    leave ``cookie_out`` to be built when it is first read (most responses replace it by
    saving), so the cookie is encoded once per request, not twice."""

    __slots__ = ("build",)

    def __init__(self, cookie: str | None) -> None:
        super().__init__(cookie=cookie)
        self.build: Callable[[], None] | None = None

    def __missing__(self, key: str) -> Any:
        if key != "cookie_out":
            raise KeyError(key)
        build, self.build = self.build, None
        if build is None:
            return None
        build()
        return dict.get(self, "cookie_out")

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default
