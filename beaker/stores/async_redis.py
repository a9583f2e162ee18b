"""AsyncRedisStore and AsyncRedisClusterStore: the asyncio twins of
:class:`~beaker.stores.RedisStore` and :class:`~beaker.stores.RedisClusterStore`, on
``redis.asyncio``.

A twin holds its sync store (:attr:`~AsyncRedisStore.sync`: connection, prefix) and uses its key
layout, record format and compare-and-set script unchanged, so sync and async processes on one
server read (and merge into) each other's entries. The client is the connection's
:meth:`~beaker.stores.RedisConnection.async_client` (same URL, time budget and circuit breaker;
one pool per event loop). A hit is exactly one ``GET``.

Imports ``redis`` (the ``redis`` extra) and :mod:`beaker.stores.redis`; must not import
``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, ClassVar

import attrs

from beaker.entry import Entry, pack_entry
from beaker.stores._twins import NetworkTwin
from beaker.stores.base import Versioned
from beaker.stores.redis import (
    _CAD_SCRIPT,
    _CAS_SCRIPT,
    _DELETE_BATCH,
    _GET_STAMPED_SCRIPT,
    RedisClusterStore,
    RedisStore,
    _set_command,
    _ttl_ms,
)
from beaker.stores.redis_connection import UNREACHABLE, LuaScript, RedisConnection
from beaker.stores.stamps import AsyncGenericStamps


@attrs.frozen(init=False)
class AsyncRedisStore(NetworkTwin[RedisStore]):
    """Keeps entries in Redis like :class:`~beaker.stores.RedisStore`, awaited.

    Args:
        connection: as :class:`~beaker.stores.RedisStore` (it may be shared with sync stores
            and locks: one breaker). A connection built on a sync ``client=`` is refused on
            first use: the async client is built from the URL.
        prefix: as :class:`~beaker.stores.RedisStore`.
        connect: the other arguments of :class:`~beaker.stores.RedisStore` (``url=``,
            ``socket_timeout=``, ``retries=`` ...).

    Each event loop using the store gets its own pool (the connection's
    :meth:`~beaker.stores.RedisConnection.async_client`); ``await close()`` in a loop closes
    that loop's. An :class:`~beaker.stores.base.AsyncVersionedStore` with the sync store's
    versions (the record's SHA-1) and script.

    Raises:
        ConfigError, ComponentTypeError: as :class:`~beaker.stores.RedisStore`.
        StoreUnavailable: (from every method) the server cannot be reached, did not answer
            within the budget, or its circuit is open; names the address.
    """

    holds_objects: ClassVar[bool] = False
    _sync_type: ClassVar[type[RedisStore]] = RedisStore

    sync: RedisStore

    def __init__(
        self, *, connection: RedisConnection | None = None, prefix: str = "beaker:", **connect: Any
    ) -> None:
        self.__attrs_init__(self._sync_type(connection=connection, prefix=prefix, **connect))

    def live_client(self) -> Any:
        """The ``redis.asyncio`` client of the running event loop."""
        return self.sync.connection.async_client()

    # -- single entries ------------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> Entry | None:
        """One ``GET``. An unreadable record is a miss and a logged warning."""
        sync = self.sync
        connection = sync.connection
        try:  # the hot path of every hit: no _run (a coroutine more) nor _space (a call)
            record = await connection.async_client().get(
                f"{sync.prefix}{{{len(namespace)}:{namespace}}}:{key}"
            )
        except UNREACHABLE as exc:
            raise connection.unavailable(exc) from exc
        connection.answered()
        return None if record is None else sync._unpack(namespace, key, record)

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        """One ``SET name record [PX ms]``, as :meth:`RedisStore.set`."""
        await self._run("execute_command", *_set_command(self.sync._space(namespace) + key, entry))

    async def delete(self, namespace: str, key: str) -> None:
        await self._run("delete", self.sync._space(namespace) + key)

    async def get_versioned(self, namespace: str, key: str) -> Versioned:
        """One ``GET``; the version is the record's SHA-1 hex (``""``: no record), as
        :meth:`RedisStore.get_versioned`."""
        record = await self._run("get", self.sync._space(namespace) + key)
        if record is None:
            return Versioned(None, "")
        entry = self.sync._unpack(namespace, key, record)
        return Versioned(entry, hashlib.sha1(record).hexdigest())

    async def compare_and_set(
        self, namespace: str, key: str, entry: Entry, version: object
    ) -> bool:
        """One call of the sync store's Lua script (``EVALSHA``): written only if the stored
        record's SHA-1 is still ``version``."""
        ms = _ttl_ms(entry)
        args = [version, pack_entry(entry), "" if ms is None else ms]
        return bool(await self._script(_CAS_SCRIPT, self.sync._space(namespace) + key, args))

    async def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """One call of the sync store's Lua script: removed only if the stored record's SHA-1
        is still ``version``."""
        return bool(await self._script(_CAD_SCRIPT, self.sync._space(namespace) + key, [version]))

    async def _script(self, script: LuaScript, name: str | list[str], args: list[Any]) -> Any:
        """One ``EVALSHA`` of ``script`` on key ``name`` (or keys; ``EVAL`` if the server lacks
        the script), its failures told to the breaker."""
        connection = self.sync.connection
        keys = [name] if isinstance(name, str) else name
        try:
            result = await script.run_async(connection.async_client(), keys, args)
        except UNREACHABLE as exc:
            raise connection.unavailable(exc) from exc
        connection.answered()
        return result

    # -- many entries: the sync store's commands -----------------------------------------------

    async def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        """One ``MGET``, as :meth:`RedisStore.get_many`."""
        keys = list(keys)
        if not keys:
            return {}
        space = self.sync._space(namespace)
        records = await self._run("mget", [space + key for key in keys])
        return self.sync._unpacked(namespace, keys, records)

    async def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        """One pipeline of ``SET ... PX``, as :meth:`RedisStore.set_many`."""
        if not entries:
            return
        space = self.sync._space(namespace)
        connection = self.sync.connection
        try:
            async with connection.async_client().pipeline(transaction=False) as pipe:
                for key, entry in entries.items():
                    pipe.execute_command(*_set_command(space + key, entry))
                await pipe.execute()
        except UNREACHABLE as exc:
            raise connection.unavailable(exc) from exc
        connection.answered()

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """One ``UNLINK``, as :meth:`RedisStore.delete_many`."""
        space = self.sync._space(namespace)
        names = [space + key for key in keys]
        if names:
            await self._run("unlink", *names)

    # -- stamps (beaker.stores.stamps): the sync store's script and keys ------------------------

    async def get_many_stamped(
        self, namespace: str, keys: Iterable[str]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        """One Lua script call, as :meth:`RedisStore.get_many_stamped`."""
        keys = list(keys)
        names, args = self.sync._stamped_call(namespace, keys)
        replies = await self._script(_GET_STAMPED_SCRIPT, names, args)
        return self.sync._stamped_replies(namespace, keys, replies)

    async def get_stamped(self, namespace: str, key: str) -> tuple[Entry | None, dict[str, str]]:
        """One Lua script call, as :meth:`RedisStore.get_stamped`."""
        found, current = await self.get_many_stamped(namespace, [key])
        return found.get(key), current

    async def get_stamps(self, names: Iterable[str]) -> dict[str, str]:
        """One ``MGET`` of the tokens."""
        names = list(names)
        tokens = await self._run("mget", [self.sync._stamp_key(name) for name in names])
        return {name: token.decode() for name, token in zip(names, tokens) if token}

    async def set_stamps(self, tokens: Mapping[str, str]) -> None:
        """One ``MSET`` of the tokens (an invalidation)."""
        await self._run("mset", {self.sync._stamp_key(name): t for name, t in tokens.items()})

    async def _run(self, command: str, *args: Any) -> Any:
        """``await client.<command>(*args)``, its failures told to the breaker."""
        connection = self.sync.connection
        try:
            result = await getattr(connection.async_client(), command)(*args)
        except UNREACHABLE as exc:
            raise connection.unavailable(exc) from exc
        connection.answered()
        return result

    # -- whole namespaces ----------------------------------------------------------------------

    def _scan(self, client: Any, namespace: str) -> AsyncIterator[bytes]:
        """The names of ``namespace``'s keys: the sync store's ``SCAN`` call (on a cluster, of
        every primary) made on the asyncio client, which makes it an async iterator."""
        scan: Any = self.sync._scan(client, self.sync._pattern(namespace))
        return scan  # type: ignore[no-any-return]

    async def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace`` (``SCAN MATCH``), as :meth:`RedisStore.keys`."""
        sync = self.sync
        skip = len(sync._space(namespace).encode())
        connection = sync.connection
        try:
            names = [name async for name in self._scan(connection.async_client(), namespace)]
        except UNREACHABLE as exc:
            raise connection.unavailable(exc) from exc
        connection.answered()
        return iter({name[skip:].decode() for name in names})

    async def clear(self, namespace: str) -> None:
        """``SCAN MATCH`` then ``UNLINK`` in batches, as :meth:`RedisStore.clear`."""
        connection = self.sync.connection
        try:
            client = connection.async_client()
            batch: list[bytes] = []
            async for name in self._scan(client, namespace):
                batch.append(name)
                if len(batch) >= _DELETE_BATCH:
                    await client.unlink(*batch)
                    batch = []
            if batch:
                await client.unlink(*batch)
        except UNREACHABLE as exc:
            raise connection.unavailable(exc) from exc
        connection.answered()


@attrs.frozen(init=False)
class AsyncRedisClusterStore(AsyncRedisStore):
    """:class:`AsyncRedisStore` on a Redis Cluster: the twin of
    :class:`~beaker.stores.RedisClusterStore` (same arguments and layout; a
    :class:`~beaker.stores.RedisClusterConnection`), on ``redis.asyncio.cluster.RedisCluster``."""

    _sync_type: ClassVar[type[RedisStore]] = RedisClusterStore

    # As the sync store: a namespace's keys share a slot, the tokens do not.

    async def get_stamped(self, namespace: str, key: str) -> tuple[Entry | None, dict[str, str]]:
        return await AsyncGenericStamps(self).get_stamped(namespace, key)

    async def get_many_stamped(
        self, namespace: str, keys: Iterable[str]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        return await AsyncGenericStamps(self).get_many_stamped(namespace, keys)

    async def get_stamps(self, names: Iterable[str]) -> dict[str, str]:
        return await AsyncGenericStamps(self).get_stamps(names)

    async def set_stamps(self, tokens: Mapping[str, str]) -> None:
        await AsyncGenericStamps(self).set_stamps(tokens)
