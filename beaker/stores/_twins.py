"""The bases of the async twins of our stores: :class:`Twin` (the sync store as ``sync``),
:class:`NetworkTwin` (a network store's connection part, shared by both fronts), and the twins
that run their sync twin's own methods: :class:`DirectTwin` calls them in the event loop (for
stores whose calls never block: memory), :class:`ThreadTwin` in a worker thread
(``asyncio.to_thread``: files, dbm). Either way the twin *is* its sync store's
configuration, layout and records, held as :attr:`sync`, and its compare-and-set (the sync
store's, a :class:`~beaker.stores.base.VersionedStore`: memory, file, dbm).

Imports only :mod:`beaker.entry` and :mod:`beaker.stores.base`; must not import ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar, cast

from beaker.entry import Entry
from beaker.stores.base import Store, Versioned, VersionedStore

S = TypeVar("S", bound=Store)
T = TypeVar("T", bound="Twin[Any]")


class Twin(Generic[S]):
    """What every async twin of ours has: its sync store as :attr:`sync`, and :meth:`of`. A subclass
    is an ``attrs`` class whose first field is ``sync``, with an ``__init__`` taking its sync
    twin's arguments."""

    __slots__ = ()

    sync: S

    @classmethod
    def of(cls: type[T], sync: S) -> T:
        """The async twin of an existing sync store, sharing its entries (and its runtime
        resources: pools, breaker) in this process."""
        twin = cls.__new__(cls)
        twin.__attrs_init__(sync)  # type: ignore[attr-defined]
        return twin



class _Networked(Store, Protocol):
    """A sync network store: a connection part (URL, pool, budget, breaker) and an address."""

    @property
    def connection(self) -> Any: ...

    @property
    def address(self) -> str: ...


N = TypeVar("N", bound=_Networked)


class NetworkTwin(Twin[N]):
    """A twin on a network store's own connection part (:attr:`connection`: one breaker for
    both fronts; the connection builds the asyncio client of each event loop)."""

    __slots__ = ()

    @property
    def connection(self) -> Any:
        """The connection part shared with :attr:`sync`."""
        return self.sync.connection

    async def close(self) -> None:
        """Close the running event loop's client or engine (the connection's ``aclose``); the
        store may be used again, in any loop."""
        await self.sync.connection.aclose()

    @property
    def address(self) -> str:
        """The server's address as configured, without any password."""
        return self.sync.address


class DirectTwin(Twin[S]):
    """An :class:`~beaker.stores.base.AsyncStore` whose coroutines call :attr:`sync`'s methods
    directly."""

    __slots__ = ()

    async def get(self, namespace: str, key: str) -> Entry | None:
        return self.sync.get(namespace, key)

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.sync.set(namespace, key, entry)

    async def delete(self, namespace: str, key: str) -> None:
        self.sync.delete(namespace, key)

    async def clear(self, namespace: str) -> None:
        self.sync.clear(namespace)

    async def keys(self, namespace: str) -> Iterator[str]:
        return iter(list(self.sync.keys(namespace)))

    async def get_versioned(self, namespace: str, key: str) -> Versioned:
        """As the sync store's :meth:`~beaker.stores.base.VersionedStore.get_versioned`."""
        return cast(VersionedStore, self.sync).get_versioned(namespace, key)

    async def compare_and_set(
        self, namespace: str, key: str, entry: Entry, version: object
    ) -> bool:
        """As the sync store's :meth:`~beaker.stores.base.VersionedStore.compare_and_set`."""
        return cast(VersionedStore, self.sync).compare_and_set(namespace, key, entry, version)

    async def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """As the sync store's :meth:`~beaker.stores.base.VersionedStore.compare_and_delete`."""
        return cast(VersionedStore, self.sync).compare_and_delete(namespace, key, version)

    async def close(self) -> None:
        self.sync.close()


class ThreadTwin(DirectTwin[S]):
    """:class:`DirectTwin` for stores whose calls block on disk: each call runs in the event
    loop's default executor (``asyncio.to_thread``), so the loop never waits on I/O. A
    cancelled call stops waiting at once; the thread finishes its (atomic) operation."""

    __slots__ = ()

    async def get(self, namespace: str, key: str) -> Entry | None:
        return await asyncio.to_thread(self.sync.get, namespace, key)

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        await asyncio.to_thread(self.sync.set, namespace, key, entry)

    async def delete(self, namespace: str, key: str) -> None:
        await asyncio.to_thread(self.sync.delete, namespace, key)

    async def clear(self, namespace: str) -> None:
        await asyncio.to_thread(self.sync.clear, namespace)

    async def keys(self, namespace: str) -> Iterator[str]:
        found = await asyncio.to_thread(lambda: list(self.sync.keys(namespace)))
        return iter(found)

    async def get_versioned(self, namespace: str, key: str) -> Versioned:
        sync = cast(VersionedStore, self.sync)
        return await asyncio.to_thread(sync.get_versioned, namespace, key)

    async def compare_and_set(
        self, namespace: str, key: str, entry: Entry, version: object
    ) -> bool:
        sync = cast(VersionedStore, self.sync)
        return await asyncio.to_thread(sync.compare_and_set, namespace, key, entry, version)

    async def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        sync = cast(VersionedStore, self.sync)
        return await asyncio.to_thread(sync.compare_and_delete, namespace, key, version)

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)
