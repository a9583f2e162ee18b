"""The near tier: a bounded copy, in this process, of what a remote store returned, kept
coherent by the server where it can tell us what changed.

:class:`NearCache` is the configuration (``compose(store, near=NearCache(max_entries=...))``,
``compose_async(store, near=...)``); :meth:`NearCache.over` wraps a store into a
:class:`NearStore` (an async store into an :class:`AsyncNearStore`), which answers reads from its copy and sends everything else to the
remote store.

Coherence, per remote store:

* :class:`~beaker.stores.RedisStore`, :class:`~beaker.stores.RedisClusterStore` and their
  async twins: server-assisted invalidation (:mod:`beaker.stores.tracking`: ``CLIENT
  TRACKING`` in broadcast mode on the store's key prefix, one RESP2 connection per server, on
  every primary of a cluster, on a thread of its own). Every write or expiry of a key under
  the prefix, by any client, drops it here as soon as the message arrives. Until every
  tracking connection is up, and whenever one drops, the copy is flushed and bypassed (reads
  go to Redis and are not kept): never a stale read past a disconnect.
* any other store (memcached, SQL, files): no invalidation channel, so a copy is served for at
  most :attr:`NearCache.ttl` seconds.

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

import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

import attrs

from beaker.entry import Entry
from beaker.errors import DeserializationError, SerializationError
from beaker.metrics import NullRecorder, Recorder
from beaker.runtime import Lazy, lazy_field
from beaker.serializers.base import Serializer
from beaker.serializers.pickle import PickleSerializer
from beaker.stores.base import Store, async_batch_of, batch_of, is_async_store
from beaker.stores.stamps import (
    STAMPS,
    Stamped,
    async_stamps_of,
    pack_stamps,
    recorded_names,
    split,
    stamps_of,
)
from beaker.stores.tracking import Item, follow
from beaker.validators import conforms, instance_of, is_callable, optional, positive_int, seconds

log = logging.getLogger("beaker.stores.near")


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
        store: Any,
        metrics: Recorder | None = None,
        serializer: Serializer | None = None,
    ) -> Any:
        """``store`` behind this near tier (what ``compose(..., near=...)`` and
        ``compose_async(..., near=...)`` do): a :class:`NearStore`, or for an
        :class:`~beaker.stores.base.AsyncStore` an :class:`AsyncNearStore`; ``metrics``
        (default: none) and ``serializer`` (default: pickle for a store of bytes) as there."""
        if serializer is None and not store.holds_objects:
            serializer = PickleSerializer()
        kind = AsyncNearStore if is_async_store(store) else NearStore
        return kind(store, self, NullRecorder() if metrics is None else metrics, serializer)


class _Tier:
    """The runtime copy of a near tier: the entries, their bound, the invalidation sequence,
    whether the copy may be served (``online``) and, when tracked, the tracking connections
    (see :class:`beaker.stores.tracking.Followed`)."""

    def __init__(self, near: NearCache, tracked: bool) -> None:
        self.near = near
        self.tracked = tracked
        self.data: OrderedDict[Item, tuple[Entry, float, int]] = OrderedDict()
        self.size = 0
        self.mutex = threading.Lock()
        self.seq = 0  # bumped by every invalidation: a fill started before one is dropped
        self.online = not tracked  # a tracked copy is served only while tracking is up
        self.closed = threading.Event()
        self.links: list[tuple[str, int]] = []
        self.connections: list[Any] = []
        self.follow: Callable[[], None] | None = None  # starts the tracking thread

    def lookup(self, item: Item) -> Entry | None:
        """The copy of ``item`` if it may be served (it becomes the most recently used)."""
        found = self.data.get(item)
        if found is None or not self.online or not (self.tracked or self.near.clock() < found[1]):
            return None
        try:
            self.data.move_to_end(item)
        except KeyError:  # dropped meanwhile by another thread
            pass
        return found[0]

    def fill(self, item: Item, entry: Entry, size: int, seq: int) -> None:
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

    def drop(self, items: Iterable[Item]) -> int:
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


def _tracked_redis(remote: Any) -> Any:
    """The sync Redis store whose server tells a tier over ``remote`` what changed (``remote``
    itself, or an async twin's sync store), or ``None``."""
    module = sys.modules.get("beaker.stores.redis")  # a Redis store exists only if imported
    sync = getattr(remote, "sync", remote)
    return sync if module is not None and isinstance(sync, module.RedisStore) else None


@attrs.frozen
class _Near:
    """What :class:`NearStore` and :class:`AsyncNearStore` share: the configuration, the
    copy and every step that needs no remote call."""

    #: a :class:`~beaker.stores.base.Store` (an :class:`~beaker.stores.base.AsyncStore` for
    #: :class:`AsyncNearStore`: the two protocols share their method names).
    remote: Any = attrs.field(validator=conforms(Store, "a Store"))
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
        return _tracked_redis(self.remote) is not None

    def _start(self) -> _Tier:
        redis_store = _tracked_redis(self.remote)
        tier = _Tier(self.near, redis_store is not None)
        if redis_store is not None:
            follow(tier, redis_store, self._forget)
        return tier

    def _live(self) -> _Tier:
        return self._tier.value or self._tier.get(self._start)

    @property
    def coherent(self) -> bool:
        """Whether the copy is being served: on Redis, while every tracking connection is up."""
        return self._live().online

    @property
    def tracking(self) -> list[tuple[str, int]]:
        """``[(server address, client id)]`` of the tracking connections while they are up
        (one per server; for tests)."""
        return list(self._live().links)

    @property
    def tracking_id(self) -> int | None:
        """The Redis client id of the (first) tracking connection while it is up."""
        links = self._live().links
        return links[0][1] if links else None

    def __len__(self) -> int:
        return len(self._live().data)

    def __bool__(self) -> bool:
        return True  # a store, not a container: an empty copy is still a store

    def _forget(self, dropped: int) -> None:
        for _ in range(dropped):
            self._dropped()

    def _served(self, tier: _Tier, item: Item) -> Entry | None:
        """The copy of ``item`` if it may be served, counted as a near hit."""
        entry = tier.lookup(item)
        if entry is not None:
            self._hit()
        return entry

    def _kept(self, tier: _Tier, item: Item, stored: Entry | None, seq: int) -> Entry | None:
        """``stored`` (read from the remote when the tier's sequence was ``seq``) decoded, and
        kept as the copy of ``item`` unless an invalidation came meanwhile."""
        if stored is None:
            return None
        entry = self._decoded(*item, stored)
        if entry is not None and tier.online:
            value = stored.value
            tier.fill(item, entry, len(value) if isinstance(value, bytes) else 0, seq)
        return entry

    def _decoded(self, namespace: str, key: str, entry: Entry) -> Entry | None:
        """``entry`` with its value decoded (its stamps kept, as :class:`Stamped`); ``None``
        (and a warning) when it is unreadable."""
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

    def _readable(self, namespace: str, found: Mapping[str, Entry]) -> dict[str, Entry]:
        """A batch read's entries decoded, the unreadable ones left out."""
        decoded = {key: self._decoded(namespace, key, entry) for key, entry in found.items()}
        return {key: entry for key, entry in decoded.items() if entry is not None}

    def _dropping(self, namespace: str, keys: Iterable[str]) -> list[Item]:
        """``keys`` of ``namespace`` as the tier's items, dropped now (a write is coming)."""
        items = [(namespace, key) for key in keys]
        self._live().drop(items)
        return items

    def _cleared(self, namespace: str) -> None:
        """Drop every copy of ``namespace`` (the remote cleared it)."""
        tier = self._live()
        self._forget(tier.drop([item for item in list(tier.data) if item[0] == namespace]))

    def _closing(self) -> None:
        """Stop the tracking connections and drop the copy."""
        tier = self._tier.drop()
        if tier is not None:
            tier.closed.set()
            tier.flush(online=False)
            for connection in tier.connections:
                connection.disconnect()

    def _copied_tokens(self, names: Iterable[str]) -> tuple[dict[str, str], list[str], int]:
        """The tokens of ``names`` the copy holds, the names it lacks, and the sequence to
        keep those with (:meth:`_keep_tokens`) once read."""
        tier = self._tier.value or self._live()
        current: dict[str, str] = {}
        wanted = []
        for name in names:
            found = tier.lookup((STAMPS, name))
            if found is None:
                wanted.append(name)
            else:
                current[name] = found.value
        return current, wanted, tier.seq

    def _keep_tokens(self, current: dict[str, str], read: Mapping[str, str], seq: int) -> None:
        """Keep the tokens ``read`` from the remote, and add them to ``current``."""
        tier = self._live()
        for name, token in read.items():
            tier.fill((STAMPS, name), Entry(token, 0.0), 0, seq)
        current.update(read)


@attrs.frozen
class NearStore(_Near):
    """A remote store with a :class:`NearCache` in front (build it with
    :meth:`NearCache.over`, or ``compose(remote, near=NearCache(...))``).

    Reads are answered from the copy when it holds the key (and may serve: see the module's
    docstring), else from ``remote`` (and kept). Writes, deletes and clears go to ``remote``
    and drop the key here at once (other processes learn of them through Redis's
    invalidation messages, or their TTL). Batch reads go to ``remote``.

    The tier keeps decoded values, so a hit costs no deserialization: it holds objects
    (``holds_objects`` is true) and runs ``serializer`` itself between the cache and a byte
    store (the cache, composed with ``near=``, then has none of its own). It is also a
    :class:`~beaker.stores.stamps.StampStore` whose tokens are copies (see the module's
    docstring).

    Args:
        remote: the :class:`~beaker.stores.base.Store` behind the tier.
        near: the :class:`NearCache` configuration.
        metrics: a :class:`~beaker.metrics.Recorder` for ``near_hit`` and
            ``near_invalidation`` events (default: none).
        serializer: the :class:`~beaker.serializers.Serializer` chain between values and
            ``remote``'s bytes (``None`` for a remote that holds objects).

    Thread-safe; the tracking connections live on a daemon thread started on first use and
    stopped by :meth:`close`.
    """

    # -- the Store protocol -----------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Entry | None:
        tier = self._tier.value or self._live()
        item = (namespace, key)
        found = tier.data.get(item)  # the hit path: _Tier.lookup inline
        if found is not None and tier.online and (tier.tracked or tier.near.clock() < found[1]):
            try:
                tier.data.move_to_end(item)
            except KeyError:  # dropped meanwhile by another thread
                pass
            self._hit()
            return found[0]
        seq = tier.seq
        return self._kept(tier, item, self.remote.get(namespace, key), seq)

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        entry = self._encoded(key, entry)
        items = self._dropping(namespace, [key])
        self.remote.set(namespace, key, entry)
        self._live().drop(items)

    def delete(self, namespace: str, key: str) -> None:
        self.remote.delete(namespace, key)
        self._live().drop([(namespace, key)])

    def clear(self, namespace: str) -> None:
        self.remote.clear(namespace)
        self._cleared(namespace)

    def keys(self, namespace: str) -> Iterator[str]:
        keys: Iterator[str] = self.remote.keys(namespace)
        return keys

    def close(self) -> None:
        """Stop the tracking connections, drop the copy and close the remote store."""
        self._closing()
        self.remote.close()

    # -- batches: the remote's -----------------------------------------------------------------------

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        return self._readable(namespace, batch_of(self.remote).get_many(namespace, keys))

    def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        encoded = {key: self._encoded(key, entry) for key, entry in entries.items()}
        batch_of(self.remote).set_many(namespace, encoded)
        self._dropping(namespace, entries)

    def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        batch_of(self.remote).delete_many(namespace, keys)
        self._dropping(namespace, keys)

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
        current, wanted, seq = self._copied_tokens(names)
        if wanted:
            self._keep_tokens(current, stamps_of(self.remote).get_stamps(wanted), seq)
        return current

    def set_stamps(self, tokens: Mapping[str, str]) -> None:
        """Write the tokens to the remote (an invalidation), dropping the copies."""
        items = self._dropping(STAMPS, tokens)
        stamps_of(self.remote).set_stamps(tokens)
        self._live().drop(items)


@attrs.frozen
class AsyncNearStore(_Near):
    """:class:`NearStore` in front of an :class:`~beaker.stores.base.AsyncStore` (build it
    with :meth:`NearCache.over`, or ``compose_async(remote, near=NearCache(...))``):
    the same copy, coherence and arguments, the remote's calls awaited. A hit awaits nothing
    remote. On an :class:`~beaker.stores.AsyncRedisStore` the tracking connections are the
    sync store's (a thread, as for :class:`NearStore`), so one tier serves every event loop.
    It is an :class:`~beaker.stores.stamps.AsyncStampStore` whose tokens are copies.
    """

    async def get(self, namespace: str, key: str) -> Entry | None:
        tier = self._tier.value or self._live()
        item = (namespace, key)
        found = self._served(tier, item)
        if found is not None:
            return found
        seq = tier.seq
        return self._kept(tier, item, await self.remote.get(namespace, key), seq)

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        entry = self._encoded(key, entry)
        items = self._dropping(namespace, [key])
        await self.remote.set(namespace, key, entry)
        self._live().drop(items)

    async def delete(self, namespace: str, key: str) -> None:
        await self.remote.delete(namespace, key)
        self._live().drop([(namespace, key)])

    async def clear(self, namespace: str) -> None:
        await self.remote.clear(namespace)
        self._cleared(namespace)

    async def keys(self, namespace: str) -> Iterator[str]:
        keys: Iterator[str] = await self.remote.keys(namespace)
        return keys

    async def close(self) -> None:
        """Stop the tracking connections, drop the copy and close the remote store."""
        self._closing()
        await self.remote.close()

    async def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        found = await async_batch_of(self.remote).get_many(namespace, keys)
        return self._readable(namespace, found)

    async def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        encoded = {key: self._encoded(key, entry) for key, entry in entries.items()}
        await async_batch_of(self.remote).set_many(namespace, encoded)
        self._dropping(namespace, entries)

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        await async_batch_of(self.remote).delete_many(namespace, keys)
        self._dropping(namespace, keys)

    async def get_stamped(self, namespace: str, key: str) -> tuple[Entry | None, dict[str, str]]:
        entry = await self.get(namespace, key)
        return entry, await self.get_stamps(recorded_names(namespace, [entry]))

    async def get_many_stamped(
        self, namespace: str, keys: Iterable[str]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        found = await self.get_many(namespace, keys)
        return found, await self.get_stamps(recorded_names(namespace, found.values()))

    async def get_stamps(self, names: Iterable[str]) -> dict[str, str]:
        current, wanted, seq = self._copied_tokens(names)
        if wanted:
            read = await async_stamps_of(self.remote).get_stamps(wanted)
            self._keep_tokens(current, read, seq)
        return current

    async def set_stamps(self, tokens: Mapping[str, str]) -> None:
        items = self._dropping(STAMPS, tokens)
        await async_stamps_of(self.remote).set_stamps(tokens)
        self._live().drop(items)
