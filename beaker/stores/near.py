"""The near tier: a bounded copy, in this process, of what a remote store returned, kept
coherent by the server where it can tell us what changed.

:class:`NearCache` is the configuration (``compose(store, near=NearCache(max_entries=...))``);
:meth:`NearCache.over` wraps a store into a :class:`NearStore`, which answers reads from its
copy and sends everything else to the remote store.

Coherence, per remote store:

* :class:`~beaker.stores.RedisStore`: server-assisted invalidation (``CLIENT TRACKING`` in
  broadcast mode on the store's key prefix, RESP2, the tracking connection redirecting to
  itself and subscribed to ``__redis__:invalidate``, on a thread of its own). Every write or
  expiry of a key under the prefix, by any client, drops it here as soon as the message
  arrives. Until the tracking connection is up, and whenever it drops, the copy is flushed and
  bypassed (reads go to Redis and are not kept): never a stale read past a disconnect.
* any other store (memcached, SQL, files, Redis Cluster): no invalidation channel, so a copy
  is served for at most :attr:`NearCache.ttl` seconds.

A read that races with an invalidation is not kept: the copy is filled only if no
invalidation arrived while the remote read was in flight. The copy is bounded: past
:attr:`NearCache.max_entries` entries (or :attr:`NearCache.max_bytes`), the least recently
used goes first.

With ``invalidation=True`` (:mod:`beaker.invalidation`), the tier is the cache's
:class:`~beaker.stores.stamps.StampStore`: it keeps the namespace and tag tokens it read as
copies too, under the same rule (on Redis, a token's key is under the prefix, so
``invalidate()`` and ``invalidate_tags()`` by any process arrive as invalidation messages and
drop the token here; elsewhere it lives :attr:`NearCache.ttl` seconds). Entries keep their
stamps in the remote's record format, so processes with and without a near tier share them.

Imports ``redis`` only when the remote is a Redis store; must not import ``beaker.caching``,
``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final

import attrs

from beaker.entry import Entry
from beaker.errors import DeserializationError, SerializationError
from beaker.metrics import NullRecorder, Recorder
from beaker.runtime import Lazy, lazy_field
from beaker.serializers.base import Serializer
from beaker.serializers.pickle import PickleSerializer
from beaker.stores.base import Store, batch_of
from beaker.stores.stamps import (
    STAMPS,
    Stamped,
    pack_stamps,
    recorded_names,
    split,
    stamps_of,
)
from beaker.validators import conforms, instance_of, is_callable, optional, positive_int, seconds

log = logging.getLogger("beaker.stores.near")

_CHANNEL: Final = b"__redis__:invalidate"
_PING_EVERY: Final = 5.0  # seconds without a message before the tracking connection is pinged
_RETRY_AFTER: Final = 0.2  # seconds between reconnection attempts
_CONNECTION_OPTIONS: Final = frozenset(
    {"host", "port", "db", "username", "password", "path", "socket_connect_timeout"}
)


@attrs.frozen
class NearCache:
    """An in-process tier in front of a remote store (see the module's docstring).

    Args:
        max_entries: at most this many entries (``int`` > 0, default 10,000); the least
            recently used copy goes first.
        max_bytes: at most this many bytes of values as the remote store holds them (``int``
            > 0), or ``None`` (the default) for no byte bound; a remote's objects count 0.
        ttl: seconds a copy is served on stores without server-assisted invalidation
            (default 1.0); unused on Redis, whose copies live until invalidated.
        clock: ``() -> seconds`` for that TTL (default ``time.monotonic``).

    Raises:
        ConfigError: a bound or the TTL is out of range.
    """

    max_entries: int = attrs.field(default=10_000, validator=positive_int(unit="entries"))
    max_bytes: int | None = attrs.field(
        default=None, validator=positive_int(unit="bytes", optional=True)
    )
    ttl: float = attrs.field(default=1.0, validator=seconds(positive=True))
    clock: Callable[[], float] = attrs.field(
        default=time.monotonic, validator=is_callable("a clock () -> seconds")
    )

    def over(
        self,
        store: Store,
        metrics: Recorder | None = None,
        serializer: Serializer | None = None,
    ) -> Store:
        """``store`` behind this near tier (what ``compose(..., near=...)`` does); see
        :class:`NearStore` for the arguments."""
        recorder = NullRecorder() if metrics is None else metrics
        if serializer is None and not store.holds_objects:
            serializer = PickleSerializer()
        return NearStore(store, self, recorder, serializer)


class _Tier:
    """The runtime copy of a :class:`NearStore`: the entries, their bound, the invalidation
    sequence and whether the copy may be served (``online``)."""

    def __init__(self, near: NearCache, tracked: bool) -> None:
        self.near = near
        self.tracked = tracked
        self.data: OrderedDict[tuple[str, str], tuple[Entry, float, int]] = OrderedDict()
        self.size = 0
        self.mutex = threading.Lock()
        self.seq = 0  # bumped by every invalidation: a fill started before one is dropped
        self.online = not tracked  # a tracked copy is served only while tracking is up
        self.closed = threading.Event()
        self.client_id: int | None = None
        self.connection: Any = None
        self.follow: Callable[[], None] | None = None  # starts the tracking thread

    def fill(self, item: tuple[str, str], entry: Entry, size: int, seq: int) -> None:
        near = self.near
        deadline = float("inf") if self.tracked else near.clock() + near.ttl
        with self.mutex:
            if seq != self.seq or not self.online:
                return  # an invalidation arrived meanwhile: the value read may be stale
            old = self.data.pop(item, None)
            if old is not None:
                self.size -= old[2]
            self.data[item] = (entry, deadline, size)
            self.size += size
            while len(self.data) > near.max_entries or (
                near.max_bytes is not None and self.size > near.max_bytes and self.data
            ):
                self.size -= self.data.popitem(last=False)[1][2]

    def used(self, item: tuple[str, str]) -> None:
        """``item`` was just served: it becomes the most recently used."""
        try:
            self.data.move_to_end(item)
        except KeyError:  # dropped meanwhile by another thread
            pass

    def drop(self, items: Iterable[tuple[str, str]]) -> int:
        with self.mutex:
            self.seq += 1
            dropped = 0
            for item in items:
                old = self.data.pop(item, None)
                if old is not None:
                    self.size -= old[2]
                    dropped += 1
            return dropped

    def flush(self, online: bool) -> int:
        with self.mutex:
            self.seq += 1
            dropped = len(self.data)
            self.data.clear()
            self.size = 0
            self.online = online
            return dropped


@attrs.frozen
class NearStore:
    """A remote store with a :class:`NearCache` in front (build it with
    :meth:`NearCache.over`, or ``compose(remote, near=NearCache(...))``).

    Reads are answered from the copy when it holds the key (and may serve: see the module's
    docstring), else from ``remote`` (and kept). Writes, deletes and clears go to ``remote``
    and drop the key here at once (other processes learn of them through Redis's
    invalidation messages, or their TTL). Batch reads go to ``remote``.

    The tier keeps decoded values, so a hit costs no deserialization: it holds objects
    (``holds_objects`` is true) and runs ``serializer`` itself between the cache and a byte
    store (the cache, composed with ``near=``, then has none of its own).

    Args:
        remote: the :class:`~beaker.stores.base.Store` behind the tier.
        near: the :class:`NearCache` configuration.
        metrics: a :class:`~beaker.metrics.Recorder` for ``near_hit`` and
            ``near_invalidation`` events (default: none).
        serializer: the :class:`~beaker.serializers.Serializer` chain between values and
            ``remote``'s bytes (``None`` for a remote that holds objects).

    Thread-safe; the tracking connection lives on a daemon thread started on first use and
    stopped by :meth:`close`.
    """

    remote: Store = attrs.field(validator=conforms(Store, "a Store"))
    near: NearCache = attrs.field(validator=instance_of(NearCache, "a NearCache"))
    metrics: Recorder = attrs.field(
        factory=NullRecorder, validator=conforms(Recorder, "a Recorder"), repr=False
    )
    serializer: Serializer | None = attrs.field(
        default=None, validator=optional(conforms(Serializer, "a Serializer")), repr=False
    )
    holds_objects: ClassVar[bool] = True
    _tier: Lazy[_Tier] = lazy_field()
    _hit: Callable[[], object] = attrs.field(init=False, eq=False, repr=False)
    _dropped: Callable[[], object] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        kind = type(self.remote).__name__
        object.__setattr__(self, "_hit", self.metrics.event("near_hit", "*", kind))
        object.__setattr__(self, "_dropped", self.metrics.event("near_invalidation", "*", kind))

    # -- the copy --------------------------------------------------------------------------------

    @property
    def tracked(self) -> bool:
        """Whether Redis tells this tier what changed (else copies live :attr:`NearCache.ttl`
        seconds)."""
        from beaker.stores.redis import RedisClusterStore, RedisStore

        return isinstance(self.remote, RedisStore) and not isinstance(
            self.remote, RedisClusterStore
        )

    def _start(self) -> _Tier:
        tier = _Tier(self.near, self.tracked)
        if tier.tracked:
            tier.follow = functools.partial(_follow, tier, self.remote, self._forget)
            tier.follow()
            _TRACKED.add(tier)
        return tier

    def _live(self) -> _Tier:
        return self._tier.value or self._tier.get(self._start)

    @property
    def coherent(self) -> bool:
        """Whether the copy is being served: on Redis, while the tracking connection is up."""
        return self._live().online

    @property
    def tracking_id(self) -> int | None:
        """The Redis client id of the tracking connection while it is up (for tests)."""
        return self._live().client_id

    def __len__(self) -> int:
        return len(self._live().data)

    def __bool__(self) -> bool:
        return True  # a store, not a container: an empty copy is still a store

    def _forget(self, dropped: int) -> None:
        for _ in range(dropped):
            self._dropped()

    # -- the Store protocol -----------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Entry | None:
        tier = self._tier.value or self._live()
        item = (namespace, key)
        found = tier.data.get(item)
        if found is not None and tier.online and (tier.tracked or tier.near.clock() < found[1]):
            tier.used(item)
            self._hit()
            return found[0]
        seq = tier.seq
        stored = self.remote.get(namespace, key)
        if stored is None:
            return None
        entry = self._decoded(namespace, key, stored)
        if entry is not None and tier.online:
            value = stored.value
            tier.fill(item, entry, len(value) if isinstance(value, bytes) else 0, seq)
        return entry

    def _decoded(self, namespace: str, key: str, entry: Entry) -> Entry | None:
        """``entry`` with its value decoded; ``None`` (and a warning) when it is unreadable."""
        if self.serializer is None:
            return entry
        stamps, payload = split(entry.value)
        try:
            value = self.serializer.loads(payload)
        except DeserializationError as exc:
            log.warning("entry %r in namespace %r is unreadable (%s): a miss", key, namespace, exc)
            return None
        return entry._replace(value=value if stamps is None else Stamped(stamps, value))

    def _encoded(self, key: str, entry: Entry) -> Entry:
        """``entry`` in the remote's form: its value encoded, a :class:`Stamped` value's
        stamps in front of the bytes (as a cache without a near tier writes them)."""
        if self.serializer is None:
            return entry
        value = entry.value
        stamped = type(value) is Stamped
        try:
            payload = self.serializer.dumps(value.value if stamped else value)
        except SerializationError as exc:
            raise SerializationError(exc.reason, key=key) from exc
        return entry._replace(value=pack_stamps(value.stamps, payload) if stamped else payload)

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        entry = self._encoded(key, entry)
        self._live().drop([(namespace, key)])
        self.remote.set(namespace, key, entry)
        self._live().drop([(namespace, key)])

    def delete(self, namespace: str, key: str) -> None:
        self.remote.delete(namespace, key)
        self._live().drop([(namespace, key)])

    def clear(self, namespace: str) -> None:
        self.remote.clear(namespace)
        tier = self._live()
        self._forget(tier.drop([item for item in list(tier.data) if item[0] == namespace]))

    def keys(self, namespace: str) -> Iterator[str]:
        return self.remote.keys(namespace)

    def close(self) -> None:
        """Stop the tracking connection, drop the copy and close the remote store."""
        tier = self._tier.drop()
        if tier is not None:
            tier.closed.set()
            tier.flush(online=False)
            connection = tier.connection
            if connection is not None:
                connection.disconnect()
        self.remote.close()

    # -- batches and stamps: the remote's -----------------------------------------------------------

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        found = batch_of(self.remote).get_many(namespace, keys)
        decoded = {key: self._decoded(namespace, key, entry) for key, entry in found.items()}
        return {key: entry for key, entry in decoded.items() if entry is not None}

    def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        encoded = {key: self._encoded(key, entry) for key, entry in entries.items()}
        batch_of(self.remote).set_many(namespace, encoded)
        self._live().drop([(namespace, key) for key in entries])

    def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        batch_of(self.remote).delete_many(namespace, keys)
        self._live().drop([(namespace, key) for key in keys])

    # -- stamps (beaker.stores.stamps): tokens are copies too ---------------------------------------

    def get_stamped(self, namespace: str, key: str) -> tuple[Entry | None, dict[str, str]]:
        """The entry (as :meth:`get`) and its tokens (as :meth:`get_stamps`)."""
        entry = self.get(namespace, key)
        return entry, self.get_stamps(recorded_names(namespace, [entry]))

    def get_many_stamped(
        self, namespace: str, keys: Iterable[str]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        """The entries (as :meth:`get_many`) and their tokens (as :meth:`get_stamps`)."""
        found = self.get_many(namespace, keys)
        return found, self.get_stamps(recorded_names(namespace, found.values()))

    def get_stamps(self, names: Iterable[str]) -> dict[str, str]:
        """The tokens of ``names``: the copies, and the others read from the remote in one
        batch (and kept, as entries are)."""
        tier = self._tier.value or self._live()
        current: dict[str, str] = {}
        wanted = []
        for name in names:
            found = tier.data.get((STAMPS, name))
            if found is not None and tier.online and (tier.tracked or tier.near.clock() < found[1]):
                current[name] = found[0].value
            else:
                wanted.append(name)
        if wanted:
            seq = tier.seq
            read = stamps_of(self.remote).get_stamps(wanted)
            for name, token in read.items():
                tier.fill((STAMPS, name), Entry(token, 0.0), 0, seq)
            current.update(read)
        return current

    def set_stamps(self, tokens: Mapping[str, str]) -> None:
        """Write the tokens to the remote (an invalidation), dropping the copies."""
        items = [(STAMPS, name) for name in tokens]
        self._live().drop(items)
        stamps_of(self.remote).set_stamps(tokens)
        self._live().drop(items)


def _item_of(prefix: bytes, name: bytes) -> tuple[str, str] | None:
    """The ``(namespace, key)`` of a RedisStore key name (``{prefix}{{len:namespace}}:key``;
    a token's ``{prefix}#stamp:name`` is ``(STAMPS, name)``), or ``None`` for any other name
    (another prefix's key)."""
    if name.startswith(prefix + b"#stamp:"):
        try:
            return STAMPS, name[len(prefix) + 7 :].decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not name.startswith(prefix + b"{"):
        return None
    try:
        text = name[len(prefix) + 1 :].decode("utf-8")
        length, _, rest = text.partition(":")
        size = int(length)
        namespace, tail = rest[:size], rest[size:]
    except (UnicodeDecodeError, ValueError):
        return None
    if not tail.startswith("}:"):
        return None
    return namespace, tail[2:]


#: The tracked tiers of this process: a forked child flushes each and starts its own tracking
#: thread (the parent's does not exist there, so the child's copies would never be dropped).
_TRACKED: weakref.WeakSet[_Tier] = weakref.WeakSet()


def _after_fork() -> None:
    for tier in list(_TRACKED):
        tier.flush(online=False)
        tier.connection = tier.client_id = None
        if tier.follow is not None and not tier.closed.is_set():
            tier.follow()


os.register_at_fork(after_in_child=_after_fork)


def _follow(tier: _Tier, store: Any, forget: Callable[[int], None]) -> None:
    threading.Thread(
        target=_track, args=(tier, store, forget), daemon=True, name="beaker-near-tracking"
    ).start()


def _track(tier: _Tier, store: Any, forget: Callable[[int], None]) -> None:
    """The tracking thread: connect, ``CLIENT TRACKING on REDIRECT <self> BCAST PREFIX
    <prefix>``, subscribe to the invalidation channel, and drop what each message names;
    flush and go offline whenever the connection fails, then reconnect."""
    import redis

    prefix = store.prefix.encode()
    while not tier.closed.is_set():
        connection = None
        try:
            pool = store.live_client().connection_pool
            options = {
                name: value
                for name, value in pool.connection_kwargs.items()
                if name in _CONNECTION_OPTIONS or name.startswith("ssl")
            }
            connection = pool.connection_class(**options, protocol=2, socket_timeout=_PING_EVERY)
            connection.connect()
            connection.send_command("CLIENT", "ID")
            client_id = int(connection.read_response())
            connection.send_command(
                "CLIENT", "TRACKING", "on", "REDIRECT", client_id, "BCAST", "PREFIX", prefix
            )
            connection.read_response()
            connection.send_command("SUBSCRIBE", _CHANNEL)
            connection.read_response()
            tier.connection, tier.client_id = connection, client_id
            forget(tier.flush(online=True))  # whatever changed before we listened is gone
            pinged = False
            socket = connection._sock
            while not tier.closed.is_set():
                # redis-py reconnects a dropped connection by itself, which would lose the
                # tracking and the subscription: a new socket is a failure here.
                if connection._sock is not socket:
                    raise redis.ConnectionError("the tracking connection was reset")
                # Wait without a read timeout (on one, redis-py would drop the connection):
                # ping after a quiet period, give up after two.
                if not connection.can_read(timeout=_PING_EVERY):
                    if pinged:
                        raise redis.TimeoutError("no answer to PING on the tracking connection")
                    connection.send_command("PING")
                    pinged = True
                    continue
                pinged = False
                message = connection.read_response()
                if message[0] != b"message":
                    continue
                names = message[2]
                if names is None:  # FLUSHDB / FLUSHALL
                    forget(tier.flush(online=True))
                    continue
                items = [item for item in (_item_of(prefix, name) for name in names) if item]
                forget(tier.drop(items))
        except Exception as exc:  # noqa: BLE001 - any failure: flush, go offline, retry
            if not tier.closed.is_set():
                log.warning("near tier: invalidation channel down (%s): flushed, bypassed", exc)
        finally:
            forget(tier.flush(online=False))
            tier.client_id = None
            if connection is not None:
                connection.disconnect()
        tier.closed.wait(_RETRY_AFTER)
