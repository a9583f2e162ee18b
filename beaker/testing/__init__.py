"""The public conformance harness: check any Store or Lock — ours or a third party's.

Stores::

    from beaker.testing import StoreMachine

    class MyStoreMachine(StoreMachine):
        def make_store(self):
            return MyStore(...)

    TestMyStore = MyStoreMachine.TestCase     # collected by pytest / unittest

Locks::

    from beaker.testing import check_lock_exclusion

    def test_my_lock_excludes():
        check_lock_exclusion(MyLock(...), workers=4, rounds=20, processes=True)

Session stores (concurrent requests of one browser lose no write)::

    from beaker.testing import check_session_store_no_lost_writes

    def test_my_store_keeps_concurrent_session_writes():
        check_compare_and_set(MyStore(...))     # the VersionedStore contract
        check_session_store_no_lost_writes(MyStore(...), threads=3, processes=2)

Async stores and locks, and a sync store with its async twin on one server::

    from beaker.testing import AsyncStoreMachine, TwinStoreMachine, check_async_lock_exclusion

    class MyAsyncStoreMachine(AsyncStoreMachine):
        def make_async_store(self):
            return MyAsyncStore(...)

    class MyTwinsMachine(TwinStoreMachine):
        def make_twins(self):
            return MyStore(url), MyAsyncStore(url)

    def test_my_async_lock_excludes():
        check_async_lock_exclusion(MyAsyncLock(...), tasks=8, rounds=20, processes=4)

Needs the ``test`` extra (Hypothesis, pytest).
"""

from beaker.testing.async_locks import check_async_lock_exclusion
from beaker.testing.async_stores import AsyncStoreMachine, TwinStoreMachine
from beaker.testing.locks import check_lock_exclusion
from beaker.testing.sessions import check_compare_and_set, check_session_store_no_lost_writes
from beaker.testing.stores import FakeClock, StoreMachine

__all__ = [
    "AsyncStoreMachine",
    "FakeClock",
    "StoreMachine",
    "TwinStoreMachine",
    "check_async_lock_exclusion",
    "check_compare_and_set",
    "check_lock_exclusion",
    "check_session_store_no_lost_writes",
]
