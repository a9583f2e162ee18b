"""The async twins that run their sync twin's own methods: :class:`DirectTwin` calls them in
the event loop (for stores whose calls never block: memory), :class:`ThreadTwin` in a worker
thread (``asyncio.to_thread``: files, dbm). Either way the twin *is* its sync store's
configuration, layout and records, held as :attr:`sync`.

Imports only :mod:`beaker.entry` and :mod:`beaker.stores.base`; must not import ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from beaker.entry import Entry
from beaker.stores.base import Store

S = TypeVar("S", bound=Store)
T = TypeVar("T", bound="DirectTwin[Any]")


class DirectTwin(Generic[S]):
    """An :class:`~beaker.stores.base.AsyncStore` whose coroutines call :attr:`sync`'s methods
    directly. A subclass is an ``attrs`` class with one field, ``sync``, and an ``__init__``
    taking its sync twin's arguments."""

    __slots__ = ()

    sync: S

    @classmethod
    def of(cls: type[T], sync: S) -> T:
        """The async twin of an existing sync store, sharing its entries (and its runtime
        resources) in this process."""
        twin = cls.__new__(cls)
        twin.__attrs_init__(sync)  # type: ignore[attr-defined]
        return twin

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

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)
