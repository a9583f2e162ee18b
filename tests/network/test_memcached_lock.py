"""MemcachedLock against real memcached: exclusion across threads and processes, dogpile
protection across processes, expiry of a SIGKILLed holder's lease, and a model-checked sequence
of acquire/release calls."""

from __future__ import annotations

import socket
import time
import urllib.parse

import pytest

from beaker.errors import ComponentTypeError, ConfigError, LockTimeout, StoreUnavailable
from beaker.locks.base import Lock
from beaker.locks.memcached import MemcachedLock
from beaker.stores.memcached import MemcachedStore
from beaker.stores.memcached_names import MAX_NAME
from beaker.testing import LeasedLockSuite, LockMachine
from tests.network._servers import MEMCACHED_PATIENT, fresh, machine_case
from tests.network.test_memcached import free_port


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


class TestMemcachedLock(LeasedLockSuite):
    """The leased-lock contract (beaker.testing), on a MemcachedStore for the dogpile check."""

    logger = "beaker.locks.memcached"

    @pytest.fixture
    def lock(self, memcached_servers: str) -> MemcachedLock:
        return MemcachedLock(memcached_servers, **MEMCACHED_PATIENT)

    @pytest.fixture
    def short_lived_lock(self, memcached_servers: str) -> MemcachedLock:
        return MemcachedLock(memcached_servers, expire=1.0, **MEMCACHED_PATIENT)  # lives 1-2 s

    @pytest.fixture
    def store(self, memcached_servers: str) -> MemcachedStore:
        return MemcachedStore(memcached_servers, **MEMCACHED_PATIENT)


class MemcachedLockMachine(LockMachine):
    where = ""

    def make_lock(self) -> MemcachedLock:
        return MemcachedLock(self.where, **MEMCACHED_PATIENT)


TestMemcachedLockStates = machine_case(
    MemcachedLockMachine, "memcached_servers", examples=100, steps=50
)


def test_lease_item_carries_the_expiry(memcached_servers: str) -> None:
    # memcached keeps whole seconds: its deadline, as `lru_crawler metadump` shows it, is an
    # absolute unix time within expire + 2 s.
    lock = MemcachedLock(memcached_servers, expire=7.5)
    held = fresh("lock")
    with lock.acquire(held):
        deadline = item_deadline(memcached_servers, lock.item_name(held))
        assert deadline is not None and time.time() < deadline <= time.time() + 9.5
    assert item_deadline(memcached_servers, lock.item_name(held)) is None
    lock.close()


def test_lease_beyond_30_days_is_held_to_its_deadline(memcached_servers: str) -> None:
    # memcached reads an exptime over 30 days as a unix time: sent as 40 days relative, the
    # lease would be dropped at once (a time in 1970) and a second holder let in.
    lock = MemcachedLock(memcached_servers, expire=40 * 86_400.0)
    held = fresh("lock")
    with lock.acquire(held):
        deadline = item_deadline(memcached_servers, lock.item_name(held))
        assert deadline is not None and abs(deadline - (time.time() + 40 * 86_400)) < 5
        with pytest.raises(LockTimeout):
            lock.acquire(held, timeout=0)
    lock.close()


def test_is_a_cluster_scope_lock(memcached_servers: str) -> None:
    lock = MemcachedLock(memcached_servers)
    assert isinstance(lock, Lock) and lock.scope == "cluster"


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
