"""The :class:`Store` protocol and its asyncio twin :class:`AsyncStore`: where entries live,
keyed by ``(namespace, key)``; :class:`BatchStore`, the batch methods (``get_many``,
``set_many``, ``delete_many``) with their loop defaults (:class:`LoopBatch`, and
:func:`batch_of` for a store without them); and :class:`VersionedStore` /
:class:`AsyncVersionedStore`, the compare-and-set capability a store may add.

A store knows nothing of expiry semantics or locking: it keeps what it is given and returns it.
Stores with native TTL (Redis, memcached, SQL cleanup) may use ``entry.ttl()`` so that dead
entries disappear server-side, but freshness is decided by the cache.

An :class:`AsyncStore` has the same methods as coroutines, the same guarantees and, for each of
our stores, the same key layout and record format as its sync twin: a sync process and an async
process sharing a server (or a directory) read each other's entries.

Must not import from ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, NamedTuple, Protocol, runtime_checkable

import attrs

from beaker.entry import Entry


@runtime_checkable
class Store(Protocol):
    """Keeps :class:`~beaker.entry.Entry` records by ``(namespace, key)``.

    ``namespace`` and ``key`` are ``str``. When :attr:`holds_objects` is false the store only
    accepts entries whose value is ``bytes`` (the cache runs its serializer first); when true
    it keeps any Python object by reference.

    Thread safety: every method may be called from many threads at once. Process safety is
    documented per store. Errors: a server that cannot be reached raises
    :class:`~beaker.errors.StoreUnavailable`; an unreadable record is a miss (``None``) plus a
    logged warning, never an exception.
    """

    holds_objects: ClassVar[bool]

    def get(self, namespace: str, key: str) -> Entry | None:
        """Return the entry, or ``None`` if there is none (expired or not)."""

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        """Write (or overwrite) the entry."""

    def delete(self, namespace: str, key: str) -> None:
        """Remove the entry if present; absent keys are not an error."""

    def clear(self, namespace: str) -> None:
        """Remove every entry of ``namespace`` and no other."""

    def keys(self, namespace: str) -> Iterator[str]:
        """Iterate the keys of ``namespace`` (for cleanup and tests; order unspecified)."""

    def close(self) -> None:
        """Release runtime resources (pools, handles); the store may be used again after."""


@runtime_checkable
class BatchStore(Store, Protocol):
    """A :class:`Store` with batch methods on the keys of one namespace. Stores with a native
    batch send one request (Redis: one ``MGET`` or one pipeline; memcached: ``get_many`` /
    ``set_many`` / ``delete_many``, one request per server; SQL: one statement); the others
    loop (:class:`LoopBatch`). The same guarantees as the single-key methods, per key: a batch
    is not a transaction.
    """

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        """Return ``{key: entry}`` for the keys found (missing and unreadable ones left out).

        Raises:
            StoreUnavailable: the server cannot be reached.
        """

    def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        """Write (or overwrite) every entry of ``{key: entry}``, each with its own TTL.

        Raises:
            StoreUnavailable: the server cannot be reached.
        """

    def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """Remove the keys present; absent keys are not an error.

        Raises:
            StoreUnavailable: the server cannot be reached.
        """


class LoopBatch:
    """The :class:`BatchStore` methods as loops over a store's own ``get`` / ``set`` /
    ``delete``: the mixin of stores whose batch would gain nothing from one request (memory,
    files; dbm for reads and deletes, its ``set_many`` is one write). One round trip per key."""

    __slots__ = ()

    def get_many(self: Store, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        for key in keys:
            entry = self.get(namespace, key)
            if entry is not None:
                found[key] = entry
        return found

    def set_many(self: Store, namespace: str, entries: Mapping[str, Entry]) -> None:
        for key, entry in entries.items():
            self.set(namespace, key, entry)

    def delete_many(self: Store, namespace: str, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete(namespace, key)


@attrs.frozen
class Looped(LoopBatch):
    """A store without batch methods seen as a :class:`BatchStore`: its single-key methods
    in :class:`LoopBatch`'s loops (what :func:`batch_of` returns for third-party stores)."""

    store: Store

    def get(self, namespace: str, key: str) -> Entry | None:
        return self.store.get(namespace, key)

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.store.set(namespace, key, entry)

    def delete(self, namespace: str, key: str) -> None:
        self.store.delete(namespace, key)


def batch_of(store: Store) -> BatchStore:
    """``store`` itself when it has the batch methods, else :class:`Looped` around it."""
    if isinstance(store, BatchStore):
        return store
    return Looped(store)  # type: ignore[return-value]


class Versioned(NamedTuple):
    """An entry as :meth:`VersionedStore.get_versioned` read it, with its version.

    Attributes:
        entry: the entry, or ``None`` when there is none (absent, or unreadable: logged).
        version: an opaque token naming exactly what was read (absence included). Only the
            store that returned it understands it: pass it back to that store's
            :meth:`~VersionedStore.compare_and_set` unchanged.
    """

    entry: Entry | None
    version: object


@runtime_checkable
class VersionedStore(Store, Protocol):
    """A :class:`Store` that can also write an entry only if it is still as it was read
    (optimistic concurrency: what sessions use so that concurrent requests lose no writes).

    Each of ours implements it with its native primitive: a Lua script comparing the record's
    SHA-1 (Redis, Redis Cluster), ``gets``/``cas`` and ``add`` (memcached), a conditional
    ``UPDATE`` / ``INSERT`` (SQL), the database lock (dbm), a ``flock`` on the entry's
    directory (file) and a thread lock (memory). The record format is the one :meth:`get`
    and :meth:`set` use, so plain and versioned readers and writers share entries.

    Atomicity: a successful :meth:`compare_and_set` replaced exactly the version it was
    given; of several calls given the same version at most one succeeds (also across
    processes, within the store's process-safety). A plain :meth:`set` or :meth:`delete`
    racing with it is ordered before or after it, never merged. :meth:`compare_and_delete`
    removes under the same rule, with the same primitive (a Lua script, ``cas`` with an
    expiry in the past, a conditional ``DELETE``, the same locks).
    """

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        """Read the entry and its version (a missing entry has a version too).

        Raises:
            StoreUnavailable: the server cannot be reached.
        """

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        """Write ``entry`` if the stored entry is still the one ``version`` names (or still
        absent, for the version of an absent entry).

        Args:
            namespace: the namespace (``str``).
            key: the key (``str``).
            entry: what to write (``bytes`` value unless the store holds objects).
            version: what :meth:`get_versioned` returned for this ``(namespace, key)``.

        Returns:
            ``True`` if written; ``False`` if the entry changed since (nothing is written:
            read it again, merge, retry).

        Raises:
            StoreUnavailable: the server cannot be reached.
        """

    def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """Remove the entry if it is still the one ``version`` names, atomically as
        :meth:`compare_and_set` writes: a cleanup (``sessions purge``) never removes an entry
        rewritten since it read it.

        Args:
            namespace: the namespace (``str``).
            key: the key (``str``).
            version: what :meth:`get_versioned` returned for this ``(namespace, key)``.

        Returns:
            ``True`` if removed; ``False`` if the entry changed since (it is kept), or
            ``version`` names no entry.

        Raises:
            StoreUnavailable: the server cannot be reached.
        """


@runtime_checkable
class AsyncStore(Protocol):
    """The asyncio twin of :class:`Store`: the same methods as coroutines (``await
    store.get(namespace, key)``), the same arguments, errors and meaning of
    :attr:`holds_objects`.

    Concurrency: every method may be awaited by many tasks of one event loop at once; none
    blocks the loop for longer than a dict operation (I/O is awaited, or runs in a worker
    thread). Process safety is documented per store, as for its sync twin.
    """

    holds_objects: ClassVar[bool]

    async def get(self, namespace: str, key: str) -> Entry | None:
        """Return the entry, or ``None`` if there is none (expired or not)."""

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        """Write (or overwrite) the entry."""

    async def delete(self, namespace: str, key: str) -> None:
        """Remove the entry if present; absent keys are not an error."""

    async def clear(self, namespace: str) -> None:
        """Remove every entry of ``namespace`` and no other."""

    async def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace`` (for cleanup and tests; order unspecified)."""

    async def close(self) -> None:
        """Release runtime resources (pools, handles); the store may be used again after."""


@runtime_checkable
class AsyncVersionedStore(AsyncStore, Protocol):
    """The asyncio twin of :class:`VersionedStore`: an :class:`AsyncStore` that can also write
    an entry only if it is still as it was read, with the same versions as its sync twin (a
    version read by one front may be compared by the other) and the same atomicity."""

    async def get_versioned(self, namespace: str, key: str) -> Versioned:
        """As :meth:`VersionedStore.get_versioned`, awaited."""

    async def compare_and_set(
        self, namespace: str, key: str, entry: Entry, version: object
    ) -> bool:
        """As :meth:`VersionedStore.compare_and_set`, awaited."""

    async def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """As :meth:`VersionedStore.compare_and_delete`, awaited."""


def compares_and_sets(store: object) -> bool:
    """Whether ``store`` (sync or async) has ``get_versioned`` and ``compare_and_set``: all
    that sessions need to lose no concurrent write. ``compare_and_delete``, the third method
    of :class:`VersionedStore`, is only for cleanups (``sessions purge``, which deletes
    unconditionally without it), so a store lacking it still keeps every session write."""
    return callable(getattr(store, "get_versioned", None)) and callable(
        getattr(store, "compare_and_set", None)
    )


def is_async_store(store: Any) -> bool:
    """Whether ``store`` implements :class:`AsyncStore` (its ``get`` is a coroutine function),
    as opposed to a sync :class:`Store` (``isinstance`` checks only the method names, which
    the two protocols share)."""
    return isinstance(store, AsyncStore) and inspect.iscoroutinefunction(store.get)


@runtime_checkable
class AsyncBatchStore(AsyncStore, Protocol):
    """The asyncio twin of :class:`BatchStore`: the same batch methods, awaited."""

    async def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        """As :meth:`BatchStore.get_many`."""

    async def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        """As :meth:`BatchStore.set_many`."""

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """As :meth:`BatchStore.delete_many`."""


@attrs.frozen
class AsyncLooped:
    """An :class:`AsyncStore` without batch methods seen as an :class:`AsyncBatchStore`:
    loops over its single-key coroutines (what :func:`async_batch_of` returns for it)."""

    store: AsyncStore

    async def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        for key in keys:
            entry = await self.store.get(namespace, key)
            if entry is not None:
                found[key] = entry
        return found

    async def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        for key, entry in entries.items():
            await self.store.set(namespace, key, entry)

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        for key in keys:
            await self.store.delete(namespace, key)


def async_batch_of(store: AsyncStore) -> AsyncBatchStore:
    """``store`` itself when it has the batch coroutines, else :class:`AsyncLooped` around
    it."""
    if isinstance(store, AsyncBatchStore):
        return store
    return AsyncLooped(store)  # type: ignore[return-value]
