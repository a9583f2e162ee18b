"""The store conformance machine for the asyncio front, and the twin check.

:class:`AsyncStoreMachine` runs :class:`~beaker.testing.StoreMachine`'s model against any
:class:`~beaker.stores.base.AsyncStore`, each call awaited on an event loop of the machine's
own (:class:`BlockingStore`). :class:`TwinStoreMachine` runs it against a sync store and its
async twin on one server: writes go through the side the ``switch`` rule last chose, and every
read is made through both, which must agree on value and metadata.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar, cast

from hypothesis import strategies as st
from hypothesis.stateful import rule

from beaker.entry import Entry
from beaker.stores.base import AsyncStore, AsyncVersionedStore, Store, Versioned
from beaker.testing.stores import StoreMachine

T = TypeVar("T")


class BlockingStore:
    """A sync :class:`~beaker.stores.base.Store` that awaits each call of an async store on
    ``loop`` (one loop for every call, as connection pools bound to a loop need).

    Args:
        store: the :class:`~beaker.stores.base.AsyncStore` to drive (its compare-and-set too,
            for an :class:`~beaker.stores.base.AsyncVersionedStore`).
        loop: an event loop not running in this thread: idle (each call runs it until the
            call is done), or running in another thread (calls from several threads then run
            concurrently on it).
    """

    def __init__(self, store: AsyncStore, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.loop = loop
        self.holds_objects = store.holds_objects
        self.supports_keys = getattr(store, "supports_keys", True)

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        if self.loop.is_running():  # in another thread: calls from many threads run at once
            return asyncio.run_coroutine_threadsafe(call, self.loop).result()
        return self.loop.run_until_complete(call)

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        return self._run(cast(AsyncVersionedStore, self.store).get_versioned(namespace, key))

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        store = cast(AsyncVersionedStore, self.store)
        return self._run(store.compare_and_set(namespace, key, entry, version))

    def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        store = cast(AsyncVersionedStore, self.store)
        return self._run(store.compare_and_delete(namespace, key, version))

    def get(self, namespace: str, key: str) -> Entry | None:
        return self._run(self.store.get(namespace, key))

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        self._run(self.store.set(namespace, key, entry))

    def delete(self, namespace: str, key: str) -> None:
        self._run(self.store.delete(namespace, key))

    def clear(self, namespace: str) -> None:
        self._run(self.store.clear(namespace))

    def keys(self, namespace: str) -> Iterator[str]:
        return self._run(self.store.keys(namespace))

    def close(self) -> None:
        self._run(self.store.close())


class AsyncStoreMachine(StoreMachine):
    """Subclass and override :meth:`make_async_store`; use ``YourMachine.TestCase`` as a
    test. Everything else is :class:`~beaker.testing.StoreMachine`'s."""

    def make_async_store(self) -> AsyncStore:
        """Return a fresh (or freshly emptied) async store to check."""
        raise NotImplementedError("override make_async_store() in your subclass")

    def make_store(self) -> Store:
        self.loop = asyncio.new_event_loop()
        return BlockingStore(self.make_async_store(), self.loop)  # type: ignore[return-value]

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:
            self.loop.close()


class _Twins:
    """A sync store and an async store on one server seen as one store: writes go to
    :attr:`writer`, reads ask both and must get the same answer."""

    def __init__(self, sync: Store, asynchronous: BlockingStore) -> None:
        if sync.holds_objects != asynchronous.holds_objects:
            raise AssertionError("twins disagree on holds_objects")
        self.sides: tuple[Any, Any] = (sync, asynchronous)
        self.writer: Any = sync
        self.holds_objects = sync.holds_objects
        self.supports_keys = getattr(sync, "supports_keys", True)

    def get(self, namespace: str, key: str) -> Entry | None:
        sync, asynchronous = (side.get(namespace, key) for side in self.sides)
        assert sync == asynchronous, f"{key!r}: sync read {sync!r}, async read {asynchronous!r}"
        return sync  # type: ignore[no-any-return]

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        self.writer.set(namespace, key, entry)

    def delete(self, namespace: str, key: str) -> None:
        self.writer.delete(namespace, key)

    def clear(self, namespace: str) -> None:
        self.writer.clear(namespace)

    def keys(self, namespace: str) -> Iterator[str]:
        sync, asynchronous = (set(side.keys(namespace)) for side in self.sides)
        assert sync == asynchronous, f"keys of {namespace!r}: sync {sync}, async {asynchronous}"
        return iter(sync)

    def close(self) -> None:
        for side in self.sides:
            side.close()


class TwinStoreMachine(AsyncStoreMachine):
    """Subclass and override :meth:`make_twins` (a sync store and its async twin configured
    alike, on one server); use ``YourMachine.TestCase`` as a test. Proves the twins share key
    layout and record format: each reads exactly what the other wrote."""

    def make_twins(self) -> tuple[Store, AsyncStore]:
        """Return ``(sync store, async store)`` on one server, configured alike."""
        raise NotImplementedError("override make_twins() in your subclass")

    def make_store(self) -> Store:
        self.loop = asyncio.new_event_loop()
        sync, asynchronous = self.make_twins()
        self.twins = _Twins(sync, BlockingStore(asynchronous, self.loop))
        return self.twins  # type: ignore[return-value]

    @rule(through_async=st.booleans())
    def switch(self, through_async: bool) -> None:
        """Send the following writes through the async (or the sync) twin."""
        self.twins.writer = self.twins.sides[through_async]
