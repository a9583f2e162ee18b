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

Needs the ``test`` extra (Hypothesis, pytest).
"""

from beaker.testing.locks import check_lock_exclusion
from beaker.testing.stores import FakeClock, StoreMachine

__all__ = ["FakeClock", "StoreMachine", "check_lock_exclusion"]
