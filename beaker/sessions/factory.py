"""The session configuration: :class:`Sessions`, an immutable bundle of a backend, cookie
settings and policies (timeouts, saving, locking) that opens a
:class:`~beaker.sessions.model.Session` per request; and two builders, :func:`server_side` and
:func:`cookie_only`.

Must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from beaker.errors import ConfigError
from beaker.locks.base import AsyncLock, Lock
from beaker.serializers.base import BytesCodec, Serializer
from beaker.sessions.cookies import CookieSettings
from beaker.sessions.ids import SessionIds
from beaker.sessions.model import Session
from beaker.sessions.store import (
    DEFAULT_NAMESPACE,
    CookieBackend,
    ServerSideBackend,
    SessionBackend,
    SessionRecord,
    check_backend,
)
from beaker.stores.base import AsyncStore, Store
from beaker.validators import (
    MAX_WAIT,
    instance_of,
    is_callable,
    non_empty_str,
    optional,
    satisfies,
    seconds,
)

_BOOL = instance_of(bool, "a bool")
_LIFETIME = seconds(positive=True, optional=True)  # None: no timeout


@attrs.frozen
class Sessions:
    """How sessions are kept, found and timed: the one object the middleware needs.

    Args:
        backend: where sessions live: :class:`~beaker.sessions.store.ServerSideBackend` (any
            store) or :class:`~beaker.sessions.store.CookieBackend` (the cookie itself).
        cookie: the cookie's name, scope and lifetime (:class:`CookieSettings`, default
            ``CookieSettings()``: ``beaker.session.id``, ``Path=/``, ``HttpOnly``,
            ``SameSite=Lax``, 400 days).
        timeout: idle timeout in seconds (``float``/``int`` or ``None``; Beaker's
            ``timeout``): a session not accessed for this long is replaced by a new one.
        absolute_timeout: seconds after creation after which a session is replaced however
            active it is (``None``: no limit).
        save_accessed_time: rewrite a session loaded from storage on every request that
            touches it, to record the access time (Beaker's ``save_accessed_time``). ``None``
            (default) means "when ``timeout`` is set", which idle expiry needs; ``False`` with
            a ``timeout`` is refused, as in Beaker.
        auto: save every touched session at the end of the request without ``save()``
            (Beaker's ``auto``).
        lock_requests: hold each server-side session's lock from the moment a request loads
            it until its response starts, so concurrent requests of one browser run one after
            the other (without it they already keep each other's writes: saves merge, see
            :class:`~beaker.sessions.model.Session`). Needs a server-side backend; the lock's
            scope (thread, host, cluster) bounds who is serialized.
        lock_timeout: seconds to wait for a session's lock (``None``: forever); raises
            :class:`~beaker.errors.LockTimeout` after.
        refresh_cookie: send a stored session's id cookie again with every write of it
            (``True``, default: a lifetime in seconds or a ``timedelta`` then counts from the
            last write); ``False`` sends it only when the browser's copy must change — a
            new session or id, a value re-signed under a newer ``secret`` key, a cookie
            ``domain``/``path``/lifetime assigned in this request (sent even without a save,
            with an access-time write), or removal — as Beaker 1.14 does (a lifetime then
            counts from the session's creation). Cookie-only
            sessions send the cookie with every write (it is the record).
        invalidate_corrupt: a server-side record that cannot be decoded gives a new session
            (``True``, default) or raises :class:`~beaker.errors.DeserializationError`
            (Beaker's default ``False``). A bad *cookie* always gives a new session.
        environ_key: where the middleware puts the session in the WSGI environ (default
            ``"beaker.session"``).
        clock: seconds since the epoch (default :func:`time.time`); inject one in tests.

    Raises:
        ComponentTypeError: an argument of the wrong type.
        ConfigError: a non-positive timeout, ``save_accessed_time=False`` with ``timeout``,
            or ``lock_requests`` with a cookie backend.
    """

    backend: SessionBackend = attrs.field(converter=check_backend)
    cookie: CookieSettings = attrs.field(
        factory=CookieSettings, validator=instance_of(CookieSettings, "a CookieSettings")
    )
    timeout: float | None = attrs.field(default=None, validator=_LIFETIME)
    absolute_timeout: float | None = attrs.field(default=None, validator=_LIFETIME)
    save_accessed_time: bool | None = attrs.field(default=None, validator=optional(_BOOL))
    auto: bool = attrs.field(default=False, validator=_BOOL)
    lock_requests: bool = attrs.field(default=False, validator=_BOOL)
    lock_timeout: float | None = attrs.field(
        default=None, validator=seconds(maximum=MAX_WAIT, optional=True)
    )
    refresh_cookie: bool = attrs.field(default=True, validator=_BOOL)
    invalidate_corrupt: bool = attrs.field(default=True, validator=_BOOL)
    environ_key: str = attrs.field(default="beaker.session", validator=non_empty_str())
    clock: Callable[[], float] = attrs.field(
        default=time.time, validator=is_callable("a callable returning epoch seconds"), repr=False
    )

    def __attrs_post_init__(self) -> None:
        if self.timeout is not None and self.save_accessed_time is False:
            raise ConfigError(
                "save_accessed_time",
                False,
                "True or None when timeout is set (idle expiry needs the access time saved)",
            )
        if self.lock_requests and not self.backend.server_side:
            raise ConfigError(
                "lock_requests", True, "False for cookie-only sessions (nothing to lock)"
            )

    @property
    def asynchronous(self) -> bool:
        """Whether the records live in an async store, so that only the ASGI middleware
        (:mod:`beaker.sessions.asgi`) can run these sessions."""
        backend = self.backend
        return isinstance(backend, ServerSideBackend) and backend.asynchronous

    @property
    def refreshes_access(self) -> bool:
        """Whether a touched, stored session is rewritten just to record its access time."""
        if self.save_accessed_time is None:
            return self.timeout is not None
        return self.save_accessed_time

    def open(self, cookie_header: str | None) -> Session:
        """A lazy session for a request with this ``Cookie`` header (``None`` if absent).

        Nothing is read until the session is touched; call
        :meth:`~beaker.sessions.model.Session.finish` at the end of the request.
        """
        return Session(self, cookie_header)

    def get_by_id(self, session_id: str) -> Session | None:
        """The stored, unexpired session with this id, loaded (Beaker's ``get_by_id``), or
        ``None``: unknown, malformed or expired id, or a cookie-only configuration. For
        server-side code (admin tools, tests) — never pass it an id a client sent.

        Raises:
            DeserializationError: the record is corrupt and ``invalidate_corrupt`` is false.
            LockTimeout: with ``lock_requests``, the session's lock was not free in time.
            ConfigError: the sessions live in an AsyncStore.
        """
        if self.asynchronous:
            raise ConfigError("backend.store", self.backend, "a sync Store for get_by_id")
        if not self.backend.server_side or not self.backend.ids.is_valid(session_id):
            return None
        session = Session(self, None)
        session._load(session_id)
        if session.is_new:
            session.finish(commit=False)
            return None
        return session

    def expired(self, record: SessionRecord, now: float) -> bool:
        """Whether a stored session has passed its idle or absolute timeout at ``now``."""
        if self.timeout is not None and now - record.accessed > self.timeout:
            return True
        return self.absolute_timeout is not None and now - record.created > self.absolute_timeout

    def expires_at(self, record: SessionRecord) -> float | None:
        """When a record written now expires, from the timeouts (``None``: never)."""
        deadline = None
        if self.timeout is not None:
            deadline = record.accessed + self.timeout
        if self.absolute_timeout is not None:
            limit = record.created + self.absolute_timeout
            deadline = limit if deadline is None else min(deadline, limit)
        return deadline


#: Validates a field holding :class:`Sessions` for a sync front (WSGI, Flask): records in a
#: sync store, or cookie-only.
SYNC_SESSIONS: Final = satisfies(
    lambda sessions: not sessions.asynchronous,
    "sessions on a sync Store or cookie-only (an AsyncStore is for beaker.sessions.asgi)",
    types=Sessions,
    type_expected="a beaker.sessions.Sessions",
)

#: Validates a field holding :class:`Sessions` for the ASGI front: records in an async store,
#: or cookie-only.
ASYNC_SESSIONS: Final = satisfies(
    lambda sessions: sessions.asynchronous or not sessions.backend.server_side,
    "server-side sessions on an AsyncStore (AsyncMemoryStore, AsyncRedisStore …), "
    "or cookie-only sessions",
    types=Sessions,
    type_expected="a beaker.sessions.Sessions",
)


def server_side(
    store: Store | AsyncStore,
    *,
    lock: Lock | AsyncLock | None = None,
    secret: str | bytes | Sequence[str | bytes] | BytesCodec | None = None,
    serializer: Serializer | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    ids: SessionIds | None = None,
    **options: Any,
) -> Sessions:
    """Sessions kept in ``store``, the cookie carrying only the (optionally signed) id.

    Args:
        store: any Store, or an AsyncStore for the ASGI middleware
            (:mod:`beaker.sessions.asgi`).
        lock: defaults to ``ThreadLock()`` (``AsyncioLock()`` for an AsyncStore).
        secret: keys signing the id cookie (see :class:`ServerSideBackend`).
        serializer: defaults to ``PickleSerializer()``.
        namespace: the store namespace.
        ids: defaults to ``SessionIds()``.
        **options: any other :class:`Sessions` argument (``cookie``, ``timeout`` …).
    """
    parts: dict[str, Any] = {"store": store, "namespace": namespace, "secret": secret}
    if lock is not None:
        parts["lock"] = lock
    if serializer is not None:
        parts["serializer"] = serializer
    if ids is not None:
        parts["ids"] = ids
    return Sessions(ServerSideBackend(**parts), **options)


def cookie_only(
    codec: BytesCodec | str | bytes | Sequence[str | bytes],
    *,
    serializer: Serializer | None = None,
    ids: SessionIds | None = None,
    **options: Any,
) -> Sessions:
    """Sessions kept entirely in a signed or encrypted cookie.

    Args:
        codec: ``HMACSigner(keys)`` or ``AESGCMEncrypter(keys)``; bare keys sign.
        serializer: defaults to ``JSONSerializer()``.
        ids: defaults to ``SessionIds()``.
        **options: any other :class:`Sessions` argument.
    """
    parts: dict[str, Any] = {"codec": codec}
    if serializer is not None:
        parts["serializer"] = serializer
    if ids is not None:
        parts["ids"] = ids
    return Sessions(CookieBackend(**parts), **options)
