"""The async conformance harness on our in-process parts, and proof that it catches a broken
store and a lock that does not exclude."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import Phase, settings

from beaker.entry import Entry
from beaker.locks import AsyncioLock, AsyncNullLock
from beaker.stores import AsyncMemoryStore, MemoryStore
from beaker.stores.base import AsyncStore, Store
from beaker.testing import AsyncStoreMachine, TwinStoreMachine, check_async_lock_exclusion


class AsyncMemoryStoreMachine(AsyncStoreMachine):
    def make_async_store(self) -> AsyncStore:
        return AsyncMemoryStore()


TestAsyncMemoryStore = AsyncMemoryStoreMachine.TestCase


class MemoryTwinsMachine(TwinStoreMachine):
    def make_twins(self) -> tuple[Store, AsyncStore]:
        store = MemoryStore()
        return store, AsyncMemoryStore.of(store)


TestMemoryTwins = MemoryTwinsMachine.TestCase


def test_asyncio_lock_excludes_the_tasks_of_a_loop() -> None:
    check_async_lock_exclusion(AsyncioLock(), tasks=8, rounds=10)


def test_the_lock_check_catches_a_lock_that_does_not_exclude() -> None:
    with pytest.raises(AssertionError):
        check_async_lock_exclusion(AsyncNullLock(), tasks=4, rounds=3)


@attrs.frozen(init=False)
class _ForgetfulTwin(AsyncMemoryStore):
    """An async twin that drops the stored-at time: its reads disagree with the sync side."""

    async def get(self, namespace: str, key: str) -> Entry | None:
        entry = self.sync.get(namespace, key)
        return None if entry is None else entry._replace(stored_at=0.0)


class BrokenTwinsMachine(TwinStoreMachine):
    def make_twins(self) -> tuple[Store, AsyncStore]:
        store = MemoryStore()
        return store, _ForgetfulTwin.of(store)


def test_the_twin_machine_catches_twins_that_disagree() -> None:
    BrokenTwinsMachine.TestCase.settings = settings(
        BrokenTwinsMachine.TestCase.settings,
        database=None,
        derandomize=True,  # the same search every run: this test must not be flaky
        phases=[Phase.generate],  # finding the bug is the point; shrinking it only costs time
    )
    with pytest.raises(AssertionError, match="async read"):
        BrokenTwinsMachine.TestCase("runTest").runTest()
