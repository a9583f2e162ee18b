"""Sessions Beaker 1.14.1 left behind, read-only, so switching to this package does not log
users out (the Beaker compat layer uses it; a native ``Sessions`` can too, by wrapping its
``ServerSideBackend`` in :class:`BeakerStorageBackend`).

* :func:`legacy_cookie_id` accepts a session-id cookie that Beaker signed: 40 hex digits of
  HMAC-SHA1(``secret``, id) followed by the 32-hex-digit id, checked with
  :func:`hmac.compare_digest`. The session then re-issues the cookie in this package's
  format (HMAC-SHA256) the next time it writes the session.
* :class:`LegacySessionReader` loads a server-side session Beaker wrote to a ``file``
  ``data_dir`` (``<data_dir>/container_file/<i>/<id>/<id>.cache``) or to ``ext:redis``
  (key ``beaker_cache:<id>:session``): a pickled mapping holding, under ``"session"``, the
  base64 text of the serialized session dict (pickle, or Beaker's zlib-compressed JSON).

Trust: only server-written data is ever unpickled. Ids reach the reader only after they are
checked to be exactly 32 lowercase hex digits (and, with a ``secret``, after the signature
verified), so a client cannot name a path or key of its choosing; the file or Redis value
read is one the server itself wrote. Beaker's cookie-only sessions (``type = cookie``) keep
their pickled data in the client's cookie and are *not* read: those users start a new session.

:class:`BeakerStorageBackend` puts both behind the native engine: a
:class:`~beaker.sessions.store.SessionBackend` that reads our store first and Beaker's
leftovers second, so the native session writes a migrated session (and its cookie) in our
format at its next save. Nothing here writes; removing a session (``delete()``,
``invalidate()``, ``regenerate_id()``) removes Beaker's copy too, so an old cookie cannot bring
it back.

Imports the standard library, :mod:`beaker.errors`, the session store and id modules;
``redis`` only through a client passed in. Must not import from ``beaker.compat``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import pickle
import re
import zlib
from collections.abc import Callable
from typing import Any, ClassVar, Final

import attrs

from beaker.errors import DeserializationError
from beaker.locks.base import Lease
from beaker.serializers.base import Serializer
from beaker.sessions.ids import SessionIds
from beaker.sessions.store import Loaded, ServerSideBackend, SessionRecord
from beaker.stores.base import VersionedStore

__all__ = ["BeakerStorageBackend", "LegacySessionReader", "legacy_cookie_id", "sign_legacy_id"]

log = logging.getLogger("beaker.sessions.migration")

_ID: Final = re.compile(r"[0-9a-f]{32}")
_SIGNED: Final = re.compile(r"[0-9a-f]{40}[0-9a-f]{32}")


def sign_legacy_id(secret: str | bytes, session_id: str) -> str:
    """The cookie value Beaker 1.14.1 issued for ``session_id`` under ``secret`` (Beaker's
    ``SignedCookie`` encoding: HMAC-SHA1 hex digest, then the id)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, session_id.encode("utf-8"), hashlib.sha1).hexdigest() + session_id


def legacy_cookie_id(value: str, secret: str | bytes | None) -> str | None:
    """The session id in a cookie value Beaker 1.14.1 issued, or ``None``.

    Args:
        value: the cookie value as sent (surrounding double quotes allowed).
        secret: Beaker's ``secret`` (``None``: Beaker sent the bare id, accepted if it has
            the shape of Beaker's ids).
    """
    value = value.strip('"')
    if secret is None:
        return value if _ID.fullmatch(value) else None
    if not _SIGNED.fullmatch(value):
        return None
    session_id = value[40:]
    expected = sign_legacy_id(secret, session_id)
    return session_id if hmac.compare_digest(expected, value) else None


def _decode_payload(payload: Any, data_serializer: Any) -> dict[str, Any]:
    """Beaker's stored session value -> the session dict."""
    if isinstance(payload, dict):  # Beaker before 1.8 kept the dict itself
        return payload
    if isinstance(payload, str):
        payload = payload.encode("ascii")
    if not isinstance(payload, bytes):
        raise DeserializationError(f"legacy session value is a {type(payload).__name__}")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DeserializationError(f"legacy session value is not base64 ({exc})") from exc
    try:
        if data_serializer == "json":
            data = json.loads(zlib.decompress(raw).decode("utf-8"))
        elif data_serializer in (None, "pickle"):
            data = pickle.loads(raw)
        else:
            data = data_serializer.loads(raw)
    except Exception as exc:  # a damaged value can fail in many ways
        raise DeserializationError(f"legacy session value cannot be decoded ({exc!r})") from exc
    if not isinstance(data, dict):
        raise DeserializationError(f"legacy session data is a {type(data).__name__}")
    return data


@attrs.frozen
class LegacySessionReader:
    """Finds sessions Beaker 1.14.1 stored server-side.

    Args:
        data_dir: Beaker's ``data_dir`` of a ``file`` session type (``str`` or ``None``).
        redis_client: where Beaker's ``ext:redis`` sessions are: a ``redis.Redis`` client, or
            an object with ``live_client()`` returning one (a
            :class:`~beaker.stores.RedisStore` on the same database); ``None``: not looked up.
        data_serializer: Beaker's ``data_serializer`` (``"pickle"``, ``"json"`` or an object
            with ``loads``).

    Encrypted server-side Beaker sessions (``encrypt_key`` with a server type) are not read.
    """

    data_dir: str | None = None
    redis_client: Any = attrs.field(default=None, repr=False)
    data_serializer: Any = "pickle"

    def path(self, session_id: str) -> str:
        """Where Beaker's ``file`` type kept session ``session_id``."""
        assert self.data_dir is not None
        return os.path.join(
            self.data_dir, "container_file", session_id[:1], session_id[:2], session_id + ".cache"
        )

    def load(self, session_id: str) -> dict[str, Any] | None:
        """The session dict Beaker stored for ``session_id``, or ``None`` if there is none.

        Raises:
            DeserializationError: a stored value exists but cannot be decoded.
        """
        if not _ID.fullmatch(session_id):
            return None
        stored = self._read_file(session_id) if self.data_dir is not None else None
        if stored is None and self.redis_client is not None:
            stored = self._read_redis(session_id)
        if stored is None:
            return None
        return _decode_payload(stored, self.data_serializer)

    def remove(self, session_id: str) -> None:
        """Delete what Beaker stored for ``session_id`` (nothing if there is none)."""
        if not _ID.fullmatch(session_id):
            return
        if self.data_dir is not None:
            try:
                os.remove(self.path(session_id))
            except FileNotFoundError:
                pass
        if self.redis_client is not None:
            client = self.redis_client
            client = client.live_client() if hasattr(client, "live_client") else client
            client.delete(f"beaker_cache:{session_id}:session")

    def _read_file(self, session_id: str) -> Any:
        try:
            with open(self.path(session_id), "rb") as handle:
                namespace = pickle.load(handle)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise DeserializationError(f"legacy session file unreadable ({exc!r})") from exc
        if not isinstance(namespace, dict):
            raise DeserializationError("legacy session file does not hold a mapping")
        return namespace.get("session")

    def _read_redis(self, session_id: str) -> Any:
        client = self.redis_client
        if hasattr(client, "live_client"):
            client = client.live_client()
        value = client.get(f"beaker_cache:{session_id}:session")
        if value is None:
            return None
        try:
            return pickle.loads(value)
        except Exception as exc:
            raise DeserializationError(f"legacy redis session unreadable ({exc!r})") from exc


@attrs.frozen
class BeakerStorageBackend:
    """A :class:`~beaker.sessions.store.ServerSideBackend` that also finds what Beaker 1.14.1
    left: a session only in Beaker's storage (``reader``) loads, under Beaker's id cookie
    (HMAC-SHA1 signed with ``secret``, or the bare id) as under ours.

    Args:
        inner: the backend sessions are read from first and always written to.
        reader: Beaker's storage for the same options.
        secret: Beaker's ``secret`` (``None``: Beaker sent bare ids).
    """

    server_side: ClassVar[bool] = True

    inner: ServerSideBackend
    reader: LegacySessionReader
    secret: str | bytes | None = attrs.field(default=None, repr=False)

    @property
    def ids(self) -> SessionIds:
        """The inner backend's session ids (the id cookie is ours, whoever stored it)."""
        return self.inner.ids

    def read(
        self, cookie_value: str, before_load: Callable[[str], object] | None = None
    ) -> Loaded | None:
        loaded = self.inner.read(cookie_value, before_load)
        if loaded is not None:
            return loaded
        if self.secret is None:
            session_id = self.inner.session_id(cookie_value)
        else:
            session_id = legacy_cookie_id(cookie_value, self.secret)
        return None if session_id is None else self._legacy(session_id)

    def read_id(self, session_id: str) -> Loaded | None:
        return self.inner.read_id(session_id) or self._legacy(session_id)

    @property
    def serializer(self) -> Serializer:
        """The inner backend's serializer: a legacy session is re-encoded with it."""
        return self.inner.serializer

    def _legacy(self, session_id: str) -> Loaded | None:
        data = self.reader.load(session_id)
        if data is None:
            return None
        log.info("session %s… read from Beaker 1.14.1 storage", session_id[:8])
        created = float(data.pop("_creation_time", 0.0))
        accessed = float(data.pop("_accessed_time", created))
        payload = self.inner.serializer.dumps(data)
        store, version = self.inner.store, None
        if isinstance(store, VersionedStore):  # our store's version of "absent", for write_if
            version = store.get_versioned(self.inner.namespace, session_id).version
        return Loaded(SessionRecord(session_id, created, accessed, payload), data, version)

    def write(self, record: SessionRecord, expires_at: float | None, now: float) -> str:
        return self.inner.write(record, expires_at, now)

    def write_if(
        self, record: SessionRecord, expires_at: float | None, now: float, version: object
    ) -> str | None:
        return self.inner.write_if(record, expires_at, now, version)

    def remove(self, session_id: str) -> None:
        self.inner.remove(session_id)
        self.reader.remove(session_id)

    def acquire(self, session_id: str, timeout: float | None) -> Lease:
        return self.inner.acquire(session_id, timeout)
