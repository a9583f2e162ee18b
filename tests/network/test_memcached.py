"""MemcachedStore against real memcached processes: the shared one from `.ci/services.sh`
(conformance, layout) and private ones started here (command counting from ``stats``, faults,
servers configured differently), so counts are not disturbed by anyone else's traffic.

:class:`MemcachedServer` is reused by the lock tests.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymemcache.client.base import Client, PooledClient

from beaker.caching import compose
from beaker.entry import MISSING, Entry
from beaker.errors import ComponentTypeError, ConfigError, StoreError, StoreUnavailable
from beaker.locks.null import NullLock
from beaker.policies import CircuitBreaker
from beaker.stores.memcached import MemcachedStore
from beaker.stores.memcached_names import MAX_NAME, expire_seconds
from beaker.testing import StoreMachine
from tests._threads import run_threads
from tests.network._servers import (
    MEMCACHED_PATIENT,
    PATIENT,
    await_answer,
    check_clear_and_keys_per_namespace,
    end,
    entry,
    free_port,
    fresh,
    launch,
    machine_case,
    server_bin,
)

# -- private servers ---------------------------------------------------------------------------


def memcached_bin() -> str:
    """Path of memcached: ``BEAKER_TEST_MEMCACHED_BIN`` or the one on ``PATH``."""
    return server_bin("memcached", "BEAKER_TEST_MEMCACHED_BIN")


class MemcachedServer:
    """A memcached of our own on a loopback port, which a test may stop and start again."""

    def __init__(self, *options: str) -> None:
        self.options = options
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._admin: Client | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> MemcachedServer:
        args = [memcached_bin(), "-l", "127.0.0.1", "-p", str(self.port), "-U", "0"]
        if os.geteuid() == 0:
            args += ["-u", "root"]
        self.process = launch([*args, *self.options])
        # The probe is the admin connection itself, kept open: a probe connection closed at once
        # could still be counted (or uncounted) in the ``stats`` connection figures a test reads
        # next.
        await_answer(
            self.process,
            lambda: self.admin().version(),
            OSError,
            "memcached",
            self.port,
            on_error=self._drop_admin,
        )
        return self

    def _drop_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def stop(self) -> None:
        self._drop_admin()
        end(self.process)
        self.process = None

    def admin(self) -> Client:
        """One plain connection for inspecting the server (not the client under test)."""
        if self._admin is None:
            self._admin = Client(("127.0.0.1", self.port), connect_timeout=1, default_noreply=False)
        return self._admin

    def stats(self) -> dict[str, int]:
        """The numeric counters of ``stats``."""
        found = {}
        for name, value in self.admin().stats().items():
            try:
                found[name.decode()] = int(value)
            except (TypeError, ValueError):
                pass
        return found

    def gets_and_sets(self) -> dict[str, int]:
        stats = self.stats()
        return {
            "get": stats["cmd_get"],
            "hit+miss": stats["get_hits"] + stats["get_misses"],
            "set": stats["cmd_set"],
        }


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in before}


@pytest.fixture()
def private_memcached() -> Iterator[MemcachedServer]:
    server = MemcachedServer().start()
    yield server
    server.stop()


def wait_for_connections(server: MemcachedServer, count: int) -> None:
    """Poll ``stats`` until the server holds ``count`` client connections (it notices closed
    ones asynchronously); fail after ~10 s."""
    for _ in range(200):
        if server.stats()["curr_connections"] == count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{server.stats()['curr_connections']} connections, expected {count}")


# -- conformance ---------------------------------------------------------------------------------


class MemcachedMachine(StoreMachine):
    where = ""

    def make_store(self) -> MemcachedStore:
        return MemcachedStore(self.where, socket_timeout=PATIENT, connect_timeout=PATIENT)


class TwoServerMachine(MemcachedMachine):
    """On two private servers: items spread by name, a namespace cleared on both."""


@pytest.fixture()
def _two_servers() -> Iterator[str]:
    servers = [MemcachedServer().start(), MemcachedServer().start()]
    yield ";".join(server.address for server in servers)
    for server in servers:
        server.stop()


TestMemcachedConformance = machine_case(
    MemcachedMachine, "memcached_servers", examples=25, steps=20
)
TestTwoServerConformance = machine_case(TwoServerMachine, "_two_servers", examples=10, steps=20)


# -- one command per hit -------------------------------------------------------------------------


def test_a_hit_is_exactly_one_get_of_one_item(private_memcached: MemcachedServer) -> None:
    store = MemcachedStore(private_memcached.address)
    cache = compose(store, lock=NullLock(), namespace="hits")
    cache.set("k", {"a": 1})
    cache.set("long " * 80, "hashed")
    assert cache.get("k") == {"a": 1}  # warm the pool
    before = private_memcached.gets_and_sets()
    for _ in range(10):
        assert store.get("hits", "k") is not None
        assert cache.get("k") == {"a": 1}
        assert cache.get("long " * 80) == "hashed"
    assert delta(before, private_memcached.gets_and_sets()) == {
        "get": 30,
        "hit+miss": 30,
        "set": 0,
    }
    before = private_memcached.gets_and_sets()
    assert cache.get("absent") is MISSING
    assert delta(before, private_memcached.gets_and_sets()) == {"get": 1, "hit+miss": 1, "set": 0}
    store.close()


def test_set_and_delete_are_one_command_each(private_memcached: MemcachedServer) -> None:
    store = MemcachedStore(private_memcached.address)
    store.set("w", "warm", entry())
    before = private_memcached.stats()
    store.set("w", "k", entry(ttl=100.0))
    store.delete("w", "k")
    store.delete("w", "absent")
    after = private_memcached.stats()
    assert after["cmd_set"] - before["cmd_set"] == 1
    assert after["delete_hits"] - before["delete_hits"] == 1
    assert after["delete_misses"] - before["delete_misses"] == 1
    assert after["cmd_get"] == before["cmd_get"]
    store.close()


# -- item names ------------------------------------------------------------------------------------

UNSAFE_KEYS = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(" \t\r\n\x00\x01\x7f#%:é€"), max_size=10),
    st.integers(240, 400).map(lambda n: "k" * n),
)


def _is_valid_memcached_name(name: str) -> bool:
    raw = name.encode("ascii")  # raises if not ASCII
    return 0 < len(raw) <= MAX_NAME and all(0x21 <= byte <= 0x7E for byte in raw)


@settings(max_examples=60, deadline=None)
@given(key=UNSAFE_KEYS, namespace=st.text(max_size=300))
def test_any_key_and_namespace_round_trip_under_a_valid_name(
    memcached_servers: str, key: str, namespace: str
) -> None:
    store = MemcachedStore(memcached_servers)
    name = store.item_name(namespace, key)
    assert _is_valid_memcached_name(name)
    # Deterministic: another store (as in another process) computes the same name.
    assert MemcachedStore(memcached_servers).item_name(namespace, key) == name
    value = f"{namespace!r}/{key!r}".encode()
    store.set(namespace, key, entry(value, ttl=60))
    got = store.get(namespace, key)
    assert got is not None and got.value == value
    assert key in set(store.keys(namespace))
    store.delete(namespace, key)
    assert store.get(namespace, key) is None
    store.close()


def test_item_names_are_kept_percent_encoded_or_hashed(memcached_servers: str) -> None:
    store = MemcachedStore(memcached_servers, prefix="p:")
    assert store.item_name("users", "42") == "p:users:42"
    assert store.item_name("a:b", "c") == "p:a%3Ab:c"  # never equal to namespace "a", key "b:c"
    assert store.item_name("a", "b:c") == "p:a:b:c"
    sha = hashlib.sha1(b"key with spaces").hexdigest()
    assert store.item_name("users", "key with spaces") == f"p:users:#{sha}"
    # A key that looks like a digest is hashed too, so it cannot collide with one.
    assert (
        store.item_name("users", "#" + sha)
        == "p:users:#" + hashlib.sha1(("#" + sha).encode()).hexdigest()
    )
    long_ns = "n" * 300
    assert (
        store.item_name(long_ns, "k") == "p:#" + hashlib.sha1(long_ns.encode()).hexdigest() + ":k"
    )
    assert len(store.item_name("users", "k" * 249)) <= MAX_NAME


def test_a_digest_collision_is_a_miss_not_another_keys_value(
    private_memcached: MemcachedServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemcachedStore(private_memcached.address)
    store.set("ns", "key one", entry(b"one"))
    # Forge a second key's item under the first key's name: reading it must not return it.
    admin = private_memcached.admin()
    name = store.item_name("ns", "key one")
    store.set("ns", "key two", entry(b"two"))
    admin.set(name, admin.get(store.item_name("ns", "key two")))
    with caplog.at_level(logging.WARNING, logger="beaker.stores.memcached"):
        assert store.get("ns", "key one") is None
    assert "not the item of this key" in caplog.text
    store.close()


def test_corrupt_item_is_a_miss_and_a_warning(
    private_memcached: MemcachedServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemcachedStore(private_memcached.address)
    private_memcached.admin().set(store.item_name("ns", "bad"), b"not a record")
    with caplog.at_level(logging.WARNING, logger="beaker.stores.memcached"):
        assert store.get("ns", "bad") is None
    assert "'bad'" in caplog.text
    store.close()


# -- namespaces ------------------------------------------------------------------------------------

NAMES = st.text(alphabet=st.sampled_from("ab:%#{} é\x00"), max_size=6)


@settings(max_examples=30, deadline=None)
@given(
    namespaces=st.lists(NAMES, min_size=2, max_size=4, unique=True),
    keys=st.lists(NAMES, max_size=4),
)
def test_clear_and_keys_are_exact_per_namespace(
    memcached_servers: str, namespaces: list[str], keys: list[str]
) -> None:
    store = MemcachedStore(memcached_servers, prefix=fresh("layout") + ":")
    check_clear_and_keys_per_namespace(store, namespaces, keys)


def test_clear_is_seen_by_other_processes_and_spares_other_items(
    private_memcached: MemcachedServer,
) -> None:
    store = MemcachedStore(private_memcached.address)
    for i in range(1200):
        store.set("big", str(i), entry())
    store.set("other", "k", entry())
    private_memcached.admin().set("someone-elses-item", b"x")
    before = private_memcached.stats()
    # Another process clears the namespace: this one's store sees it at once.
    code = (
        "from beaker.stores.memcached import MemcachedStore;"
        f"MemcachedStore({private_memcached.address!r}).clear('big')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.getcwd())
    after = private_memcached.stats()
    assert all(store.get("big", str(i)) is None for i in range(0, 1200, 97))
    assert list(store.keys("big")) == []
    assert list(store.keys("other")) == ["k"]
    assert private_memcached.admin().get("someone-elses-item") == b"x"
    assert after["cmd_flush"] == before["cmd_flush"]  # never flush_all
    assert after["delete_hits"] - before["delete_hits"] == 1200
    store.close()


def test_clear_without_the_crawler_is_a_clear_store_error() -> None:
    server = MemcachedServer("-X").start()  # -X: metadump disabled
    try:
        store = MemcachedStore(server.address)
        store.set("ns", "k", entry())
        assert store.get("ns", "k") is not None
        with pytest.raises(StoreError, match="lru_crawler") as caught:
            store.clear("ns")
        assert not isinstance(caught.value, StoreUnavailable)
        with pytest.raises(StoreError, match="lru_crawler"):
            list(store.keys("ns"))
        store.close()
    finally:
        server.stop()


# -- expiry ------------------------------------------------------------------------------------------


def test_expire_seconds_follows_memcacheds_rules() -> None:
    assert expire_seconds(None) == 0
    assert expire_seconds(float("inf")) == 0
    assert expire_seconds(float("nan")) == 0
    assert expire_seconds(10.0) == 11  # whole seconds, rounded up, one more for the tick
    assert expire_seconds(0.2) == 2
    assert expire_seconds(0.0) == 1 and expire_seconds(-50.0) == 1
    assert expire_seconds(30 * 86_400 - 1) == 30 * 86_400
    far = expire_seconds(31 * 86_400)  # beyond 30 days: an absolute unix time
    assert abs(far - (time.time() + 31 * 86_400)) < 5
    assert expire_seconds(1e12) == 0  # beyond 2038: never


@settings(max_examples=40, deadline=None)
@given(ttl=st.floats(min_value=-1e6, max_value=1e13, allow_nan=False))
def test_expire_seconds_never_shortens_a_ttl(ttl: float) -> None:
    got = expire_seconds(ttl)
    if got == 0:
        assert ttl > 2**31 - 1 - time.time() - 10
    elif got <= 30 * 86_400:
        assert got >= ttl + 1 and got >= 1
    else:
        assert got >= time.time() + ttl


def test_ttl_beyond_30_days_is_kept_and_short_ttl_is_dropped_by_the_server(
    memcached_servers: str,
) -> None:
    store = MemcachedStore(memcached_servers)
    ns = fresh()
    # Passed as a relative 60-day TTL, memcached would read a time in 1970 and drop it at once.
    store.set(ns, "far", entry(b"far", ttl=60 * 86_400))
    store.set(ns, "never", entry(b"never"))
    store.set(ns, "past", Entry(b"past", time.time(), time.time() - 10))
    assert store.get(ns, "far") is not None
    assert store.get(ns, "never") is not None
    assert store.get(ns, "past") is not None  # kept briefly: freshness is the cache's call
    store.set(ns, "short", entry(b"short", ttl=0.2))
    for _ in range(100):  # memcached drops it within ~2 s; poll without timing assertions
        if store.get(ns, "short") is None:
            break
        time.sleep(0.05)
    assert store.get(ns, "short") is None
    store.clear(ns)
    store.close()


# -- faults and configuration --------------------------------------------------------------------


def test_unreachable_server_raises_store_unavailable_naming_it() -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    store = MemcachedStore(address, socket_timeout=0.5)
    for call in (
        lambda: store.get("ns", "k"),
        lambda: store.set("ns", "k", entry()),
        lambda: store.delete("ns", "k"),
        lambda: store.clear("ns"),
        lambda: list(store.keys("ns")),
    ):
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert caught.value.address == address and address in str(caught.value)
    cache = compose(store, lock=NullLock(), on_store_error="compute")
    assert cache.get_or_create("k", lambda: 42) == 42


def test_store_recovers_after_a_server_restart(private_memcached: MemcachedServer) -> None:
    store = MemcachedStore(private_memcached.address)
    store.set("ns", "k", entry())
    private_memcached.stop()
    with pytest.raises(StoreUnavailable):
        store.get("ns", "k")
    with pytest.raises(StoreUnavailable):
        store.set("ns", "k", entry())
    private_memcached.start()  # same port, empty
    # A pooled connection that saw the old server may fail once; then the pool has new ones.
    results = []
    for _ in range(5):
        try:
            store.set("ns", "k", entry(b"again"))
            results.append("ok")
        except StoreUnavailable:
            results.append("unavailable")
    assert results[-1] == "ok" and results.count("unavailable") <= 1
    got = store.get("ns", "k")
    assert got is not None and got.value == b"again"
    store.close()


def test_a_down_server_fails_its_own_keys_only_and_keys_never_move() -> None:
    servers = [MemcachedServer().start(), MemcachedServer().start()]
    try:
        now = [0.0]  # the breaker's clock
        breaker = CircuitBreaker(failures=5, reset_after=5.0, clock=lambda: now[0])
        store = MemcachedStore(
            ";".join(server.address for server in servers), socket_timeout=0.5, breaker=breaker
        )
        keys = [f"k{i}" for i in range(40)]
        for key in keys:
            store.set("ns", key, entry(key.encode()))
        on_first = {key for key in keys if servers[0].admin().get(store.item_name("ns", key))}
        assert 0 < len(on_first) < len(keys)  # spread over both servers
        servers[0].stop()
        for key in keys:
            if key in on_first:
                for _ in range(3):  # every call tries the server again: no silent miss
                    with pytest.raises(StoreUnavailable):
                        store.get("ns", key)
            else:
                got = store.get("ns", key)
                assert got is not None and got.value == key.encode()
        down = servers[0].address
        assert breaker.state(down) == "open" and breaker.state(servers[1].address) == "closed"
        servers[0].start()
        now[0] += 5.0  # the circuit lets a probe through, which finds the server back
        for key in on_first:  # back on the same server (empty after the restart)
            store.set("ns", key, entry(b"new"))
            assert servers[0].admin().get(store.item_name("ns", key)) is not None
        store.close()
    finally:
        for server in servers:
            server.stop()


def test_an_oversized_value_is_a_store_error_not_unavailable(
    private_memcached: MemcachedServer,
) -> None:
    store = MemcachedStore(private_memcached.address)
    store.set("ns", "small", entry(b"x"))
    before = private_memcached.stats()
    with pytest.raises(StoreError) as caught:
        store.set("ns", "big", entry(b"x" * (2 * 1024 * 1024)))  # over the 1 MB default
    assert not isinstance(caught.value, StoreUnavailable)
    # The connection whose command failed was closed, not put back in the pool...
    wait_for_connections(private_memcached, before["curr_connections"] - 1)
    assert store.get("ns", "small") is not None  # ...and the next call opens a fresh one
    after = private_memcached.stats()
    assert after["total_connections"] - before["total_connections"] == 1
    store.close()


def test_configuration_is_validated() -> None:
    with pytest.raises(ComponentTypeError):
        MemcachedStore(["127.0.0.1:11211"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        MemcachedStore("")
    with pytest.raises(ConfigError):
        MemcachedStore("host:notaport")
    with pytest.raises(ConfigError):
        MemcachedStore(prefix="has space")
    with pytest.raises(ConfigError):
        MemcachedStore(prefix="x" * 101)
    with pytest.raises(ConfigError):
        MemcachedStore(socket_timeout=0)
    with pytest.raises(ComponentTypeError):
        MemcachedStore(client=object())
    with pytest.raises(ConfigError):  # the right type, but its prefix would hide ours
        MemcachedStore(client=PooledClient(("127.0.0.1", 1), key_prefix=b"x"))
    store = MemcachedStore(" 127.0.0.1:1 ; 127.0.0.1:2 ")
    assert store.address == " 127.0.0.1:1 ; 127.0.0.1:2 "


def test_a_client_passed_in_is_used_and_left_open(private_memcached: MemcachedServer) -> None:
    client = PooledClient(("127.0.0.1", private_memcached.port), default_noreply=False)
    store = MemcachedStore(client=client)
    assert store.address == private_memcached.address
    store.set("ns", "k", entry(b"mine"))
    store.close()
    assert client.get(store.item_name("ns", "k"))[-4:] == b"mine"
    client.close()


def test_store_pickles_and_evolves_without_sharing_connections(
    private_memcached: MemcachedServer,
) -> None:
    store = MemcachedStore(private_memcached.address)
    store.set("ns", "k", entry(b"v"))
    copy = pickle.loads(pickle.dumps(store))
    assert copy == store
    got = copy.get("ns", "k")
    assert got is not None and got.value == b"v"
    other = attrs.evolve(store, prefix="other:")
    assert other.get("ns", "k") is None
    for each in (store, copy, other):
        each.close()


def test_threads_share_the_pool_without_mixing_replies(private_memcached: MemcachedServer) -> None:
    store = MemcachedStore(private_memcached.address, **MEMCACHED_PATIENT)
    before = private_memcached.stats()

    def work(worker: int) -> None:
        for i in range(300):
            key = f"{worker}-{i % 7}"
            value = f"{worker}/{i}".encode()
            store.set("threads", key, entry(value))
            got = store.get("threads", key)
            assert got is not None and got.value == value, (key, got)

    run_threads(work, 8)
    # Counted by the server: the pool opened at most one connection per thread...
    opened = private_memcached.stats()["total_connections"] - before["total_connections"]
    assert 1 <= opened <= 8, opened
    # ...close() closes them all (the server sees them go)...
    store.close()
    wait_for_connections(private_memcached, before["curr_connections"])
    # ...and the store stays usable: the next call opens a new connection.
    got = store.get("threads", "0-0")
    assert got is not None
    reopened = private_memcached.stats()["total_connections"] - before["total_connections"]
    assert reopened == opened + 1, (opened, reopened)
    store.close()


def test_a_server_that_stops_answering_times_out_as_unavailable() -> None:
    import threading

    # A socket that accepts connections (the kernel completes them) but never replies.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    address = f"127.0.0.1:{silent.getsockname()[1]}"
    store = MemcachedStore(address, socket_timeout=0.3)
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            store.get("ns", "k")
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "get() blocked on a silent server: no socket timeout"
    assert isinstance(outcome[0], StoreUnavailable) and outcome[0].address == address
    store.close()
    silent.close()
