"""MemoryStore (and its asyncio twin AsyncMemoryStore): entries in a dict of this process,
Python objects kept by reference."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import ClassVar, cast

import attrs

from beaker.entry import Entry
from beaker.stores._twins import DirectTwin
from beaker.stores.base import LoopBatch, Versioned
from beaker.validators import positive_int


@attrs.frozen
class MemoryStore(LoopBatch):
    """Keeps entries in this process's memory, values by reference (as Beaker's ``memory`` type).

    Args:
        max_entries: ``None`` (the default) for no bound, or an ``int`` > 0: when a write would
            exceed it, the least recently used entry (read or written) of any namespace is
            evicted.

    Thread-safe; not shared between processes. Evolved copies share nothing: the dict belongs
    to the instance. A :class:`~beaker.stores.base.VersionedStore`: an entry's version is the
    entry object itself, compared under the store's lock.

    Raises:
        ConfigError: ``max_entries`` is not a positive ``int`` or ``None``.
    """

    holds_objects: ClassVar[bool] = True

    max_entries: int | None = attrs.field(
        default=None, validator=positive_int(unit="entries", optional=True)
    )
    # A plain dict when unbounded (its reads and writes cost about half an OrderedDict's);
    # an OrderedDict in least-recently-used order when bounded.
    _data: dict[tuple[str, str], Entry] = attrs.field(init=False, eq=False, repr=False)
    _mutex: threading.Lock = attrs.field(init=False, factory=threading.Lock, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_data", {} if self.max_entries is None else OrderedDict())

    @property
    def _lru(self) -> OrderedDict[tuple[str, str], Entry]:
        """The entries of a bounded store, least recently used first."""
        return cast("OrderedDict[tuple[str, str], Entry]", self._data)

    def get(self, namespace: str, key: str) -> Entry | None:
        if self.max_entries is None:
            # A single dict read is atomic under the GIL: no lock on the hot path.
            return self._data.get((namespace, key))
        with self._mutex:
            entry = self._data.get((namespace, key))
            if entry is not None:
                self._lru.move_to_end((namespace, key))
            return entry

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        with self._mutex:
            if self.max_entries is None:
                self._data[(namespace, key)] = entry  # _put's work when unbounded, one call less
            else:
                self._put((namespace, key), entry)

    def _put(self, item: tuple[str, str], entry: Entry) -> None:
        """Write with the mutex held."""
        self._data[item] = entry
        if self.max_entries is not None:
            lru = self._lru
            lru.move_to_end(item)
            while len(lru) > self.max_entries:
                lru.popitem(last=False)

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        entry = self.get(namespace, key)
        return Versioned(entry, entry)

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        with self._mutex:
            if self._data.get((namespace, key)) is not version:
                return False
            self._put((namespace, key), entry)
            return True

    def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        with self._mutex:
            if version is None or self._data.get((namespace, key)) is not version:
                return False
            del self._data[(namespace, key)]
            return True

    def delete(self, namespace: str, key: str) -> None:
        with self._mutex:
            self._data.pop((namespace, key), None)

    def clear(self, namespace: str) -> None:
        with self._mutex:
            for item in [item for item in self._data if item[0] == namespace]:
                del self._data[item]

    def keys(self, namespace: str) -> Iterator[str]:
        with self._mutex:
            found = [key for ns, key in self._data if ns == namespace]
        return iter(found)

    def close(self) -> None:
        """Nothing to release: entries stay until cleared."""


@attrs.frozen(init=False)
class AsyncMemoryStore(DirectTwin[MemoryStore]):
    """The asyncio twin of :class:`MemoryStore`: the same dict, LRU bound and
    by-reference values, behind coroutines that never yield (a dict operation does not block).

    Args:
        max_entries: as :class:`MemoryStore`.

    ``AsyncMemoryStore.of(store)`` is the twin of an existing :class:`MemoryStore`, so a sync
    and an async cache of one process share its entries.

    Raises:
        ValueError: ``max_entries`` is not a positive ``int``.
    """

    holds_objects: ClassVar[bool] = True

    sync: MemoryStore

    def __init__(self, max_entries: int | None = None) -> None:
        self.__attrs_init__(MemoryStore(max_entries))
