"""The public conformance harness: check any Store, Lock, Serializer or byte codec — ours or
a third party's — against the contract of its kind.

Stores::

    from beaker.testing import StoreMachine

    class MyStoreMachine(StoreMachine):
        def make_store(self):
            return MyStore(...)

    TestMyStore = MyStoreMachine.TestCase     # collected by pytest / unittest

Locks (pytest collects the suite's tests on the subclass)::

    import pytest
    from beaker.testing import ProcessLockSuite

    class TestMyLock(ProcessLockSuite):       # LockSuite / ProcessLockSuite / LeasedLockSuite
        @pytest.fixture
        def lock(self):
            return MyLock(...)

Serializers, signers and encrypters::

    from beaker.testing import CodecSuite, PICKLE_VALUES, SerializerSuite

    class TestMySerializer(SerializerSuite):
        values = PICKLE_VALUES                # a strategy of the values it gives back
        rejected = [lambda: None]             # values dumps() must refuse

        def make_serializer(self):
            return MySerializer()

    class TestMySigner(CodecSuite):           # EncrypterSuite for an encrypter
        def make_codec(self, keys):           # keys: newest first
            return MySigner(keys)

Session stores (concurrent requests of one browser lose no write)::

    from beaker.testing import SessionLoad, check_session_store_no_lost_writes

    def test_my_store_keeps_concurrent_session_writes():
        check_compare_and_set(MyStore(...))     # the VersionedStore contract
        check_session_store_no_lost_writes(MyStore(...), SessionLoad(workers=3, processes=2))

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

    def test_my_async_session_store():
        check_async_compare_and_set(MyAsyncStore(...))
        check_async_session_store_no_lost_writes(MyAsyncStore(...), SessionLoad(processes=2))

Each suite's checks are also functions (``check_lock_exclusion``, ``check_key_rotation`` …)
for tests of your own, raising ``AssertionError``. Needs the ``test`` extra (Hypothesis,
pytest).
"""

from beaker.testing.async_locks import check_async_lock_exclusion
from beaker.testing.async_sessions import (
    check_async_compare_and_set,
    check_async_session_store_no_lost_writes,
)
from beaker.testing.async_stores import AsyncStoreMachine, TwinStoreMachine
from beaker.testing.codecs import (
    JSON_VALUES,
    PICKLE_VALUES,
    CodecSuite,
    EncrypterSuite,
    SerializerSuite,
    check_codec_detects_tampering,
    check_codec_round_trip,
    check_encryption_hides_data,
    check_key_rotation,
    check_serializer_refuses,
    check_serializer_round_trip,
    check_serializer_survives_damage,
    same_value,
)
from beaker.testing.locks import (
    LeasedLockSuite,
    LockMachine,
    LockSuite,
    ProcessLockSuite,
    check_creator_runs_once,
    check_double_release,
    check_expired_lease_keeps_successor,
    check_killed_holder_released,
    check_lock_exclusion,
    check_lock_pickles,
    check_lock_timeouts,
    killed_holder,
)
from beaker.testing.sessions import (
    SessionLoad,
    check_compare_and_set,
    check_session_store_no_lost_writes,
)
from beaker.testing.stores import FakeClock, StoreMachine

__all__ = [
    "JSON_VALUES",
    "PICKLE_VALUES",
    "AsyncStoreMachine",
    "CodecSuite",
    "EncrypterSuite",
    "FakeClock",
    "LeasedLockSuite",
    "LockMachine",
    "LockSuite",
    "ProcessLockSuite",
    "SerializerSuite",
    "SessionLoad",
    "StoreMachine",
    "TwinStoreMachine",
    "check_async_compare_and_set",
    "check_async_lock_exclusion",
    "check_async_session_store_no_lost_writes",
    "check_codec_detects_tampering",
    "check_codec_round_trip",
    "check_compare_and_set",
    "check_creator_runs_once",
    "check_double_release",
    "check_encryption_hides_data",
    "check_expired_lease_keeps_successor",
    "check_key_rotation",
    "check_killed_holder_released",
    "check_lock_exclusion",
    "check_lock_pickles",
    "check_lock_timeouts",
    "check_serializer_refuses",
    "check_serializer_round_trip",
    "check_serializer_survives_damage",
    "check_session_store_no_lost_writes",
    "killed_holder",
    "same_value",
]
