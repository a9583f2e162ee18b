"""MemcachedLock against real memcached: exclusion across threads and processes, dogpile
protection across processes, expiry of a SIGKILLed holder's lease, and a model-checked sequence
of acquire/release calls."""

from __future__ import annotations

import secrets
import socket
import time
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule
from pymemcache.client.base import Client

from beaker.errors import ComponentTypeError, ConfigError, LockError, LockTimeout, StoreUnavailable
from beaker.locks.base import Lease, Lock
from beaker.locks.memcached import MemcachedLock
from beaker.stores.memcached import MemcachedStore
from beaker.stores.memcached_names import MAX_NAME
from beaker.testing import check_lock_exclusion
from tests.network import _lease_checks as checks
from tests.network.test_memcached import free_port


def admin(servers: str) -> Client:
    host, port = servers.split(";")[0].rsplit(":", 1)
    return Client((host, int(port)), default_noreply=False)


def item_deadline(servers: str, item: str) -> float | None:
    """The expiry time (unix seconds) memcached keeps for ``item``, from a metadump."""
    host, port = servers.split(";")[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"lru_crawler metadump hash\r\n")
        reply = b""
        while not reply.endswith(b"END\r\n"):
            chunk = sock.recv(1 << 16)
            assert chunk, "memcached closed the connection"
            reply += chunk
    for line in reply.decode().splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if fields.get("key") and urllib.parse.unquote(fields["key"]) == item:
            return float(fields["exp"])
    return None


def test_is_a_cluster_scope_lock(memcached_servers: str) -> None:
    lock = MemcachedLock(memcached_servers)
    assert isinstance(lock, Lock) and lock.scope == "cluster"


def test_excludes_threads(memcached_servers: str) -> None:
    lock = MemcachedLock(memcached_servers)
    check_lock_exclusion(lock, workers=4, rounds=15)
    lock.close()


def test_excludes_processes(memcached_servers: str) -> None:
    lock = MemcachedLock(memcached_servers)
    check_lock_exclusion(lock, workers=4, rounds=10, processes=True)
    lock.close()


def test_timeouts(memcached_servers: str) -> None:
    lock = MemcachedLock(memcached_servers)
    checks.check_timeouts(lock)
    lock.close()


def test_a_waiter_gets_the_lock_when_it_is_released(memcached_servers: str) -> None:
    import threading

    lock = MemcachedLock(memcached_servers)
    held = checks.name()
    lease = lock.acquire(held)
    got: list[Lease] = []
    waiter = threading.Thread(target=lambda: got.append(lock.acquire(held, timeout=None)))
    waiter.start()
    time.sleep(0.1)
    assert not got  # still waiting
    lease.release()
    waiter.join(timeout=60)
    assert len(got) == 1
    got[0].release()
    lock.close()


def test_double_release_is_an_error(memcached_servers: str) -> None:
    lock = MemcachedLock(memcached_servers)
    checks.check_double_release(lock)
    lock.close()


def test_an_expired_lease_does_not_release_its_successor(
    memcached_servers: str, caplog: pytest.LogCaptureFixture
) -> None:
    lock = MemcachedLock(memcached_servers, expire=0.1)  # lives 1-2 s: whole seconds
    client = admin(memcached_servers)
    checks.check_expired_lease_keeps_successor(
        lock,
        "beaker.locks.memcached",
        caplog,
        lambda held: client.get(lock.item_name(held)) is not None,
    )
    client.close()
    lock.close()


def test_names_of_any_shape_are_distinct_valid_items(memcached_servers: str) -> None:
    lock = MemcachedLock(memcached_servers)
    names = ["plain", "with space", "ctl\x01", "ünï", "x" * 300, "x" * 301, "#abc", ""]
    items = [lock.item_name(each) for each in names]
    assert len(set(items)) == len(items)
    for item in items:
        raw = item.encode("ascii")
        assert 0 < len(raw) <= MAX_NAME and all(0x21 <= byte <= 0x7E for byte in raw)
    leases = [lock.acquire(each, timeout=0) for each in names]  # all distinct locks
    for each in names:
        with pytest.raises(LockTimeout):
            lock.acquire(each, timeout=0)
    for lease in leases:
        lease.release()
    lock.close()


class LockModel(RuleBasedStateMachine):
    """Random acquire(timeout=0)/release sequences against a model of who holds what."""

    servers = ""

    def __init__(self) -> None:
        super().__init__()
        self.lock = MemcachedLock(self.servers, prefix=f"model-{secrets.token_hex(4)}:")
        self.held: dict[str, Lease] = {}
        self.released: list[Lease] = []

    @rule(lock_name=st.sampled_from(["a", "b", "c d", "é" * 200]))
    def try_acquire(self, lock_name: str) -> None:
        try:
            lease = self.lock.acquire(lock_name, timeout=0)
        except LockTimeout:
            assert lock_name in self.held, f"{lock_name!r} is free but acquire timed out"
            return
        assert lock_name not in self.held, f"{lock_name!r} was acquired twice"
        self.held[lock_name] = lease

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        lock_name = data.draw(st.sampled_from(sorted(self.held)))
        lease = self.held.pop(lock_name)
        lease.release()
        self.released.append(lease)

    @precondition(lambda self: bool(self.released))
    @rule(data=st.data())
    def release_again(self, data: st.DataObject) -> None:
        lease = data.draw(st.sampled_from(self.released))
        with pytest.raises(LockError):
            lease.release()

    def teardown(self) -> None:
        for lease in self.held.values():
            lease.release()
        self.lock.close()


@pytest.fixture()
def _model_servers(memcached_servers: str) -> None:
    LockModel.servers = memcached_servers


TestLockModel = pytest.mark.usefixtures("_model_servers")(LockModel.TestCase)
TestLockModel.settings = settings(max_examples=20, stateful_step_count=25, deadline=None)


def test_unreachable_server_raises_store_unavailable() -> None:
    address = f"127.0.0.1:{free_port()}"
    lock = MemcachedLock(address, socket_timeout=0.5)
    with pytest.raises(StoreUnavailable) as caught:
        lock.acquire("x", timeout=0)
    assert caught.value.address == address


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [
        ({"servers": ""}, ConfigError, "servers"),
        ({"client": object()}, ComponentTypeError, "client"),
        ({"expire": 0}, ConfigError, "expire"),
        ({"expire": "30"}, ConfigError, "expire"),
        ({"expire": float("inf")}, ConfigError, "expire"),
        ({"max_pause": -1}, ConfigError, "max_pause"),
        ({"prefix": "has space"}, ConfigError, "prefix"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], error: type, argument: str) -> None:
    with pytest.raises(error) as caught:
        MemcachedLock(**kwargs)  # type: ignore[arg-type]
    assert argument in str(caught.value)


def test_pickles_without_connections(memcached_servers: str) -> None:
    checks.check_pickles_without_connections(MemcachedLock(memcached_servers, expire=3.0))


# -- across processes ----------------------------------------------------------------------------


def test_four_processes_on_a_cold_key_run_the_creator_once(
    memcached_servers: str, tmp_path: Path
) -> None:
    namespace = checks.name()
    checks.check_creator_runs_once_across_processes(
        MemcachedStore(memcached_servers), MemcachedLock(memcached_servers), namespace, tmp_path
    )
    store = MemcachedStore(memcached_servers)
    store.clear(namespace)
    store.close()


def test_a_killed_holder_blocks_others_only_until_expiry(
    memcached_servers: str, tmp_path: Path
) -> None:
    lock = MemcachedLock(memcached_servers, expire=1.0)
    held = checks.name()
    with checks.killed_holder(lock, held, tmp_path):
        with pytest.raises(LockTimeout):
            lock.acquire(held, timeout=0)  # the dead holder's lease is still there...
        # ...but the server drops it within expire + 1 s (whole seconds): its deadline, as
        # `lru_crawler metadump` shows it, is an absolute unix time.
        deadline = item_deadline(memcached_servers, lock.item_name(held))
        assert deadline is not None and deadline <= time.time() + 2.0
        with lock.acquire(held, timeout=60):  # and then it is ours
            pass
    lock.close()
