"""How compat sessions are configured: :class:`SessionSetup` (everything a session needs that
follows from its options alone — backend, cookie settings, id issuer, reader of Beaker 1.14.1
records) and :func:`session_setup`, which builds one per distinct configuration and reuses it.

The backend is a :class:`~beaker.sessions.store.CookieBackend` for ``type = cookie`` (signed
with ``validate_key`` or sealed with ``encrypt_key``) or a
:class:`~beaker.sessions.store.ServerSideBackend` over the same stores as the caches
(:mod:`beaker.compat.backends`).

Imports :mod:`beaker.sessions` parts, serializers and the compat config, cache and legacy
modules; must not import the compat session classes (:mod:`beaker.compat.server_session`,
:mod:`beaker.compat.cookie_session`, :mod:`beaker.compat.session`) or the middleware.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from beaker.compat import cache as _cache
from beaker.compat.config import CacheOptions, SessionOptions, session_options
from beaker.compat.exceptions import BeakerException
from beaker.compat.legacy import LegacySessionReader
from beaker.errors import DeserializationError, SerializationError
from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.base import Sealed, Serializer
from beaker.serializers.json import JSONSerializer
from beaker.serializers.pickle import PickleSerializer
from beaker.serializers.signing import HMACSigner
from beaker.sessions.cookies import CookieSettings, encode_value
from beaker.sessions.ids import SessionIds
from beaker.sessions.store import CookieBackend, ServerSideBackend

__all__ = ["SessionSetup", "session_setup"]

# The compat session modules log under Beaker's module name, as they did as one module.
log = logging.getLogger("beaker.compat.session")

_SETUP_MEMO_LIMIT: Final = 256


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


def _reset_for_tests() -> None:
    """Forget the built session setups (test isolation)."""
    _setups.clear()
