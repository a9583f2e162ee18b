"""The lock contract, as checks any :class:`~beaker.locks.base.Lock` can be run against, and
three pytest suites that bundle them by how far a lock reaches.

Checks (plain functions, raising ``AssertionError``):

* :func:`check_lock_exclusion`: threads (or processes) never hold one name at once;
* :func:`check_lock_timeouts`: ``timeout=0`` tries once, a short timeout gives up with
  :class:`~beaker.errors.LockTimeout`, a released name is free again, a waiter gets it;
* :func:`check_double_release`: a second ``release()`` of one lease is a
  :class:`~beaker.errors.LockError`;
* :func:`check_lock_pickles`: a pickled copy is equal to the lock and works (and, for locks
  that reach across processes, excludes the original);
* :func:`check_creator_runs_once`: spawned processes asking a cache for one cold key run its
  creator once;
* :func:`check_killed_holder_released`: a holder killed with SIGKILL does not keep its name
  forever (at once for kernel locks, after the lease's expiry for leased locks);
* :func:`check_expired_lease_keeps_successor`: a lease released after it expired leaves the
  next holder's lease in place.

:class:`LockMachine` is a Hypothesis state machine of ``acquire(timeout=0)`` / ``release``
calls from one thread against a model of the names held.

Suites (subclass one, give it a ``lock`` fixture; pytest collects the inherited tests):
:class:`LockSuite` (scope ``"thread"``), :class:`ProcessLockSuite` (``"host"`` or
``"cluster"``) and :class:`LeasedLockSuite` (server locks whose leases expire).

Must not import from ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import secrets
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from beaker.caching import compose
from beaker.errors import LockError, LockTimeout
from beaker.locks.base import Lease, Lock
from beaker.stores.base import Store
from beaker.stores.file import FileStore
from beaker.testing._refusals import refused

_SPAWN = multiprocessing.get_context("spawn")
_NAME = "conformance-lock"
#: Seconds any check waits at most for something that should happen at once.
_PATIENCE = 60.0


def _fresh(prefix: str = "lock") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _close(component: Any) -> None:
    close = getattr(component, "close", None)
    if close is not None:
        close()


def _worker(lock: Lock, counter: str, rounds: int, hold: float) -> None:
    """Increment the number in ``counter`` ``rounds`` times, each a read-pause-write done
    while holding the lock: without exclusion the increments overwrite each other."""
    path = Path(counter)
    for _ in range(rounds):
        with lock.acquire(_NAME, timeout=_PATIENCE):
            inside = path.with_suffix(".inside")
            if inside.exists():
                raise AssertionError("two holders inside the lock at once")
            inside.touch()
            value = int(path.read_text() or 0)
            time.sleep(hold)
            path.write_text(str(value + 1))
            inside.unlink()


def _run_processes(target: Any, args: tuple[Any, ...], count: int) -> None:
    procs = [_SPAWN.Process(target=target, args=args) for _ in range(count)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
    codes = [proc.exitcode for proc in procs]
    assert codes == [0] * count, f"worker processes failed: exit codes {codes}"


def check_lock_exclusion(
    lock: Lock, workers: int = 4, rounds: int = 20, processes: bool = False, hold: float = 0.001
) -> None:
    """Assert that ``lock`` excludes ``workers`` threads (or processes) from each other.

    Each worker increments a counter file ``rounds`` times under the lock, pausing ``hold``
    seconds between read and write. The final count must be ``workers * rounds`` and no two
    workers may be inside at once. With ``processes=True`` the lock must be picklable and its
    scope at least ``"host"``.

    Raises:
        AssertionError: exclusion was violated or a worker failed.
    """
    with tempfile.TemporaryDirectory() as tmp:
        counter = os.path.join(tmp, "counter")
        Path(counter).write_text("0")
        args = (lock, counter, rounds, hold)
        if processes:
            _run_processes(_worker, args, workers)
        else:
            errors: list[Exception] = []

            def run() -> None:
                try:
                    _worker(*args)
                except Exception as exc:  # noqa: BLE001 - any failure is reported below
                    errors.append(exc)

            threads = [threading.Thread(target=run) for _ in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors, f"worker threads failed: {errors!r}"
        total = int(Path(counter).read_text())
        assert total == workers * rounds, (
            f"{total} increments survived of {workers * rounds}: the lock did not exclude"
        )


def check_lock_timeouts(lock: Lock) -> None:
    """Assert the ``timeout`` contract of ``lock.acquire`` on a name this thread holds.

    ``timeout=0`` tries once and raises :class:`~beaker.errors.LockTimeout` carrying the name
    and the timeout; a short timeout waits, then raises; other names are independent; a
    thread waiting with ``timeout=None`` gets the name once it is released.

    Raises:
        AssertionError: a step of the contract failed.
    """
    held = _fresh()
    lease = lock.acquire(held)
    assert isinstance(lease, Lease), f"acquire returned {lease!r}, not a Lease"
    with refused(LockTimeout, "acquire(timeout=0) of a held name") as caught:
        lock.acquire(held, timeout=0)
    error = caught[0]
    assert isinstance(error, LockTimeout) and (error.name, error.timeout) == (held, 0), repr(error)
    with refused(LockTimeout, "acquire(timeout=0.05) of a held name"):
        lock.acquire(held, timeout=0.05)
    with lock.acquire(_fresh(), timeout=0):  # another name is free
        pass
    got: list[Lease] = []
    waiter = threading.Thread(target=lambda: got.append(lock.acquire(held, timeout=None)))
    waiter.start()
    time.sleep(0.05)
    assert not got, "a waiter got a name that was still held"
    lease.release()
    waiter.join(_PATIENCE)
    assert len(got) == 1, "the waiter did not get the name after its release"
    got[0].release()
    with lock.acquire(held, timeout=0):  # free again: one try suffices
        pass


def check_double_release(lock: Lock) -> None:
    """Assert that releasing a lease twice (also after its ``with`` block) is a
    :class:`~beaker.errors.LockError`, and that the name stays free."""
    held = _fresh()
    lease = lock.acquire(held)
    lease.release()
    with refused(LockError, "a second release()"):
        lease.release()
    with lock.acquire(held, timeout=0) as again:
        pass
    with refused(LockError, "release() after the with block"):
        again.release()
    with lock.acquire(held, timeout=0):
        pass


def check_lock_pickles(lock: Lock, shared: bool = False) -> None:
    """Assert that a pickled copy of ``lock``, taken while it holds a name, is equal to it and
    works on its own resources; with ``shared=True`` (scope ``"host"`` or ``"cluster"``) the
    copy must also be refused the name the original holds."""
    held = _fresh()
    with lock.acquire(held):
        clone = pickle.loads(pickle.dumps(lock))
        assert clone == lock, f"{clone!r} != {lock!r}"
        if shared:
            with refused(LockTimeout, "the pickled copy taking the name the original holds"):
                clone.acquire(held, timeout=0)
    with clone.acquire(_fresh(), timeout=0):
        pass
    _close(clone)


def _dogpile_worker(store: Store, lock: Lock, namespace: str, log: str, barrier: Any) -> None:
    cache = compose(store, lock=lock, namespace=namespace)

    def creator() -> str:
        with open(log, "a") as out:
            out.write(f"{os.getpid()}\n")
        time.sleep(0.3)  # long enough that the others arrive while it runs
        return f"made by {os.getpid()}"

    barrier.wait()
    value = cache.get_or_create("cold", creator)
    with open(log + ".results", "a") as out:
        out.write(value + "\n")


def check_creator_runs_once(lock: Lock, store: Store | None = None, processes: int = 4) -> None:
    """Assert that ``processes`` spawned processes asking a cache on ``store`` guarded by
    ``lock`` (both pickled into them) for one cold key run the creator once and all get its
    value. ``store`` defaults to a :class:`~beaker.stores.file.FileStore` in a temporary
    directory; its namespace is fresh and cleared afterwards."""
    namespace = _fresh("dogpile")
    with tempfile.TemporaryDirectory() as tmp:
        used = FileStore(os.path.join(tmp, "store")) if store is None else store
        log = os.path.join(tmp, "creator.log")
        try:
            _run_processes(
                _dogpile_worker, (used, lock, namespace, log, _SPAWN.Barrier(processes)), processes
            )
        finally:
            used.clear(namespace)
        creators = Path(log).read_text().split()
        assert len(creators) == 1, f"creator ran in processes {creators}"
        results = Path(log + ".results").read_text().splitlines()
        assert results == [f"made by {creators[0]}"] * processes, (
            f"values {results} (creator {creators[0]})"
        )


def _hold_forever(lock: Lock, name: str, ready: str) -> None:
    lock.acquire(name)
    Path(ready).touch()
    while True:
        time.sleep(1)


@contextmanager
def killed_holder(lock: Lock, name: str) -> Iterator[None]:
    """Within the block, a spawned process that took ``name`` with ``lock`` (pickled into it)
    has been killed with SIGKILL, leaving whatever it held behind."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp, "ready")
        holder = _SPAWN.Process(target=_hold_forever, args=(lock, name, str(ready)))
        holder.start()
        try:
            deadline = time.monotonic() + _PATIENCE
            while not ready.exists() and holder.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ready.exists(), "the holder process never acquired the lock"
            os.kill(holder.pid, signal.SIGKILL)  # type: ignore[arg-type]
            holder.join()
            yield
        finally:
            if holder.is_alive():
                holder.kill()
                holder.join()


def check_killed_holder_released(lock: Lock, held_until_expiry: bool = False) -> None:
    """Assert that a name whose holder process was killed (SIGKILL) can be taken again within
    a minute; with ``held_until_expiry=True`` (leased locks: give one with an expiry of about
    a second) it must still be held right after the kill, until the lease expires."""
    name = _fresh()
    with killed_holder(lock, name):
        if held_until_expiry:
            with refused(LockTimeout, "the name of a killed holder before its lease expired"):
                lock.acquire(name, timeout=0)
        with lock.acquire(name, timeout=_PATIENCE):
            pass


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _warnings(logger: str) -> Iterator[list[logging.LogRecord]]:
    """The warnings logged on ``logger`` and its children within the block."""
    handler = _Records()
    target = logging.getLogger(logger)
    target.addHandler(handler)
    try:
        yield handler.records
    finally:
        target.removeHandler(handler)


def check_expired_lease_keeps_successor(
    short_lived: Lock, lock: Lock, logger: str | None = None
) -> None:
    """Assert that a lease that expired before its release cannot remove its successor's.

    ``short_lived`` and ``lock`` are one lock (same server, same names) with different lease
    lifetimes: ``short_lived`` a fraction of a second (or the server's least), ``lock`` long.
    A name taken with ``short_lived`` is taken again with ``lock`` once it expired; releasing
    the first lease then must leave the second in place. With ``logger``, that release must
    also log a warning there (or on a child logger).
    """
    held = _fresh()
    first = short_lived.acquire(held)
    second = lock.acquire(held, timeout=_PATIENCE)  # waits for the first lease to expire
    with _warnings(logger or "beaker") as warned:
        first.release()  # too late: the name is the successor's
    if logger is not None:
        assert warned, f"no warning on {logger!r} for a lease released after its expiry"
    with refused(LockTimeout, "the name after an expired lease's release"):
        lock.acquire(held, timeout=0)  # the successor still holds it
    second.release()
    with lock.acquire(held, timeout=0):
        pass


class LockSuite:
    """The contract of every lock with exclusion (scope ``"thread"`` and wider).

    Subclass it as ``TestMyLock`` with a ``lock`` fixture (a method decorated with
    ``@pytest.fixture``, which may use other fixtures); pytest runs the inherited tests against
    it, and the suite closes (``close()``, where it has one) what its fixtures return::

        class TestMyLock(LockSuite):
            @pytest.fixture
            def lock(self):
                return MyLock()
    """

    #: The fixtures whose values the suite closes after each test.
    closed_fixtures: ClassVar[tuple[str, ...]] = ("lock",)

    @pytest.fixture(autouse=True)
    def _close_components(self, request: pytest.FixtureRequest) -> Iterator[None]:
        components = [request.getfixturevalue(name) for name in self.closed_fixtures]
        yield
        for component in components:
            _close(component)

    def test_excludes_threads(self, lock: Lock) -> None:
        check_lock_exclusion(lock, workers=4, rounds=15)

    def test_timeouts(self, lock: Lock) -> None:
        check_lock_timeouts(lock)

    def test_double_release_is_an_error(self, lock: Lock) -> None:
        check_double_release(lock)

    def test_pickles(self, lock: Lock) -> None:
        check_lock_pickles(lock, shared=lock.scope in ("host", "cluster"))


class ProcessLockSuite(LockSuite):
    """:class:`LockSuite` plus the contract of locks whose scope is ``"host"`` or
    ``"cluster"``: exclusion between processes, one creator across processes, a killed
    holder's name freed. Override the ``store`` fixture to run the dogpile check on a store
    the processes share other than a temporary :class:`~beaker.stores.file.FileStore`."""

    #: Leases expire on a server rather than with their holder (:class:`LeasedLockSuite`).
    leased: ClassVar[bool] = False
    closed_fixtures: ClassVar[tuple[str, ...]] = ("lock", "store")

    @pytest.fixture
    def store(self) -> Store | None:
        return None

    def test_is_process_wide(self, lock: Lock) -> None:
        assert lock.scope in ("host", "cluster"), f"scope {lock.scope!r}"

    def test_excludes_processes(self, lock: Lock) -> None:
        check_lock_exclusion(lock, workers=3, rounds=10, processes=True)

    def test_creator_runs_once_across_processes(self, lock: Lock, store: Store | None) -> None:
        check_creator_runs_once(lock, store)

    def test_killed_holder_is_released(self, lock: Lock, request: pytest.FixtureRequest) -> None:
        if self.leased:  # a dead holder cannot be seen: its lease must run out
            lock = request.getfixturevalue("short_lived_lock")
        check_killed_holder_released(lock, held_until_expiry=self.leased)


class LeasedLockSuite(ProcessLockSuite):
    """:class:`ProcessLockSuite` plus the contract of locks whose leases expire on a server:
    a dead holder's lease runs out, and a lease released after it ran out leaves its
    successor's in place. Needs a ``short_lived_lock`` fixture too: the same lock with a lease
    lifetime of one or two seconds. Set ``logger`` to the logger on which a release after
    expiry warns."""

    leased = True
    closed_fixtures: ClassVar[tuple[str, ...]] = ("lock", "short_lived_lock", "store")
    #: The logger on which a release after the lease's expiry warns (``None``: not checked).
    logger: ClassVar[str | None] = None

    def test_expired_lease_keeps_successor(self, lock: Lock, short_lived_lock: Lock) -> None:
        check_expired_lease_keeps_successor(short_lived_lock, lock, self.logger)


class LockMachine(RuleBasedStateMachine):
    """Random ``acquire(name, timeout=0)`` and ``release()`` calls against a model of who holds
    what: a held name is refused, a free one granted, a second release is a ``LockError``.

    Subclass and override :meth:`make_lock`; use ``YourMachine.TestCase`` as a test. Names are
    drawn from :attr:`names` behind a per-run prefix, so a shared server is safe.
    """

    #: The names the machine takes (a strategy of ``str``).
    names: st.SearchStrategy[str] = st.sampled_from(["a", "b", "c d", "ünï", "é" * 200, "x" * 300])

    def make_lock(self) -> Lock:
        """Return the lock to check."""
        raise NotImplementedError("override make_lock() in your subclass")

    def __init__(self) -> None:
        super().__init__()
        self.lock = self.make_lock()
        self.run = _fresh("machine")
        self.held: dict[str, Lease] = {}
        self.released: list[Lease] = []

    def teardown(self) -> None:
        for lease in self.held.values():
            lease.release()
        _close(self.lock)

    @rule(data=st.data())
    def acquire(self, data: st.DataObject) -> None:
        name = f"{self.run}:{data.draw(self.names)}"
        try:
            lease = self.lock.acquire(name, timeout=0)
        except LockTimeout:
            assert name in self.held, f"{name!r} is free but acquire timed out"
            return
        assert name not in self.held, f"{name!r} was granted while held"
        self.held[name] = lease

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        lease = self.held.pop(data.draw(st.sampled_from(sorted(self.held))))
        lease.release()
        self.released.append(lease)

    @precondition(lambda self: bool(self.released))
    @rule(data=st.data())
    def release_again(self, data: st.DataObject) -> None:
        with refused(LockError, "a second release()"):
            data.draw(st.sampled_from(self.released)).release()


LockMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
