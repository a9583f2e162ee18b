"""MemcachedStore: entries in memcached, one item per ``(namespace, key)``, through pymemcache.

Item names: ``{prefix}{namespace}:{key}``, e.g. ``beaker:users:42``, made safe for memcached as
:mod:`beaker.stores.memcached_names` describes. Values are :func:`~beaker.entry.pack_entry`
records; expiry is native (the entry's TTL, in whole seconds, as an absolute time beyond
memcached's 30-day limit for relative ones). A hit is exactly one ``get`` of one item; the batch
methods send one request per server (and per expiry time, for ``set_many``).

Clearing a namespace lists the servers' items (:mod:`beaker.stores.memcached_crawler`) and
deletes the namespace's in pipelined batches: unlike Beaker's ``flush_all``, other namespaces
and other applications' items survive.

The servers, pools, time budget and circuit breaker are the store's
:class:`~beaker.stores.memcached_connection.MemcachedConnection`, which a lock may share.
Imports ``pymemcache`` (the ``memcached`` extra) and must not import ``beaker.caching``,
``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final, TypeVar

import attrs

from beaker.entry import Entry, pack_entry, unpack_entry
from beaker.errors import DeserializationError, StoreError
from beaker.runtime import Lazy, lazy_field
from beaker.stores import memcached_names
from beaker.stores.base import Versioned
from beaker.stores.connection import connection_of
from beaker.stores.memcached_connection import MemcachedConnection
from beaker.stores.memcached_crawler import item_names

log = logging.getLogger("beaker.stores.memcached")

T = TypeVar("T")

_DELETE_BATCH: Final = 500  # deletes pipelined per round trip
_SPACES_MAX: Final = 4096  # namespace -> item-name prefix memo, emptied when full


@attrs.frozen(init=False)
class MemcachedStore:
    """Keeps entries in memcached (as Beaker's ``ext:memcached``, with one ``get`` per hit
    instead of two, and a namespace clear that leaves other namespaces alone).

    Args:
        servers: ``"host:port;host:port"`` (Beaker's ``url``); ``unix:/path`` also works.
        prefix: put in front of every item name (printable ASCII, no spaces, at most 100
            characters); default ``"beaker:"``.
        connection: the :class:`~beaker.stores.MemcachedConnection` (servers, pools, time
            budget, circuit breaker), perhaps shared with a
            :class:`~beaker.locks.MemcachedLock`, instead of ``servers``; or
        client, socket_timeout, connect_timeout, breaker: the other arguments of a
            :class:`~beaker.stores.MemcachedConnection` built for this store.

    Thread-safe (a server's connections are pooled by pymemcache's ``PooledClient``, one per
    thread using it at once) and process-safe (memcached is the only shared state);
    picklable without a ``client``. Values up to memcached's item size (1 MB by default, the
    server's ``-I``) fit.

    Raises:
        ConfigError: malformed ``servers``, bad prefix or timeout; both ``connection`` and
            ``servers``/``client``.
        ComponentTypeError: ``client`` is not a pymemcache client.
        StoreUnavailable: (from every method) a server cannot be reached, did not answer
            within the budget, or its circuit is open; names the servers.
        StoreError: the server refused an operation (e.g. an item over its size limit, or
            ``lru_crawler`` disabled for :meth:`clear`/:meth:`keys`).
    """

    holds_objects: ClassVar[bool] = False
    #: ``keys()`` works (through ``lru_crawler metadump``).
    supports_keys: ClassVar[bool] = True

    connection: MemcachedConnection
    prefix: str = attrs.field(default="beaker:", validator=memcached_names.item_prefix)
    _spaces: Lazy[dict[str, str]] = lazy_field()  # namespace -> "{prefix}{namespace part}:"

    def __init__(
        self,
        servers: str | None = None,
        prefix: str = "beaker:",
        *,
        connection: MemcachedConnection | None = None,
        **connect: Any,
    ) -> None:
        if servers is not None:
            connect["servers"] = servers
        self.__attrs_init__(connection_of(MemcachedConnection, connection, connect), prefix)

    @property
    def address(self) -> str:
        """The servers as configured (``host:port;host:port``)."""
        return self.connection.address

    def live_client(self) -> Any:
        """The connection's live pymemcache client."""
        return self.connection.live_client()

    def close(self) -> None:
        """Close the connection's pools (see :meth:`~beaker.stores.MemcachedConnection.close`)."""
        self.connection.close()

    # -- layout --------------------------------------------------------------------------------

    def _space(self, namespace: str) -> str:
        """The start of every item name of ``namespace`` (memoised)."""
        spaces = self._spaces.get(dict)
        space = spaces.get(namespace)
        if space is None:
            space = memcached_names.namespace_part(self.prefix, namespace)
            if len(spaces) >= _SPACES_MAX:
                spaces.clear()
            spaces[namespace] = space
        return space

    def item_name(self, namespace: str, key: str) -> str:
        """The memcached item name of ``(namespace, key)`` (see the module's docstring)."""
        return memcached_names.item_name(self._space(namespace), key)

    # -- single entries ------------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Entry | None:
        """One ``get`` of one item. An unreadable item is a miss and a logged warning."""
        space = self._space(namespace)
        # memcached_names.safe_name_part(), written out: this is the hot path.
        hashed = not (
            len(space) + len(key) <= memcached_names.MAX_NAME
            and key.isascii()
            and key.isprintable()
            and " " not in key
            and not key.startswith("#")
        )
        name = space + (memcached_names.digest_name(key) if hashed else key)
        connection = self.connection
        client, address = connection.client_for(name)
        try:
            item = client.get(name)
        except Exception as exc:
            raise connection.failed(exc, f"get {name!r}", address) from exc
        connection.breaker.succeeded(address)
        if item is None:
            return None
        return self._entry_of(namespace, key, hashed, item)

    def _entry_of(self, namespace: str, key: str, hashed: bool, item: bytes) -> Entry | None:
        """The entry an item holds; ``None`` (and a warning) when it is unreadable."""
        if hashed:  # check the original key kept in the item
            split = memcached_names.split_mangled(item)
            if split is None or split[0] != key:
                self._unreadable(namespace, key, "not the item of this key")
                return None
            item = split[1]
        try:
            return unpack_entry(item)
        except DeserializationError as exc:
            self._unreadable(namespace, key, str(exc))
            return None

    def _unreadable(self, namespace: str, key: str, why: str) -> None:
        log.warning(
            "unreadable item for %r in namespace %r at %s (%s): a miss",
            key,
            namespace,
            self.connection.address,
            why,
        )

    def _item(self, namespace: str, key: str, entry: Entry) -> tuple[str, bytes]:
        """The item name and bytes that store ``entry`` under ``(namespace, key)``."""
        space = self._space(namespace)
        record = pack_entry(entry)
        if memcached_names.safe_name_part(key, memcached_names.MAX_NAME - len(space)):
            return space + key, record
        return space + memcached_names.digest_name(key), memcached_names.mangled_record(key, record)

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        """One ``gets``; the version is the item's CAS unique (``None``: no item)."""
        name = self.item_name(namespace, key)
        found = self.connection.run(name, lambda client: client.gets(name), f"gets {name!r}")
        item, unique = found if found else (None, None)
        if item is None:
            return Versioned(None, None)
        hashed = name != self._space(namespace) + key
        return Versioned(self._entry_of(namespace, key, hashed, item), unique)

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        """One ``cas`` with the version's unique (or, for the version of no item, one
        ``add``), the entry's TTL as the item's expiry: memcached itself refuses the write
        when the item changed (or appeared) meanwhile."""
        name, record = self._item(namespace, key, entry)
        expire = memcached_names.expire_seconds(entry.ttl())

        def write(client: Any) -> bool:
            if version is None:
                return bool(client.add(name, record, expire=expire, noreply=False))
            return bool(client.cas(name, record, version, expire=expire, noreply=False))

        return self.connection.run(name, write, f"cas {name!r} ({len(record)} bytes)")

    def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """One ``cas`` with the version's unique and an expiry in the past: memcached drops
        the item at once if it is unchanged, and refuses (keeping it) if it changed."""
        if version is None:
            return False
        name = self.item_name(namespace, key)
        return self.connection.run(
            name,
            lambda client: bool(client.cas(name, b"", version, expire=-1, noreply=False)),
            f"cas-delete {name!r}",
        )

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        """One ``set`` with the entry's TTL as the item's expiry (see :func:`expire_seconds`)."""
        name, record = self._item(namespace, key, entry)
        expire = memcached_names.expire_seconds(entry.ttl())
        stored = self.connection.run(
            name,
            lambda client: client.set(name, record, expire=expire, noreply=False),
            f"store {name!r} ({len(record)} bytes)",
        )
        if not stored:
            raise StoreError(f"memcached at {self.connection.address} did not store {name!r}")

    def delete(self, namespace: str, key: str) -> None:
        name = self.item_name(namespace, key)
        self.connection.run(
            name, lambda client: client.delete(name, noreply=False), f"delete {name!r}"
        )

    # -- many entries --------------------------------------------------------------------------

    def _per_server(
        self, names: Iterable[str], command: Callable[[Any, list[str]], T], doing: str
    ) -> list[T]:
        """``command(server client, names it holds)`` once per server holding some of
        ``names``, failures mapped as :meth:`MemcachedConnection.run`."""
        groups: dict[str, list[str]] = {}
        for name in names:
            groups.setdefault(self.connection.client_for(name)[1], []).append(name)
        results = []
        for group in groups.values():

            def run(client: Any, group: list[str] = group) -> T:
                return command(client, group)

            results.append(self.connection.run(group[0], run, doing))
        return results

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        """One ``get`` of several items per server holding some of them."""
        names = {self.item_name(namespace, key): key for key in keys}
        space = self._space(namespace)
        found: dict[str, Entry] = {}

        def read(client: Any, group: list[str]) -> dict[str, bytes]:
            return client.get_many(group)  # type: ignore[no-any-return]

        for items in self._per_server(names, read, "get several items"):
            for name, item in items.items():
                key = names[name]
                entry = self._entry_of(namespace, key, name != space + key, item)
                if entry is not None:
                    found[key] = entry
        return found

    def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        """One ``set`` of several items per server and expiry time (the items of a server
        sharing a TTL share a request)."""
        items: dict[str, tuple[int, bytes]] = {}
        for key, entry in entries.items():
            name, record = self._item(namespace, key, entry)
            items[name] = (memcached_names.expire_seconds(entry.ttl()), record)

        def write(client: Any, group: list[str]) -> list[str]:
            batches: dict[int, dict[str, bytes]] = {}
            for name in group:
                expire, record = items[name]
                batches.setdefault(expire, {})[name] = record
            failed: list[str] = []
            for expire, batch in batches.items():
                failed.extend(client.set_many(batch, expire=expire, noreply=False))
            return failed

        failed = [name for names in self._per_server(items, write, "store items") for name in names]
        if failed:
            raise StoreError(f"memcached at {self.connection.address} did not store {failed[:5]!r}")

    def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """One ``delete`` of several items per server holding some of them."""

        def delete(client: Any, group: list[str]) -> None:
            client.delete_many(group, noreply=False)

        self._per_server([self.item_name(namespace, key) for key in keys], delete, "delete items")

    # -- whole namespaces ----------------------------------------------------------------------

    def _each_server(
        self, namespace: str, work: Callable[[Any, list[str]], None], doing: str
    ) -> None:
        """``work(server client, names of namespace's items on it)`` for each server."""
        space = self._space(namespace)
        connection = self.connection
        for node, address in connection.nodes():
            try:
                names = item_names(node, connection.socket_timeout, address)
                work(node, [name for name in names if name.startswith(space)])
            except StoreError:
                raise
            except Exception as exc:
                raise connection.failed(exc, doing, address) from exc
            connection.answered(address)

    def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace``, listed by ``lru_crawler metadump`` (hashed keys are named
        by reading their items). Items written during the listing may or may not be seen."""
        skip = len(self._space(namespace))
        found: set[str] = set()

        def collect(node: Any, names: list[str]) -> None:
            hashed = []
            for name in names:
                part = name[skip:]
                if part.startswith("#"):
                    hashed.append(name)
                else:
                    found.add(part)
            for item in node.get_many(hashed).values() if hashed else ():
                split = memcached_names.split_mangled(item)
                if split is not None:
                    found.add(split[0])

        self._each_server(namespace, collect, "list items")
        return iter(found)

    def clear(self, namespace: str) -> None:
        """Delete ``namespace``'s items (listed by ``lru_crawler metadump``, deleted in
        pipelined batches); other namespaces are untouched. Items written during the clear may
        survive it."""

        def delete(node: Any, names: list[str]) -> None:
            for start in range(0, len(names), _DELETE_BATCH):
                node.delete_many(names[start : start + _DELETE_BATCH], noreply=False)

        self._each_server(namespace, delete, "clear a namespace")
