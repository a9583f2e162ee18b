"""AsyncMemcachedStore: the asyncio twin of :class:`~beaker.stores.MemcachedStore`, on
``emcache`` (a maintained asyncio memcached client with per-operation timeouts).

The twin holds its sync store (:attr:`~AsyncMemcachedStore.sync`: connection, prefix) and uses
its item names (:mod:`beaker.stores.memcached_names`: the same mangling of unsafe keys), record
format, expiry times and choice of server, so sync and async processes on one memcached read
each other's items; its versions are the item's CAS unique, as the sync store's. A hit is one
``get``. Listing and clearing a namespace (``lru_crawler metadump``, admin work) run the sync
store's own methods in a worker thread.

Imports ``emcache`` (the ``asyncio`` extra) through the connection, and
:mod:`beaker.stores.memcached`; must not import ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterator
from typing import Any, ClassVar, Final, cast

import attrs

from beaker.entry import Entry
from beaker.errors import StoreError
from beaker.stores._twins import NetworkTwin
from beaker.stores.base import Versioned
from beaker.stores.memcached import MemcachedStore
from beaker.stores.memcached_connection import MemcachedConnection
from beaker.stores.memcached_names import expire_seconds


def _missing_item(exc: BaseException) -> bool:
    """Whether an ``emcache`` error only says the item was not there (or not stored because
    it changed): an answer, not a failure."""
    import emcache

    return isinstance(exc, (emcache.NotStoredStorageCommandError, emcache.NotFoundCommandError)) or (
        type(exc) is emcache.StorageCommandError and "NOT_FOUND" in str(exc)
    )


def _unique(version: object) -> int:
    """A CAS unique as ``emcache`` takes it: the sync store's (pymemcache hands it out as the
    digits' bytes) or ours (an ``int``), so a version read by either front is compared here."""
    return int(cast(Any, version))


class _Refused(enum.Enum):
    REFUSED = "refused"


#: What :func:`run_command` returns when memcached answered that the item is absent or was not
#: stored (``NOT_FOUND``, ``NOT_STORED``, ``EXISTS``).
REFUSED: Final = _Refused.REFUSED


async def run_command(
    connection: MemcachedConnection, name: str, command: str, doing: str, *args: Any, **kw: Any
) -> Any:
    """``await client.<command>(name as bytes, *args, **kw)`` on the ``emcache`` client of the
    server holding item ``name``: its result (``None`` for a storage command that stored, an
    ``emcache.Item`` or ``None`` for a read), or :data:`REFUSED`; failures are told to that
    server's breaker.

    Raises:
        StoreUnavailable: the server cannot be reached, did not answer in time, or its circuit
            is open.
        StoreError: the server refused the command.
    """
    import emcache

    client, address = await connection.async_client_for(name)
    try:
        result = await getattr(client, command)(name.encode(), *args, **kw)
    except Exception as exc:
        if _missing_item(exc):
            connection.answered(address)
            return REFUSED
        if isinstance(exc, emcache.ClusterNoAvailableNodes):
            exc = ConnectionError(f"{address} unavailable ({exc})")
        raise connection.failed(exc, doing, address) from exc
    connection.answered(address)
    return result


@attrs.frozen(init=False)
class AsyncMemcachedStore(NetworkTwin[MemcachedStore]):
    """Keeps entries in memcached like :class:`~beaker.stores.MemcachedStore`, awaited.

    Args:
        servers, prefix: as :class:`~beaker.stores.MemcachedStore`.
        options: the other arguments of :class:`~beaker.stores.MemcachedStore`, by keyword
            (``connection``, ``socket_timeout``, ``connect_timeout``, ``breaker``); a
            ``connection`` may be shared with sync stores and locks (one breaker per server),
            but one built on a pymemcache ``client=`` is refused on first use.

    Each event loop gets its own clients (one per server, up to 16 connections each; more
    tasks at once wait for one); ``await close()`` in a loop closes that loop's. An
    :class:`~beaker.stores.base.AsyncVersionedStore` (``gets``/``cas``, ``add``).

    Raises:
        ConfigError, ComponentTypeError: as :class:`~beaker.stores.MemcachedStore`.
        StoreUnavailable: (from every method) a server cannot be reached, did not answer
            within the budget, or its circuit is open.
        StoreError: the server refused an operation (e.g. an item over its size limit).
    """

    holds_objects: ClassVar[bool] = False
    supports_keys: ClassVar[bool] = True

    sync: MemcachedStore

    def __init__(self, servers: str | None = None, prefix: str = "beaker:", **options: Any) -> None:
        self.__attrs_init__(MemcachedStore(servers, prefix, **options))

    async def close(self) -> None:
        """Close the running loop's clients, and the pools :meth:`keys`/:meth:`clear` used;
        the store may be used again."""
        await self.sync.connection.aclose()
        await asyncio.to_thread(self.sync.connection.close)

    # -- single entries ------------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> Entry | None:
        """One ``get`` of one item. An unreadable item is a miss and a logged warning."""
        sync = self.sync
        name = sync.item_name(namespace, key)
        item = await run_command(sync.connection, name, "get", f"get {name!r}")
        if item is None:
            return None
        hashed = name != sync._space(namespace) + key
        return sync._entry_of(namespace, key, hashed, item.value)

    async def get_versioned(self, namespace: str, key: str) -> Versioned:
        """One ``gets``; the version is the item's CAS unique (``None``: no item)."""
        sync = self.sync
        name = sync.item_name(namespace, key)
        item = await run_command(sync.connection, name, "gets", f"gets {name!r}")
        if item is None:
            return Versioned(None, None)
        hashed = name != sync._space(namespace) + key
        return Versioned(sync._entry_of(namespace, key, hashed, item.value), item.cas)

    async def compare_and_set(
        self, namespace: str, key: str, entry: Entry, version: object
    ) -> bool:
        """One ``cas`` with the version's unique (for the version of no item, one ``add``),
        as :meth:`MemcachedStore.compare_and_set`."""
        name, record = self.sync._item(namespace, key, entry)
        exptime = expire_seconds(entry.ttl())
        doing = f"cas {name!r} ({len(record)} bytes)"
        connection = self.sync.connection
        if version is None:
            added = await run_command(connection, name, "add", doing, record, exptime=exptime)
            return added is not REFUSED
        unique = _unique(version)
        written = await run_command(connection, name, "cas", doing, record, unique, exptime=exptime)
        return written is not REFUSED

    async def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """One ``cas`` with the version's unique and an expiry in the past, as
        :meth:`MemcachedStore.compare_and_delete`."""
        if version is None:
            return False
        name = self.sync.item_name(namespace, key)
        doing = f"cas-delete {name!r}"
        unique = _unique(version)
        dropped = await run_command(self.sync.connection, name, "cas", doing, b"", unique, exptime=-1)
        return dropped is not REFUSED

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        """One ``set`` with the entry's TTL as the item's expiry, as :meth:`MemcachedStore.set`."""
        name, record = self.sync._item(namespace, key, entry)
        doing = f"store {name!r} ({len(record)} bytes)"
        exptime = expire_seconds(entry.ttl())
        connection = self.sync.connection
        if await run_command(connection, name, "set", doing, record, exptime=exptime) is REFUSED:
            raise StoreError(f"memcached at {connection.address} did not store {name!r}")

    async def delete(self, namespace: str, key: str) -> None:
        name = self.sync.item_name(namespace, key)
        await run_command(self.sync.connection, name, "delete", f"delete {name!r}")

    # -- whole namespaces: the sync store's, in a worker thread ---------------------------------

    async def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace``, as :meth:`MemcachedStore.keys` lists them."""
        return iter(await asyncio.to_thread(lambda: list(self.sync.keys(namespace))))

    async def clear(self, namespace: str) -> None:
        """Delete ``namespace``'s items, as :meth:`MemcachedStore.clear` does."""
        await asyncio.to_thread(self.sync.clear, namespace)
