"""Beaker's session options translated into the native engine: :func:`session_setup` gives a
:class:`SessionSetup` (a :class:`beaker.sessions.Sessions` plus the attribute values Beaker's
sessions expose), built once per distinct configuration (by value) and shared.

``type`` picks the backend (:class:`~beaker.sessions.store.CookieBackend` for ``cookie``, else
a :class:`~beaker.sessions.store.ServerSideBackend` on the compat backend of the options'
``store``, parsed with them, reading Beaker 1.14.1's leftovers through
:class:`~beaker.sessions.migration.BeakerStorageBackend`);
Beaker's defaults are filled in (``httponly`` off, browser-session cookie, pickle); errors of
native parts name the option as the application spelled it.

Imports the compat config and backends modules and :mod:`beaker.sessions`; not the compat
session classes or the middleware.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from beaker.compat import backends
from beaker.compat.config import SessionOptions, session_options
from beaker.compat.exceptions import BeakerException
from beaker.errors import ConfigError, DeserializationError, SerializationError
from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.base import Sealed, Serializer
from beaker.serializers.json import JSONSerializer
from beaker.serializers.pickle import PickleSerializer
from beaker.serializers.signing import HMACSigner
from beaker.sessions import CookieBackend, CookieSettings, ServerSideBackend, Sessions
from beaker.sessions.migration import BeakerStorageBackend, LegacySessionReader

__all__ = ["CallSerializer", "SessionSetup", "session_setup"]

log = logging.getLogger("beaker.compat.session")

#: Native argument names -> the Beaker option that sets them (for error messages).
_OPTION_OF: Final = {
    "name": "key",
    "path": "cookie_path",
    "domain": "cookie_domain",
    "expires": "cookie_expires",
    "codec": "validate_key",
}


class CallSerializer:
    """A pair of application functions as a Serializer, with the Serializer protocol's
    errors: Beaker's ``data_serializer`` object, or a cookie session's
    ``_encrypt_data`` / ``_decrypt_data`` hooks.

    Args:
        dumps: ``(value) -> bytes | str`` (text is encoded as UTF-8).
        loads: ``(bytes) -> value``.
        name: what the functions are, for errors (e.g. ``"data_serializer"``).
    """

    __slots__ = ("_dumps", "_loads", "name")

    def __init__(
        self, dumps: Callable[[Any], Any], loads: Callable[[bytes], Any], name: str
    ) -> None:
        self._dumps, self._loads, self.name = dumps, loads, name

    def dumps(self, value: Any) -> bytes:
        try:
            data = self._dumps(value)
        except Exception as exc:
            raise SerializationError(f"{self.name} failed to encode ({exc!r})") from exc
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)

    def loads(self, data: bytes) -> Any:
        try:
            return self._loads(data)
        except Exception as exc:
            raise DeserializationError(f"{self.name} failed to decode ({exc!r})") from exc


def _serializer(choice: Any) -> Serializer:
    if choice in (None, "pickle"):
        return PickleSerializer()  # Beaker's default; cookies are verified before loading
    if choice == "json":
        return JSONSerializer()
    return CallSerializer(choice.dumps, choice.loads, "data_serializer")


@attrs.frozen
class SessionSetup:
    """A Beaker session configuration translated: the native engine and Beaker's attributes.

    Attributes:
        options: the parsed options.
        type: the resolved type (``"cookie"``, ``"memory"``, ``"file"`` …; none given means
            ``file`` with a ``data_dir``, else ``memory``, as Beaker).
        sessions: the native :class:`~beaker.sessions.Sessions` serving these sessions.
        scope: the configured cookie ``(domain, path)``.
        defaults: the attributes Beaker sets on every session (``key``, ``timeout``,
            ``secure``, ``httponly``, ``samesite``, ``save_atime`` …), copied into each
            session's ``__dict__`` in one step.
    """

    options: SessionOptions
    type: str
    sessions: Sessions
    scope: tuple[str | None, str] = attrs.field(init=False, eq=False, repr=False)
    defaults: dict[str, Any] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        options, cookie = self.options, self.sessions.cookie
        object.__setattr__(self, "scope", (cookie.domain, cookie.path))
        defaults = {
            "key": cookie.name,
            "type": self.type,
            "timeout": options.timeout,
            "save_atime": options.save_accessed_time is not False,
            "invalidate_corrupt": bool(options.invalidate_corrupt),
            "cookie_expires": cookie.expires,
            "secure": cookie.secure,
            "httponly": cookie.httponly,
            "samesite": cookie.samesite,
            "data_dir": options.data_dir,
            "data_serializer": options.data_serializer or "pickle",
            "was_invalidated": False,
        }
        for name in ("secret", "validate_key", "encrypt_key"):
            defaults[name] = getattr(options, name)
        object.__setattr__(self, "defaults", defaults)

    def with_clock(self, clock: Callable[[], float]) -> SessionSetup:
        """This setup with another clock (seconds since the epoch), e.g. for tests."""
        return attrs.evolve(self, sessions=attrs.evolve(self.sessions, clock=clock))


def _backend(options: SessionOptions) -> Any:
    serializer = _serializer(options.data_serializer)
    if options.store is None:  # type = cookie
        if options.validate_key is None:
            raise BeakerException("No validate_key specified for Cookie only Session.")
        purpose = "beaker.compat.cookie-session"
        codec = (
            AESGCMEncrypter(options.encrypt_key, purpose=purpose)
            if options.encrypt_key is not None
            else HMACSigner(options.validate_key, purpose=purpose)
        )
        return CookieBackend(codec, serializer=serializer)
    parts = backends.backend(options.store)
    if options.encrypt_key is not None:  # Beaker's encryption of server-side data
        encrypter = AESGCMEncrypter(options.encrypt_key, purpose="beaker.compat.data")
        serializer = Sealed(serializer, encrypter)
    backend = ServerSideBackend(
        parts.store, lock=parts.lock, serializer=serializer, secret=options.secret
    )
    if options.store.type == "file" and options.data_dir is not None:
        reader = LegacySessionReader(data_dir=options.data_dir)
    elif options.store.type == "ext:redis":
        reader = LegacySessionReader(redis_client=parts.store)
    else:
        return backend
    reader = attrs.evolve(reader, data_serializer=options.data_serializer)
    return BeakerStorageBackend(backend, reader, secret=options.secret)


@functools.lru_cache(maxsize=256)
def _build(options: SessionOptions) -> SessionSetup:
    """The setup of ``options``, built once per distinct value (errors name Beaker's option)."""
    if options.crypto_type not in (None, "default", "cryptography"):  # memcache_module: backends
        log.info("crypto_type=%r ignored: encryption is cryptography's", options.crypto_type)
    type_name = "cookie" if options.store is None else options.store.type or "memory"
    try:
        cookie = CookieSettings(
            name=options.key or "beaker.session.id",
            path=options.cookie_path or "/",
            domain=options.cookie_domain,
            secure=bool(options.secure),
            httponly=bool(options.httponly),  # off unless asked, as Beaker
            samesite=options.samesite,  # type: ignore[arg-type]
            expires=True if options.cookie_expires is None else options.cookie_expires,  # type: ignore[arg-type]
        )
        sessions = Sessions(
            _backend(options),
            cookie=cookie,
            timeout=options.timeout,
            # as Beaker: a cookie session's cookie whenever touched, an id cookie when changed
            save_accessed_time=options.save_accessed_time is not False or type_name == "cookie",
            refresh_cookie=False,
            auto=bool(options.auto),
            invalidate_corrupt=bool(options.invalidate_corrupt),
        )
    except ConfigError as exc:  # a native argument: named as Beaker's option
        if "." in exc.option or exc.option not in _OPTION_OF:
            raise
        raise type(exc)(_OPTION_OF[exc.option], exc.value, exc.expected) from None
    return SessionSetup(options, type_name, sessions)


def _setup_of(options: SessionOptions) -> SessionSetup:
    try:
        hash(options)
    except TypeError:  # unhashable backend options: not remembered
        return _build.__wrapped__(options)
    return _build(options)


#: Setups by raw option items (the middleware-free paths, e.g. pyramid_beaker's
#: ``SessionObject(environ, **options)`` per request, skip parsing them again).
_by_items: dict[frozenset[tuple[str, type, Any]], SessionSetup] = {}


def session_setup(
    params: Mapping[str, Any] | SessionOptions, named: Callable[[str], str] = str
) -> SessionSetup:
    """The :class:`SessionSetup` for Beaker session options, built once per distinct
    configuration (by value: equal options share one setup, and its stores) and reused.

    Args:
        params: option name -> value (prefix removed; INI strings coerced), or parsed
            :class:`~beaker.compat.config.SessionOptions`.
        named: the option's name as the application spelled it, for errors (e.g. adds
            ``"session."``).

    Raises:
        ConfigError: a bad or missing option, naming it.
        BeakerException: ``type = cookie`` without ``validate_key``.
    """
    try:
        if isinstance(params, SessionOptions):
            return _setup_of(params)
        try:  # the type too: 1 == True, but only one of them is a valid timeout
            items = frozenset((name, type(value), value) for name, value in params.items())
        except TypeError:  # an unhashable option value (a client object)
            return _setup_of(session_options(params))
        setup = _by_items.get(items)
        if setup is None:
            if len(_by_items) >= 256:
                _by_items.clear()
            setup = _by_items[items] = _setup_of(session_options(params))
        return setup
    except ConfigError as exc:
        if "." in exc.option:
            raise
        raise type(exc)(named(exc.option), exc.value, exc.expected) from None


def _reset_for_tests() -> None:
    """Forget the built session setups (test isolation)."""
    _build.cache_clear()
    _by_items.clear()
