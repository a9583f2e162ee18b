"""Where session data lives: the session record format and the two backends.

* :class:`ServerSideBackend` keeps each session in any :class:`~beaker.stores.base.Store`
  (memory, file, dbm, Redis …) under ``(namespace, session id)`` as an
  :class:`~beaker.entry.Entry` whose ``expires_at`` lets ``beaker sessions purge`` find dead
  sessions; the cookie carries only the id, signed with HMAC when a ``secret`` is given.
* :class:`CookieBackend` keeps the whole session in the cookie, signed
  (:class:`~beaker.serializers.signing.HMACSigner`) or encrypted
  (:class:`~beaker.serializers.aead.AESGCMEncrypter`).

Both store a :class:`SessionRecord` — id, created and accessed times and the serializer's
bytes of the data — packed by :func:`pack_record`. Keeping the data's bytes apart from the
times means a session whose only change is its access time is rewritten without
re-serializing its data.

Trust boundary: everything from the cookie is checked before use. The server-side backend
only looks up ids of the exact shape :class:`~beaker.sessions.ids.SessionIds` issues (and, with
a secret, whose signature verifies); the cookie backend verifies or decrypts before any
serializer (pickle included) sees a byte. Anything that fails is logged on the
``"beaker.sessions"`` logger and reads as "no session" — never an exception.

Must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

import hmac
import logging
import struct
from collections.abc import Callable, Sequence
from math import isfinite
from typing import Any, ClassVar, Final, NamedTuple, Protocol, TypeVar, cast, runtime_checkable

import attrs

from beaker.entry import Entry
from beaker.errors import ComponentTypeError, ConfigError, DeserializationError
from beaker.locks.base import AsyncLock, Lease, Lock, is_async_lock
from beaker.locks.loop import AsyncioLock
from beaker.locks.null import NullLock
from beaker.locks.thread import ThreadLock
from beaker.runtime import Lazy, lazy_field
from beaker.serializers.base import BytesCodec, Serializer
from beaker.serializers.json import JSONSerializer
from beaker.serializers.pickle import PickleSerializer
from beaker.serializers.signing import HMACSigner
from beaker.sessions.cookies import decode_value, encode_value
from beaker.sessions.ids import SessionIds
from beaker.stores.base import (
    AsyncStore,
    Store,
    VersionedStore,
    compares_and_sets,
    is_async_store,
)
from beaker.validators import conforms, instance_of, non_empty_str

_SERIALIZER = conforms(Serializer, "a Serializer (dumps/loads)")
_IDS = instance_of(SessionIds, "a SessionIds")

log = logging.getLogger("beaker.sessions")
T = TypeVar("T")

#: Namespace under which server-side sessions are stored unless configured otherwise.
DEFAULT_NAMESPACE: Final = "beaker.session"
#: Cookie values longer than this are refused unread (no legitimate cookie comes close).
MAX_COOKIE_VALUE: Final = 8192

_RECORD: Final = struct.Struct("!4sddB")
_RECORD_SIZE: Final = _RECORD.size
_RECORD_TAG: Final = b"BKs1"
_unpack_head: Final = _RECORD.unpack_from


class SessionRecord(NamedTuple):
    """One session as stored.

    Attributes:
        id: the session id.
        created: when the session was created, seconds since the epoch.
        accessed: when it was last accessed (loaded by a request), seconds since the epoch.
        payload: the serializer's bytes of the session's data dict.
    """

    id: str
    created: float
    accessed: float
    payload: bytes


class Loaded(NamedTuple):
    """A record read back, with its payload decoded into the data dict.

    Attributes:
        record: the record.
        data: its payload, decoded.
        version: the store's version of it (see
            :class:`~beaker.stores.base.VersionedStore`), for :meth:`SessionBackend.write_if`;
            ``None`` where the store keeps no versions.
    """

    record: SessionRecord
    data: dict[str, Any]
    version: object = None


def pack_record(record: SessionRecord) -> bytes:
    """Lay a record out as bytes: tag, two doubles, the id's length and ASCII id, payload."""
    session_id = record.id.encode("ascii")
    head = _RECORD.pack(_RECORD_TAG, record.created, record.accessed, len(session_id))
    return head + session_id + record.payload


def unpack_record(data: bytes) -> SessionRecord:
    """Parse :func:`pack_record`'s bytes.

    Raises:
        DeserializationError: truncated, foreign, or with non-finite times.
    """
    if len(data) < _RECORD_SIZE or data[:4] != _RECORD_TAG:
        raise DeserializationError("not a beaker session record")
    _, created, accessed, id_length = _unpack_head(data)
    end = _RECORD_SIZE + id_length
    if len(data) < end or not (isfinite(created) and isfinite(accessed)):
        raise DeserializationError("corrupt beaker session record")
    try:
        session_id = data[_RECORD_SIZE:end].decode("ascii")
    except UnicodeDecodeError:
        raise DeserializationError("corrupt beaker session record id") from None
    # On every session load: tuple.__new__ skips the NamedTuple's Python-level __new__.
    return tuple.__new__(SessionRecord, (session_id, created, accessed, bytes(data[end:])))


def _decode_data(serializer: Serializer, payload: bytes) -> dict[str, Any]:
    data = serializer.loads(payload)
    if type(data) is not dict:
        raise DeserializationError(f"session data is a {type(data).__name__}, not a dict")
    return data


def _recall(memo: Lazy[tuple[str, T]] | None, cookie_value: str) -> T | None:
    """What ``memo`` (a cookie value this backend verified or issued, and what it carries)
    holds for ``cookie_value``, or ``None``; compared in constant time, so a forged value
    learns nothing of the genuine one's bytes."""
    known = None if memo is None else memo.value
    if known is None or len(known[0]) != len(cookie_value) or not cookie_value.isascii():
        return None
    return known[1] if hmac.compare_digest(known[0], cookie_value) else None


@runtime_checkable
class SessionBackend(Protocol):
    """Reads and writes session records; the part of a session configuration that says where
    the data lives. Implementations must be thread-safe.

    Attributes:
        server_side: ``True`` when records live in a store shared by requests (so locking a
            session across a request means something), ``False`` when the cookie is the
            record.
        ids: issues and recognises session ids.
        serializer: turns the data dict into the record's payload and back.
    """

    server_side: ClassVar[bool]
    ids: SessionIds
    serializer: Serializer

    def read(
        self, cookie_value: str, before_load: Callable[[str], object] | None = None
    ) -> Loaded | None:
        """The session a cookie value names, or ``None`` (absent, forged, malformed, unknown).

        Args:
            cookie_value: the cookie's value as the browser sent it.
            before_load: called with the session id after the cookie is verified and before
                the record is read (server-side: to take the session's lock first).

        Raises:
            DeserializationError: server-side only, a stored record could not be decoded
                (what to do is the session's ``invalidate_corrupt`` decision). Anything a
                client controls yields ``None``, never an exception.
        """

    def read_id(self, session_id: str) -> Loaded | None:
        """The stored session with this id, which the caller trusts (it came from this server,
        not from a cookie); ``None`` if there is none or the cookie is the only record.

        Raises:
            DeserializationError: the stored record could not be decoded.
        """

    def write(self, record: SessionRecord, expires_at: float | None, now: float) -> str:
        """Store ``record`` and return the cookie value that names it. Where the cookie is
        the record (``server_side`` false) this only encodes, with no side effect.

        Args:
            record: the session to write.
            expires_at: when the session expires (idle or absolute timeout), seconds since the
                epoch, or ``None``; server-side stores keep it for purging.
            now: the current time, seconds since the epoch.
        """

    def write_if(
        self, record: SessionRecord, expires_at: float | None, now: float, version: object
    ) -> str | None:
        """Like :meth:`write`, but only if the stored session is still the version read
        (``Loaded.version``); ``None`` when another request wrote it since (nothing written).
        Where the store keeps no versions, or the cookie is the record, this is :meth:`write`.
        """

    def remove(self, session_id: str) -> None:
        """Forget a session (no-op where the cookie is the record)."""

    def acquire(self, session_id: str, timeout: float | None) -> Lease:
        """Hold the session's lock. Raises :class:`~beaker.errors.LockTimeout`."""


def _lock(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, (Lock, AsyncLock)):
        raise ComponentTypeError(attribute.name, value, "a beaker Lock or AsyncLock")
    if is_async_lock(value) != is_async_store(instance.store):
        wanted = (
            "an AsyncLock for an AsyncStore"
            if is_async_store(instance.store)
            else "a sync Lock for a sync Store"
        )
        raise ConfigError(attribute.name, value, wanted)


def _default_lock(instance: Any) -> Lock | AsyncLock:
    return AsyncioLock() if is_async_store(instance.store) else ThreadLock()


def _signing(value: Any, option: str, purpose: str) -> BytesCodec:
    """A codec given as such, or signing keys (``str``/``bytes`` or a list, newest first) made
    into an :class:`~beaker.serializers.signing.HMACSigner` for ``purpose``."""
    if isinstance(value, BytesCodec):
        return value
    if isinstance(value, (str, bytes, Sequence)):
        return HMACSigner(value, purpose=purpose)
    raise ComponentTypeError(option, value, "signing keys (str/bytes or a list), or a codec")


def _secret(value: Any) -> BytesCodec | None:
    """``secret``: ``None`` (ids sent unsigned), signing keys or a codec."""
    return None if value is None else _signing(value, "secret", "beaker.session.id")


@attrs.frozen
class ServerSideBackend:
    """Sessions kept in a :class:`~beaker.stores.base.Store` (or, for the ASGI front, an
    :class:`~beaker.stores.base.AsyncStore`); the cookie holds the id.

    Only ids this backend could have issued are looked up: the value must have the exact
    shape of a :class:`SessionIds` id (and verify under ``secret`` when one is set), so no
    malformed, over-long or path-like string ever reaches the store. An unknown but well-formed
    id also reads as "no session": the caller then issues a *new* id, never the client's.
    When ``store`` has ``get_versioned`` and ``compare_and_set`` (a
    :class:`~beaker.stores.base.VersionedStore`, or one without ``compare_and_delete``), reads
    carry the record's version and :meth:`write_if` is the store's compare-and-set.

    Args:
        store: any Store (``MemoryStore()``, ``FileStore(data_dir)``, ``DBMStore(data_dir)``,
            ``RedisStore(url=...)`` …), or any AsyncStore (``AsyncMemoryStore()``,
            ``AsyncRedisStore(url=...)`` …) for :mod:`beaker.sessions.asgi`; a sync and an
            async twin on one server read each other's sessions.
        lock: the Lock used by ``Session.lock()`` and whole-request locking (default
            ``ThreadLock()``; use ``FileLock(lock_dir)`` or a store-native lock when several
            processes serve the same sessions); for an AsyncStore, an AsyncLock (default
            ``AsyncioLock()``; ``AsyncRedisLock`` or ``AsyncFileLock`` across processes).
        serializer: encodes the data dict (default ``PickleSerializer()``: the bytes are
            written and read by the server only). Use ``JSONSerializer()`` to keep data
            portable.
        namespace: the store namespace for sessions (``str``, default ``"beaker.session"``).
        secret: signs the id cookie with HMAC-SHA256 (Beaker's ``secret``): keys
            (``str``/``bytes`` or a list, newest first, for rotation) or a ready
            :class:`~beaker.serializers.base.BytesCodec`; ``None`` (default) sends the bare id.
        ids: the id issuer/checker (default ``SessionIds()``: 128-bit hex ids).

    Raises:
        ComponentTypeError: an argument of the wrong kind.
        ConfigError: an async lock for a sync store, or the other way round.
    """

    server_side: ClassVar[bool] = True

    store: Store | AsyncStore = attrs.field(
        validator=conforms((Store, AsyncStore), "a beaker Store or AsyncStore")
    )
    lock: Lock | AsyncLock = attrs.field(
        default=attrs.Factory(_default_lock, takes_self=True), validator=_lock
    )
    serializer: Serializer = attrs.field(factory=PickleSerializer, validator=_SERIALIZER)
    namespace: str = attrs.field(default=DEFAULT_NAMESPACE, validator=non_empty_str())
    secret: BytesCodec | None = attrs.field(default=None, converter=_secret, repr=False)
    ids: SessionIds = attrs.field(factory=SessionIds, validator=_IDS)
    _versioned: bool = attrs.field(init=False, eq=False, repr=False)
    # (signed cookie value, id) of the last id verified or signed, when signing is a pure
    # function of the id: an HMACSigner with one key (which then verified any cookie that
    # passed). The value a request's cookie carried is then byte for byte the one its response
    # sends (no second HMAC tag), and that same value arriving again is genuine (compared in
    # constant time, no tag either). One entry, replaced whole (thread-safe); empty in a
    # pickled copy. With several keys every cookie is verified and re-signed with the newest.
    _signed: Lazy[tuple[str, str]] | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_versioned", compares_and_sets(self.store))
        secret = self.secret
        one_key = type(secret) is HMACSigner and len(secret.keys) == 1
        object.__setattr__(self, "_signed", Lazy() if one_key else None)

    @property
    def asynchronous(self) -> bool:
        """Whether :attr:`store` is an AsyncStore (so only the ASGI front can use it)."""
        return is_async_store(self.store)

    def session_id(self, cookie_value: str) -> str | None:
        """The id a cookie value carries, if it verifies and is well-formed; else ``None``."""
        if self.secret is None:
            candidate = cookie_value
        else:
            if len(cookie_value) > MAX_COOKIE_VALUE:
                log.info("session id cookie refused: %d characters", len(cookie_value))
                return None
            known_id = _recall(self._signed, cookie_value)
            if known_id is not None:
                return known_id  # the value verified (or signed) last: genuine
            try:
                candidate = self.secret.decode(decode_value(cookie_value)).decode("ascii")
            except (DeserializationError, UnicodeDecodeError) as exc:
                log.info("session id cookie refused: %s", exc)
                return None
        if not self.ids.is_valid(candidate):
            log.info("session id refused: not an id this server issues (%d chars)", len(candidate))
            return None
        if self._signed is not None:
            self._signed.value = (cookie_value, candidate)
        return candidate

    def read(
        self, cookie_value: str, before_load: Callable[[str], object] | None = None
    ) -> Loaded | None:
        return read_cookie(self, self.read_id, cookie_value, before_load)

    def read_id(self, session_id: str) -> Loaded | None:
        """Read a session by id (the id must already be trusted: issued by this server), with
        its version when the store is a :class:`~beaker.stores.base.VersionedStore`.

        Raises:
            DeserializationError: the stored record is corrupt or names another id.
        """
        if self._versioned:
            entry, version = cast(VersionedStore, self.store).get_versioned(
                self.namespace, session_id
            )
        else:
            entry, version = self._store.get(self.namespace, session_id), None
        return self.decode(session_id, entry, version)

    def write(self, record: SessionRecord, expires_at: float | None, now: float) -> str:
        self._store.set(self.namespace, record.id, self.entry_for(record, expires_at, now))
        return self.cookie_value(record.id)

    def write_if(
        self, record: SessionRecord, expires_at: float | None, now: float, version: object
    ) -> str | None:
        if not self._versioned:
            return self.write(record, expires_at, now)
        entry = self.entry_for(record, expires_at, now)
        store = cast(VersionedStore, self.store)
        if not store.compare_and_set(self.namespace, record.id, entry, version):
            return None
        return self.cookie_value(record.id)

    def remove(self, session_id: str) -> None:
        self._store.delete(self.namespace, session_id)

    def acquire(self, session_id: str, timeout: float | None) -> Lease:
        return cast(Lock, self.lock).acquire(self.lock_name(session_id), timeout)

    @property
    def _store(self) -> Store:
        # The sync methods run for sync stores only: the fronts refuse an AsyncStore.
        return cast(Store, self.store)

    # The decisions both fronts share; the sync methods above and the ASGI front add the I/O.

    def decode(self, session_id: str, entry: Entry | None, version: object = None) -> Loaded | None:
        """The session in ``entry`` (stored at ``version``), as stored under the trusted
        ``session_id``; ``None`` if there is no entry.

        Raises:
            DeserializationError: the record is corrupt or names another id.
        """
        if entry is None:
            log.debug("session %s… not found", session_id[:8])
            return None
        record = unpack_record(entry.value)
        if record.id != session_id:
            raise DeserializationError("stored session record names a different id")
        data = _decode_data(self.serializer, record.payload)
        return tuple.__new__(Loaded, (record, data, version))  # as in unpack_record

    def entry_for(self, record: SessionRecord, expires_at: float | None, now: float) -> Entry:
        """The store entry holding ``record`` (written at ``now``, expiring at
        ``expires_at``, seconds since the epoch or ``None``)."""
        return Entry(pack_record(record), now, expires_at)

    def cookie_value(self, session_id: str) -> str:
        """The cookie value naming a session: its id, signed when a ``secret`` is set."""
        if self.secret is None:
            return session_id
        signed = self._signed
        if signed is not None:
            known = signed.value
            if known is not None and known[1] == session_id:
                return known[0]
        value = encode_value(self.secret.encode(session_id.encode("ascii")))
        if signed is not None:
            signed.value = (value, session_id)
        return value

    def lock_name(self, session_id: str) -> str:
        """The name under which a session's lock is taken."""
        return f"{self.namespace}:{session_id}"


def read_cookie(
    backend: ServerSideBackend,
    read_id: Callable[[str], Loaded | None],
    cookie_value: str,
    before_load: Callable[[str], object] | None,
) -> Loaded | None:
    """A server-side :meth:`SessionBackend.read`: the id ``cookie_value`` carries
    (:meth:`ServerSideBackend.session_id`; ``None`` if it carries none), ``before_load(id)``,
    then ``read_id(id)`` — the backend's own, or the ASGI front's over what it loaded."""
    session_id = backend.session_id(cookie_value)
    if session_id is None:
        return None
    if before_load is not None:
        before_load(session_id)
    return read_id(session_id)


def _codec_from(value: Any) -> BytesCodec:
    return _signing(value, "codec", "beaker.session.cookie")


@attrs.frozen
class CookieBackend:
    """Sessions kept entirely in the cookie (Beaker's ``type = cookie``).

    The cookie value is ``encode_value(codec.encode(pack_record(record)))``: verified or
    decrypted by ``codec`` before anything is decoded, so ``serializer`` — JSON by default,
    pickle only if asked for — only ever sees bytes this server wrote. A cookie that fails
    (altered, truncated, made under a key no longer configured, or undecodable) reads as "no
    session" and is logged.

    Args:
        codec: an :class:`~beaker.serializers.signing.HMACSigner` (Beaker's
            ``validate_key``: integrity only) or an
            :class:`~beaker.serializers.aead.AESGCMEncrypter` (Beaker's ``encrypt_key``:
            secrecy and integrity); plain keys (``str``/``bytes`` or a list, newest first) make
            an ``HMACSigner``.
        serializer: encodes the data dict (default ``JSONSerializer()``; a
            ``PickleSerializer()`` is allowed because only verified bytes reach it).
        ids: the id issuer (default ``SessionIds()``); cookie sessions have ids too, so that
            ``regenerate_id()`` works the same everywhere.

    Raises:
        ComponentTypeError: an argument of the wrong kind.

    Cookie sessions cannot be locked across requests: the browser holds the only copy.
    """

    server_side: ClassVar[bool] = False

    codec: BytesCodec = attrs.field(converter=_codec_from, repr=False)
    serializer: Serializer = attrs.field(factory=JSONSerializer, validator=_SERIALIZER)
    ids: SessionIds = attrs.field(factory=SessionIds, validator=_IDS)
    _null: NullLock = attrs.field(init=False, factory=NullLock, eq=False, repr=False)
    # The last cookie read, with the record in it, and the last issued, with the codec's bytes
    # in it: decoding and checking the record are pure functions of the value under the
    # configured keys, so the browser sending either back again (an unchanged session, or the
    # cookie just issued) costs a constant-time compare instead of a tag (or a decryption).
    # The data is decoded on every read (the caller gets a dict of its own). Empty in a
    # pickled copy.
    _verified: Lazy[tuple[str, SessionRecord]] = lazy_field()
    _issued: Lazy[tuple[str, bytes]] = lazy_field()

    def read(
        self, cookie_value: str, before_load: Callable[[str], object] | None = None
    ) -> Loaded | None:
        if len(cookie_value) > MAX_COOKIE_VALUE:
            log.info("session cookie refused: %d characters", len(cookie_value))
            return None
        try:
            record = _recall(self._verified, cookie_value)
            if record is None:
                body = _recall(self._issued, cookie_value)
                if body is None:
                    body = self.codec.decode(decode_value(cookie_value))
                record = unpack_record(body)
                if not self.ids.is_valid(record.id):
                    raise DeserializationError("session cookie names a malformed id")
                self._verified.value = (cookie_value, record)
            data = _decode_data(self.serializer, record.payload)
            return tuple.__new__(Loaded, (record, data, None))  # as in unpack_record
        except DeserializationError as exc:
            log.info("session cookie refused: %s", exc)
            return None

    def read_id(self, session_id: str) -> Loaded | None:
        return None  # the browser holds the only copy

    def write(self, record: SessionRecord, expires_at: float | None, now: float) -> str:
        body = pack_record(record)
        value = encode_value(self.codec.encode(body))
        self._issued.value = (value, body)
        return value

    def write_if(
        self, record: SessionRecord, expires_at: float | None, now: float, version: object
    ) -> str | None:
        return self.write(record, expires_at, now)

    def remove(self, session_id: str) -> None:
        pass

    def acquire(self, session_id: str, timeout: float | None) -> Lease:
        return self._null.acquire(session_id, timeout)


def check_backend(value: object) -> SessionBackend:
    """Return ``value`` if it is a :class:`SessionBackend`.

    Raises:
        ComponentTypeError: it is not.
    """
    if not isinstance(value, SessionBackend):
        raise ComponentTypeError("backend", value, "a SessionBackend (server-side or cookie)")
    if not isinstance(value.ids, SessionIds):  # pragma: no cover - protocol misuse
        raise ConfigError("backend.ids", value.ids, "a SessionIds")
    return value
