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

Imports :mod:`beaker.sessions` parts, serializers and the other compat modules.
"""

from __future__ import annotations

import http.cookies
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import attrs

from beaker.compat import cache as _cache
from beaker.compat.config import CacheOptions, SessionOptions, session_options
from beaker.compat.exceptions import BeakerException, BeakerWarning
from beaker.compat.legacy import LegacySessionReader, legacy_cookie_id, sign_legacy_id
from beaker.errors import ConfigError, DeserializationError, LockError, SerializationError
from beaker.locks.base import Lease
from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.base import Sealed, Serializer
from beaker.serializers.json import JSONSerializer
from beaker.serializers.pickle import PickleSerializer
from beaker.serializers.signing import HMACSigner
from beaker.sessions.cookies import CookieSettings, cookie_values, encode_value
from beaker.sessions.ids import SessionIds
from beaker.sessions.store import CookieBackend, ServerSideBackend, SessionRecord

__all__ = [
    "CookieSession",
    "InvalidSignature",
    "Session",
    "SessionObject",
    "SignedCookie",
]

log = logging.getLogger("beaker.compat.session")

#: Seconds a server-side record outlives its idle ``timeout`` in the store, so that a request
#: reading it just before the timeout still finds it (Beaker adds two minutes too).
_STORE_GRACE: Final = 120.0
_SETUP_MEMO_LIMIT: Final = 256
_CONFIG_KEYS: Final = ("_domain", "_path")


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


# -- configuration -----------------------------------------------------------------------------


class _ObjectSerializer:
    """Adapts an application's ``dumps``/``loads`` object (Beaker's ``data_serializer``) to the
    Serializer protocol's errors."""

    __slots__ = ("codec",)

    def __init__(self, codec: Any) -> None:
        self.codec = codec

    def dumps(self, value: Any) -> bytes:
        try:
            data = self.codec.dumps(value)
        except Exception as exc:
            raise SerializationError(f"data_serializer.dumps failed ({exc!r})") from exc
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)

    def loads(self, data: bytes) -> Any:
        try:
            return self.codec.loads(data)
        except Exception as exc:
            raise DeserializationError(f"data_serializer.loads failed ({exc!r})") from exc


def _serializer(choice: Any) -> Serializer:
    if choice in (None, "pickle"):
        return PickleSerializer()
    if choice == "json":
        return JSONSerializer()
    return _ObjectSerializer(choice)


@attrs.frozen
class SessionSetup:
    """Everything a compat session needs that depends only on its options, built once per
    configuration (:func:`session_setup`).

    Attributes:
        options: the coerced options.
        type: the resolved backend type (``"cookie"``, ``"memory"``, ``"file"`` …).
        backend: a :class:`~beaker.sessions.store.ServerSideBackend` or
            :class:`~beaker.sessions.store.CookieBackend`.
        cookie: the cookie's name, scope and lifetime.
        legacy: reads sessions Beaker 1.14.1 stored (file and ext:redis types), or ``None``.
        ids: issues and recognises session ids.
        clock: seconds since the epoch.
    """

    options: SessionOptions
    type: str
    backend: Any
    cookie: CookieSettings
    legacy: LegacySessionReader | None
    ids: SessionIds
    clock: Callable[[], float] = time.time
    #: Beaker's per-session attributes that follow from the options alone, copied into each
    #: session's ``__dict__`` in one step.
    defaults: dict[str, Any] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        options = self.options
        object.__setattr__(
            self,
            "defaults",
            {
                "_setup": self,
                "_options": options,
                "key": self.cookie.name,
                "type": self.type,
                "timeout": options.timeout,
                "save_atime": options.save_accessed_time is not False,
                "invalidate_corrupt": bool(options.invalidate_corrupt),
                "secret": options.secret,
                "cookie_expires": self.cookie.expires,
                "was_invalidated": False,
                "last_accessed": None,
                "_lease": None,
                "_retired": None,
                "_send_cookie": False,
                "_deleted": False,
                "_legacy_cookie": False,
            },
        )

    @property
    def server_side(self) -> bool:
        return self.type != "cookie"

    def id_cookie_value(self, session_id: str) -> str:
        """The cookie value naming ``session_id`` (signed when a ``secret`` is set)."""
        signer = self.backend.secret
        if signer is None:
            return session_id
        return encode_value(signer.encode(session_id.encode("ascii")))


def _cookie_settings(options: SessionOptions, params: Mapping[str, Any]) -> CookieSettings:
    return CookieSettings(
        name=options.key or "beaker.session.id",
        path=options.cookie_path or "/",
        domain=options.cookie_domain,
        secure=bool(options.secure),
        httponly=bool(options.httponly),
        samesite=options.samesite if "samesite" in params else "Lax",  # type: ignore[arg-type]
        expires=True if options.cookie_expires is None else options.cookie_expires,  # type: ignore[arg-type]
    )


def _build_setup(params: Mapping[str, Any]) -> SessionSetup:
    options = session_options(params)
    if options.crypto_type not in (None, "default", "cryptography"):
        log.info(
            "crypto_type=%r ignored: encryption always uses 'cryptography' (AES-GCM)",
            options.crypto_type,
        )
    if options.memcache_module not in (None, "auto"):
        log.info(
            "memcache_module=%r ignored: the memcached client is pymemcache",
            options.memcache_module,
        )
    type_name = options.type or ("file" if options.data_dir else "memory")
    ids = SessionIds()
    serializer = _serializer(options.data_serializer)
    legacy = None
    if type_name == "cookie":
        if options.validate_key is None:
            raise BeakerException("No validate_key specified for Cookie only Session.")
        codec = (
            AESGCMEncrypter(options.encrypt_key, purpose="beaker.compat.cookie-session")
            if options.encrypt_key is not None
            else HMACSigner(options.validate_key, purpose="beaker.compat.cookie-session")
        )
        backend: Any = CookieBackend(codec, serializer=serializer, ids=ids)
    else:
        extras = {
            name: value
            for name, value in params.items()
            if name not in attrs.fields_dict(SessionOptions)
        }
        store_options = CacheOptions(
            type=type_name,  # type: ignore[arg-type]
            data_dir=options.data_dir,
            lock_dir=options.lock_dir,
            url=options.url,
        )
        parts = _cache.backend_for(store_options, extras)
        if options.encrypt_key is not None:  # Beaker's encryption of server-side data
            serializer = Sealed(
                serializer, AESGCMEncrypter(options.encrypt_key, purpose="beaker.compat.data")
            )
        backend = ServerSideBackend(
            parts.store, lock=parts.lock, serializer=serializer, secret=options.secret, ids=ids
        )
        if type_name == "file" and options.data_dir is not None:
            legacy = LegacySessionReader(
                data_dir=options.data_dir, data_serializer=options.data_serializer
            )
        elif type_name == "ext:redis":
            legacy = LegacySessionReader(
                redis_client=parts.store, data_serializer=options.data_serializer
            )
    return SessionSetup(options, type_name, backend, _cookie_settings(options, params), legacy, ids)


_setups: dict[frozenset[tuple[str, type, Any]], SessionSetup] = {}


def _fingerprint(params: Mapping[str, Any]) -> frozenset[tuple[str, type, Any]]:
    items = []
    for name, value in params.items():
        if name in ("id", "use_cookies", "_setup"):
            continue
        try:
            hash(value)
        except TypeError:
            value = id(value)
        items.append((name, type(value), value))
    return frozenset(items)


def session_setup(params: Mapping[str, Any]) -> SessionSetup:
    """The :class:`SessionSetup` for Beaker session options ``params`` (built once per distinct
    configuration and reused).

    Raises:
        ConfigError: a bad option (naming it).
        BeakerException: ``type = cookie`` without ``validate_key``.
    """
    setup = params.get("_setup")
    if isinstance(setup, SessionSetup):
        return setup
    fingerprint = _fingerprint(params)
    setup = _setups.get(fingerprint)
    if setup is None:
        setup = _build_setup(params)
        if len(_setups) >= _SETUP_MEMO_LIMIT:
            _setups.clear()
        _setups[fingerprint] = setup
    return setup


# -- sessions ----------------------------------------------------------------------------------


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

    def _delete_cookie(self) -> None:
        self.request["cookie_out"] = self._setup.cookie.delete_cookie(
            path=self.path, domain=self.domain
        )
        self.request["set_cookie"] = True

    @property
    def domain(self) -> str | None:
        """The cookie's ``Domain`` for this session; setting it re-sends the cookie."""
        return self["_domain"]  # type: ignore[no-any-return]

    @domain.setter
    def domain(self, value: str | None) -> None:
        self["_domain"] = value
        self._send_cookie = True
        if self.use_cookies:
            self._update_cookie_out()

    @property
    def path(self) -> str:
        """The cookie's ``Path`` for this session; setting it re-sends the cookie."""
        return self.get("_path") or "/"

    @path.setter
    def path(self, value: str) -> None:
        self["_path"] = value
        self._send_cookie = True
        if self.use_cookies:
            self._update_cookie_out()

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
        self._send_cookie = True
        if self.use_cookies:
            self._update_cookie_out()

    def regenerate_id(self) -> None:
        """Keep the data under a new id (against session fixation; call on login). The old
        record is removed when the session is next saved."""
        if self._retired is None:
            self._retired = []
        self._retired.append(self.id)
        self.id = self._setup.ids.new()
        self._send_cookie = True
        if self.use_cookies:
            self._update_cookie_out()

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
        if type(request) is _Request:  # built only if the response needs this very cookie
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

    @property
    def domain(self) -> str | None:
        return self["_domain"]  # type: ignore[no-any-return]

    @domain.setter
    def domain(self, value: str | None) -> None:
        self["_domain"] = value

    @property
    def path(self) -> str:
        return self.get("_path") or "/"

    @path.setter
    def path(self, value: str) -> None:
        self["_path"] = value

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
        if type(request) is _Request:
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


class _Request(dict):  # type: ignore[type-arg]
    """The request dict a :class:`SessionObject` hands its session. A cookie-only session may
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
        state = self.__dict__
        state["_params"] = params
        state["_environ"] = environ
        state["_sess"] = None
        state["_headers"] = {}

    @classmethod
    def _for(cls, environ: dict[str, Any], params: dict[str, Any]) -> SessionObject:
        """A session object sharing ``params`` (never modified) — the middleware's fast path."""
        self = cls.__new__(cls)
        state = self.__dict__
        state["_params"] = params
        state["_environ"] = environ
        state["_sess"] = None
        state["_headers"] = {}
        return self

    def _session(self) -> Session:
        """The session, built on first use."""
        session = self.__dict__["_sess"]
        if session is None:
            params = self.__dict__["_params"]
            self.__dict__["_headers"] = request = _Request(
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


def _reset_for_tests() -> None:
    """Forget the built session setups (test isolation)."""
    _setups.clear()
