"""Beaker's server-side session (``beaker.session.Session``): a ``dict`` of the data, loaded
from and saved to the configured store through the
:class:`~beaker.compat.session_setup.SessionSetup`'s backend, with the id in a signed cookie.

Imports :mod:`beaker.compat.session_setup`, the legacy reader and :mod:`beaker.sessions` parts;
must not import :mod:`beaker.compat.cookie_session`, :mod:`beaker.compat.session` or the
middleware (they build on this module).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Final

from beaker.compat.config import SessionOptions
from beaker.compat.exceptions import BeakerWarning
from beaker.compat.legacy import legacy_cookie_id
from beaker.compat.session_setup import SessionSetup, session_setup
from beaker.errors import ConfigError, DeserializationError, LockError
from beaker.locks.base import Lease
from beaker.sessions.cookies import cookie_values
from beaker.sessions.store import SessionRecord

__all__ = ["Session"]

# The compat session modules log under Beaker's module name, as they did as one module.
log = logging.getLogger("beaker.compat.session")

#: Seconds a server-side record outlives its idle ``timeout`` in the store, so that a request
#: reading it just before the timeout still finds it (Beaker adds two minutes too).
_STORE_GRACE: Final = 120.0
_CONFIG_KEYS: Final = ("_domain", "_path")


def _warn_corrupt(session_id: str, error: BaseException) -> None:
    warnings.warn(
        f"Invalidating corrupt session {session_id}; error was: {error}.  Set "
        "invalidate_corrupt=False to propagate this exception.",
        BeakerWarning,
        stacklevel=4,
    )


class Session(dict):  # type: ignore[type-arg]
    """A server-side session (``beaker.session.Session``): a ``dict`` of the data, loaded
    at construction.

    Args:
        request: a ``dict`` carrying the request's ``"cookie"`` header in and receiving
            ``"cookie_out"`` (the ``Set-Cookie`` value) and ``"set_cookie"`` (whether to send
            it) out.
        id: load this session id instead of the cookie's (``str``).
        use_cookies: read and produce cookies (``bool``, default ``True``).
        **options: Beaker's session options: ``type``, ``data_dir``, ``lock_dir``, ``url``,
            ``key``, ``secret``, ``timeout``, ``save_accessed_time``, ``cookie_expires``,
            ``cookie_domain``, ``cookie_path``, ``secure``, ``httponly``, ``samesite``,
            ``data_serializer``, ``invalidate_corrupt``, ``encrypt_key`` (encrypts the stored
            data) …; strings are coerced as from an INI file.

    Attributes:
        id: the session id (32 hex digits). is_new: no stored session was found.
        last_accessed: the access time before this request (``None`` when new).
        accessed_dict: the data as loaded. was_invalidated: ``invalidate()`` was called.

    Raises:
        ConfigError: a bad option.
        DeserializationError: the stored record is corrupt and ``invalidate_corrupt`` is
            false (with it true, a new session replaces it and a ``BeakerWarning`` is issued).
    """

    # Set per instance (most from SessionSetup.defaults in one step).
    key: str
    type: str
    timeout: int | None
    save_atime: bool
    invalidate_corrupt: bool
    secret: Any
    cookie_expires: Any
    was_invalidated: bool
    last_accessed: float | None
    id: str
    is_new: bool
    request: dict[str, Any]
    use_cookies: bool
    accessed_dict: dict[str, Any]
    _setup: SessionSetup
    _options: SessionOptions
    _lease: Lease | None
    _retired: list[str] | None
    _send_cookie: bool
    _deleted: bool
    _legacy_cookie: bool

    def __init__(
        self,
        request: dict[str, Any],
        id: str | None = None,
        use_cookies: bool = True,
        **options: Any,
    ) -> None:
        super().__init__()
        setup = session_setup(options)
        if setup.type == "cookie":
            raise ConfigError(
                "type",
                "cookie",
                "a server-side type: use CookieSession (or "
                "SessionObject/SessionMiddleware) for cookie-only sessions",
            )
        self.__dict__.update(setup.defaults)
        self.request = request
        self.use_cookies = use_cookies
        self.accessed_dict = {}
        self._restore_config()
        found = None
        if id is not None:
            found = id if setup.ids.is_valid(id) else None
            self.id = id if found else setup.ids.new()
        elif use_cookies:
            found = self._id_from_cookie(request.get("cookie"))
        if found is None:
            if id is None:
                self.id = setup.ids.new()
            self.is_new = True
            now = setup.clock()
            self["_creation_time"] = self["_accessed_time"] = now
            if use_cookies:
                self._update_cookie_out(set_cookie=False)
        else:
            self.id = found
            self.is_new = False
            self.load()

    # -- cookies -----------------------------------------------------------------------------

    def _restore_config(self) -> None:
        dict.__setitem__(self, "_domain", self._setup.cookie.domain)
        dict.__setitem__(self, "_path", self._setup.cookie.path)

    def clear(self) -> None:
        """Remove the data; the cookie domain and path settings stay (as Beaker)."""
        super().clear()
        self._restore_config()

    def _id_from_cookie(self, header: str | None) -> str | None:
        setup = self._setup
        self._legacy_cookie = False
        for value in cookie_values(header, self.key):
            session_id = setup.backend.session_id(value)
            if session_id is not None:
                return session_id  # type: ignore[no-any-return]
            session_id = legacy_cookie_id(value, self.secret)
            if session_id is not None:
                self._legacy_cookie = True
                return session_id
        return None

    def _update_cookie_out(self, set_cookie: bool = True) -> None:
        setup = self._setup
        value = setup.id_cookie_value(self.id)
        self.request["cookie_out"] = setup.cookie.set_cookie(
            value, setup.clock(), path=self.path, domain=self.domain
        )
        self.request["set_cookie"] = set_cookie

    def _resend_cookie(self) -> None:
        """Send the id cookie with this response (its id or scope changed)."""
        self._send_cookie = True
        if self.use_cookies:
            self._update_cookie_out()

    def _cookie_scope_changed(self) -> None:
        """The cookie's domain or path was set: send it again."""
        self._resend_cookie()

    def _delete_cookie(self) -> None:
        self.request["cookie_out"] = self._setup.cookie.delete_cookie(
            path=self.path, domain=self.domain
        )
        self.request["set_cookie"] = True

    @property
    def domain(self) -> str | None:
        """The cookie's ``Domain`` for this session; setting it re-sends the cookie (a
        cookie-only session's cookie carries it when next saved)."""
        return self["_domain"]  # type: ignore[no-any-return]

    @domain.setter
    def domain(self, value: str | None) -> None:
        self["_domain"] = value
        self._cookie_scope_changed()

    @property
    def path(self) -> str:
        """The cookie's ``Path`` for this session; setting it re-sends the cookie (a
        cookie-only session's cookie carries it when next saved)."""
        return self.get("_path") or "/"

    @path.setter
    def path(self, value: str) -> None:
        self["_path"] = value
        self._cookie_scope_changed()

    @property
    def created(self) -> float:
        """When the session was created (``_creation_time``)."""
        return self["_creation_time"]  # type: ignore[no-any-return]

    def has_key(self, name: str) -> bool:
        return name in self

    # -- loading -----------------------------------------------------------------------------

    def _fresh(self) -> None:
        now = self._setup.clock()
        self.clear()
        self.is_new = True
        self.last_accessed = None
        self["_creation_time"] = self["_accessed_time"] = now
        self.accessed_dict = dict(self)

    def load(self) -> None:
        """(Re)load this session's stored data, replacing the dict's contents.

        Raises:
            DeserializationError: corrupt stored data and ``invalidate_corrupt`` false.
        """
        setup = self._setup
        now = setup.clock()
        if self.use_cookies:
            self.request["set_cookie"] = True
        try:
            data = self._read()
        except DeserializationError as exc:
            if not self.invalidate_corrupt:
                raise
            _warn_corrupt(self.id, exc)
            self.invalidate()
            return
        if data is None:
            self._fresh()
            if self.use_cookies:  # never adopt an id the client sent: issue a new one
                self.id = setup.ids.new()
                self._update_cookie_out(set_cookie=False)
            return
        accessed = data.get("_accessed_time")
        if self.timeout is not None and accessed is not None and now - accessed > self.timeout:
            self.invalidate()
            return
        self.last_accessed = None if self.is_new else accessed
        data["_accessed_time"] = now
        data.setdefault("_creation_time", now)
        super().clear()
        self.update(data)
        self.setdefault("_domain", setup.cookie.domain)
        self.setdefault("_path", setup.cookie.path)
        self.accessed_dict = dict(self)

    def _read(self) -> dict[str, Any] | None:
        setup = self._setup
        loaded = setup.backend.read_id(self.id)
        if loaded is not None:
            return dict(loaded.data)
        if setup.legacy is not None:
            data = setup.legacy.load(self.id)
            if data is not None:
                log.info("session %s… read from Beaker 1.14.1 storage", self.id[:8])
                self._legacy_cookie = True  # write it (and its cookie) in the new format
                return data
        return None

    # -- life cycle --------------------------------------------------------------------------

    def save(self, accessed_only: bool = False) -> None:
        """Write the session to storage now.

        Args:
            accessed_only: write the data as loaded with the new access time (nothing for a
                new session, or when ``save_accessed_time`` is false).

        Raises:
            SerializationError: the data cannot be encoded by ``data_serializer``.
        """
        if accessed_only and (self.is_new or not self.save_atime):
            return
        if self._deleted and all(key in _CONFIG_KEYS for key in self):
            return  # nothing left to keep after delete()
        setup = self._setup
        now = setup.clock()
        data = dict(self.accessed_dict if accessed_only else self)
        created = data.get("_creation_time", now)
        accessed = data.get("_accessed_time", now)
        record = SessionRecord(self.id, created, accessed, setup.backend.serializer.dumps(data))
        expires_at = None if self.timeout is None else accessed + self.timeout + _STORE_GRACE
        setup.backend.write(record, expires_at, now)
        while self._retired:
            setup.backend.remove(self._retired.pop())
        if self.use_cookies and (self.is_new or self._legacy_cookie or self._send_cookie):
            self._legacy_cookie = False
            self._update_cookie_out()

    def persist(self) -> None:
        """Write the session now (same as :meth:`save`)."""
        self.save()

    def delete(self) -> None:
        """Remove the session from storage and expire the browser's cookie."""
        if self.use_cookies:
            self._delete_cookie()
        self._setup.backend.remove(self.id)
        self._deleted = True
        self.clear()

    def invalidate(self) -> None:
        """Start over: remove the stored session, issue a new id (sent in a new cookie) and
        empty the data; ``is_new`` becomes true."""
        old = getattr(self, "id", None)
        self.was_invalidated = True
        self.id = self._setup.ids.new()
        self._fresh()
        if old is not None and old != self.id:
            self._setup.backend.remove(old)
        self._resend_cookie()

    def regenerate_id(self) -> None:
        """Keep the data under a new id (against session fixation; call on login). The old
        record is removed when the session is next saved."""
        if self._retired is None:
            self._retired = []
        self._retired.append(self.id)
        self.id = self._setup.ids.new()
        self._resend_cookie()

    def revert(self) -> None:
        """Put the data back as it was loaded at the start of the request."""
        super().clear()
        self.update(self.accessed_dict)

    def lock(self) -> None:
        """Hold this session's lock (the store's lock: thread, host or cluster wide) until
        :meth:`unlock`. Always pair it with ``unlock()`` in a ``finally`` block."""
        if self._lease is None:
            self._lease = self._setup.backend.acquire(self.id, None)

    def unlock(self) -> None:
        """Release the lock taken by :meth:`lock`.

        Raises:
            LockError: the lock is not held.
        """
        lease, self._lease = self._lease, None
        if lease is None:
            raise LockError("session lock released but not held")
        lease.release()
