"""RedisStore against real redis-server processes: the shared one from `.ci/services.sh`
(conformance, layout) and private ones started here (command counting, passwords), so counts
are not disturbed by anyone else's traffic.

:class:`RedisServer` is reused by the lock and fault tests.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from beaker.caching import compose
from beaker.entry import MISSING, Entry, pack_entry
from beaker.errors import ComponentTypeError, ConfigError, StoreUnavailable
from beaker.locks.async_redis import AsyncRedisLock
from beaker.locks.null import NullLock
from beaker.locks.redis import RedisLock
from beaker.stores.async_redis import AsyncRedisStore
from beaker.stores.redis import RedisStore
from beaker.stores.redis_connection import redact_url
from beaker.testing import StoreMachine
from tests.network._servers import (
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


def redis_server_bin() -> str:
    """Path of redis-server: ``BEAKER_TEST_REDIS_SERVER_BIN`` or the one on ``PATH``."""
    return server_bin("redis-server", "BEAKER_TEST_REDIS_SERVER_BIN")


class RedisServer:
    """A redis-server of our own on a loopback port, which a test may kill and restart."""

    def __init__(
        self, directory: Path, password: str | None = None, options: tuple[str, ...] = ()
    ) -> None:
        self.directory = directory
        self.password = password
        self.options = options  # more redis-server arguments
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._stats: redis.Redis | None = None  # one connection, so stats see no handshakes

    @property
    def url(self) -> str:
        auth = (
            "" if self.password is None else ":" + urllib.parse.quote(self.password, safe="") + "@"
        )
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def admin(self) -> redis.Redis:
        """A plain client for inspecting the server (not the one under test)."""
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password)

    def start(self) -> RedisServer:
        args = [
            redis_server_bin(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            *self.options,
        ]
        if self.password is not None:
            args += ["--requirepass", self.password]
        self.process = launch(args)
        admin = self.admin()
        await_answer(self.process, admin.ping, redis.ConnectionError, "redis-server", self.port)
        admin.close()
        return self

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self._stats is not None:
            self._stats.close()
            self._stats = None
        end(self.process, sig)
        self.process = None

    def commands(self) -> dict[str, int]:
        """``INFO commandstats`` as ``{command: calls}``."""
        if self._stats is None:
            self._stats = self.admin()
            self._stats.ping()
        stats = self._stats.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


def command_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Commands run between two :meth:`RedisServer.commands` snapshots (minus the INFO)."""
    delta = {name: calls - before.get(name, 0) for name, calls in after.items()}
    delta["info"] = delta.get("info", 0) - 1
    return {name: calls for name, calls in delta.items() if calls}


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


# -- conformance ---------------------------------------------------------------------------------


class RedisMachine(StoreMachine):
    where = ""

    def make_store(self) -> RedisStore:
        return RedisStore(url=self.where, socket_timeout=PATIENT, socket_connect_timeout=PATIENT)


TestRedisConformance = machine_case(RedisMachine, "redis_url", examples=25, steps=20)


# -- layout and namespaces -------------------------------------------------------------------------


NAMES = st.text(alphabet=st.sampled_from("ab:{}*?[]\\ é"), max_size=6)


@settings(max_examples=40, deadline=None)
@given(
    namespaces=st.lists(NAMES, min_size=2, max_size=4, unique=True),
    keys=st.lists(NAMES, max_size=4),
)
def test_clear_and_keys_are_exact_per_namespace(
    redis_url: str, namespaces: list[str], keys: list[str]
) -> None:
    # Glob characters, braces and separators in names must not let one namespace's SCAN
    # pattern match another's keys.
    store = RedisStore(url=redis_url, prefix=fresh("layout") + ":")
    check_clear_and_keys_per_namespace(store, namespaces, keys)


def test_key_layout_is_documented_shape(redis_url: str) -> None:
    store = RedisStore(url=redis_url, prefix="layout-test:")
    store.set("users", "42", entry())
    admin = redis.Redis.from_url(redis_url)
    try:
        assert admin.exists("layout-test:{5:users}:42") == 1
    finally:
        store.clear("users")
        admin.close()
        store.close()


def test_clear_removes_many_keys_with_scan_not_keys(private_redis: RedisServer) -> None:
    store = RedisStore(url=private_redis.url)
    store.set_many("big", {str(i): entry() for i in range(2500)})
    store.set("other", "k", entry())
    before = private_redis.commands()
    store.clear("big")
    delta = command_delta(before, private_redis.commands())
    assert list(store.keys("big")) == []
    assert list(store.keys("other")) == ["k"]
    assert delta.get("scan", 0) >= 1 and delta.get("unlink", 0) >= 5  # batches of 500
    assert "keys" not in delta and "flushdb" not in delta and "flushall" not in delta
    store.close()


# -- one round trip per hit ---------------------------------------------------------------------


def test_a_hit_is_exactly_one_get(private_redis: RedisServer) -> None:
    store = RedisStore(url=private_redis.url)
    cache = compose(store, lock=NullLock(), namespace="hits")
    cache.set("k", {"a": 1})
    assert cache.get("k") == {"a": 1}  # warm the connection
    before = private_redis.commands()
    for _ in range(10):
        assert store.get("hits", "k") is not None
        assert cache.get("k") == {"a": 1}
    assert command_delta(before, private_redis.commands()) == {"get": 20}
    store.close()


def test_a_memoized_miss_is_two_gets_and_one_set(private_redis: RedisServer) -> None:
    store = RedisStore(url=private_redis.url)
    cache = compose(store, namespace="memo")  # ThreadLock: the dogpile lock sends nothing
    calls: list[int] = []

    @cache.memoize()
    def square(n: int) -> int:
        calls.append(n)
        return n * n

    assert cache.get("warm") is MISSING  # warm the connection
    before = private_redis.commands()
    assert square(3) == 9 and calls == [3]
    assert command_delta(before, private_redis.commands()) == {"get": 2, "set": 1}
    before = private_redis.commands()
    assert square(3) == 9 and calls == [3]
    assert command_delta(before, private_redis.commands()) == {"get": 1}
    store.close()


def test_set_is_one_set_with_native_ttl(private_redis: RedisServer) -> None:
    store = RedisStore(url=private_redis.url)
    store.set("ttl", "warm", entry())
    before = private_redis.commands()
    store.set("ttl", "short", entry(ttl=100.0))
    store.set("ttl", "forever", entry())
    assert command_delta(before, private_redis.commands()) == {"set": 2}
    admin = private_redis.admin()
    assert 0 < admin.pttl("beaker:{3:ttl}:short") <= 100_000
    assert admin.pttl("beaker:{3:ttl}:forever") == -1
    admin.close()
    store.close()


def test_native_ttl_makes_the_server_drop_the_key(redis_url: str) -> None:
    store = RedisStore(url=redis_url)
    ns = fresh()
    store.set(ns, "k", entry(ttl=0.05))
    for _ in range(400):  # the server drops it after 50 ms; poll without timing assertions
        if store.get(ns, "k") is None:
            break
        time.sleep(0.01)
    assert store.get(ns, "k") is None
    store.close()


def test_expired_and_huge_ttls_are_accepted(redis_url: str) -> None:
    store = RedisStore(url=redis_url)
    ns = fresh()
    now = time.time()
    store.set(ns, "past", Entry(b"x", now, now - 10))  # already dead: kept 1 ms at most
    store.set(ns, "far", Entry(b"y", now, now + 1e15))  # beyond Redis's clock: no expiry
    store.set(ns, "inf", Entry(b"z", now, float("inf")))
    got = store.get(ns, "far")
    assert got is not None and got.expires_at == now + 1e15
    assert store.get(ns, "inf") is not None
    store.clear(ns)
    store.close()


def counting_client(server: RedisServer) -> tuple[redis.Redis, list[int]]:
    """A client of ``server`` and the list it appends 1 to at each write to its socket (a
    round trip: a pipeline sends all its commands in one write)."""
    sends: list[int] = []

    class CountingConnection(redis.Connection):
        def send_packed_command(self, command: object, check_health: bool = True) -> None:
            sends.append(1)
            super().send_packed_command(command, check_health)  # type: ignore[arg-type]

    pool = redis.ConnectionPool(
        connection_class=CountingConnection, host="127.0.0.1", port=server.port
    )
    return redis.Redis(connection_pool=pool), sends


def test_get_many_is_one_mget_and_set_many_one_round_trip(private_redis: RedisServer) -> None:
    client, sends = counting_client(private_redis)
    store = RedisStore(client=client)
    client.ping()
    entries = {f"k{i}": entry(f"v{i}".encode(), ttl=None if i % 2 else 60.0) for i in range(50)}
    before, sends[:] = private_redis.commands(), []
    store.set_many("many", entries)
    assert len(sends) == 1
    assert command_delta(before, private_redis.commands()) == {"set": 50}

    before, sends[:] = private_redis.commands(), []
    found = store.get_many("many", [*entries, "absent"])
    assert len(sends) == 1
    assert command_delta(before, private_redis.commands()) == {"mget": 1}
    assert found == entries
    assert store.get_many("many", []) == {}
    store.set_many("many", {})
    client.close()


def test_corrupt_record_is_a_miss_and_a_warning(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(url=redis_url)
    ns = fresh()
    admin = redis.Redis.from_url(redis_url)
    admin.set(f"beaker:{{{len(ns)}:{ns}}}:bad", b"not a record")
    store.set(ns, "good", entry())
    with caplog.at_level(logging.WARNING, logger="beaker.stores.redis"):
        assert store.get(ns, "bad") is None
        assert set(store.get_many(ns, ["bad", "good"])) == {"good"}
    assert "bad" in caplog.text
    store.clear(ns)
    admin.close()
    store.close()


# -- connections ----------------------------------------------------------------------------------


def test_password_with_hash_colon_at_connects(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password="p#ss:w@rd/x%y z").start()
    try:
        assert "%23" in server.url and "%40" in server.url and "%3A" in server.url
        store = RedisStore(url=server.url)
        store.set("pw", "k", entry(b"secret-value"))
        got = store.get("pw", "k")
        assert got is not None and got.value == b"secret-value"
        assert "p#ss" not in repr(store.address) and "w%40rd" not in store.address
        store.close()
        # The same URL with a wrong password is refused, naming the address only.
        wrong = RedisStore(url=server.url.replace("%23", "%24"), retries=0)
        with pytest.raises(StoreUnavailable) as caught:
            wrong.get("pw", "k")
        assert caught.value.address == f"redis://127.0.0.1:{server.port}/0"
        assert "w%40rd" not in str(caught.value) and "w@rd" not in str(caught.value)
    finally:
        server.stop()


def test_unreachable_server_raises_store_unavailable_naming_it() -> None:
    port = free_port()  # nothing listens here
    store = RedisStore(url=f"redis://user:s3cret@127.0.0.1:{port}/2", retries=1)
    for operation in (
        lambda: store.get("ns", "k"),
        lambda: store.set("ns", "k", entry()),
        lambda: store.delete("ns", "k"),
        lambda: store.clear("ns"),
        lambda: list(store.keys("ns")),
        lambda: store.get_many("ns", ["k"]),
        lambda: store.set_many("ns", {"k": entry()}),
    ):
        with pytest.raises(StoreUnavailable) as caught:
            operation()
        assert isinstance(caught.value, ConnectionError)
        assert caught.value.address == f"redis://user@127.0.0.1:{port}/2"
        assert f"127.0.0.1:{port}" in str(caught.value) and "s3cret" not in str(caught.value)
    store.close()


def test_redact_url_drops_passwords_only() -> None:
    assert redact_url("redis://:p%40ss@h:1/0") == "redis://h:1/0"
    assert redact_url("redis://u:p@h:1/0?db=2&password=x") == "redis://u@h:1/0?db=2"
    assert redact_url("rediss://h:1") == "rediss://h:1"
    assert redact_url("unix:///tmp/r.sock?db=1") == "unix:///tmp/r.sock?db=1"


def test_close_releases_the_pool_and_the_store_reconnects(private_redis: RedisServer) -> None:
    name = f"beaker-test-{secrets.token_hex(3)}"
    store = RedisStore(url=private_redis.url + f"?client_name={name}")
    admin = private_redis.admin()

    def ours() -> int:
        return sum(1 for client in admin.client_list() if client["name"] == name)

    store.set("pool", "k", entry())
    assert ours() == 1
    store.close()
    for _ in range(100):  # the server sees the disconnect asynchronously
        if ours() == 0:
            break
        time.sleep(0.02)
    assert ours() == 0
    assert store.get("pool", "k") is not None  # usable again after close
    store.close()
    admin.close()


def test_a_client_passed_in_stays_open_after_close(private_redis: RedisServer) -> None:
    client = private_redis.admin()
    store = RedisStore(client=client, prefix="mine:")
    store.set("c", "k", entry())
    store.close()
    assert client.ping() is True
    assert store.get("c", "k") is not None
    client.close()


def test_derived_caches_share_one_client(redis_url: str) -> None:
    import attrs

    store = RedisStore(url=redis_url)
    cache = compose(store, namespace=fresh())
    for derived in (cache.namespace(fresh()), cache.evolve(lock=NullLock())):
        assert derived.store.live_client() is store.live_client()
    copy = attrs.evolve(store, socket_timeout=1.0)  # other options: its own client
    assert copy.live_client() is not store.live_client()
    store.close()
    copy.close()


def test_store_with_url_is_picklable_without_its_connections(redis_url: str) -> None:
    import pickle

    store = RedisStore(url=redis_url)
    store.set("pickle", "k", entry())
    clone = pickle.loads(pickle.dumps(store))
    assert clone == store and clone.live_client() is not store.live_client()
    assert clone.get("pickle", "k") is not None
    store.clear("pickle")
    store.close()
    clone.close()


# -- validation ------------------------------------------------------------------------------------


def test_exactly_one_of_url_and_client(redis_url: str) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        RedisStore()
    client = redis.Redis.from_url(redis_url)
    with pytest.raises(ConfigError, match="exactly one"):
        RedisStore(url=redis_url, client=client)
    client.close()


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [
        ({"url": 6379}, ComponentTypeError, "url"),
        ({"url": "http://127.0.0.1:6379"}, ConfigError, "url"),
        ({"client": "redis://127.0.0.1"}, ComponentTypeError, "client"),
        ({"url": "redis://127.0.0.1", "prefix": 1}, ComponentTypeError, "prefix"),
        ({"url": "redis://127.0.0.1", "prefix": "a{b"}, ConfigError, "prefix"),
        ({"url": "redis://127.0.0.1", "socket_timeout": 0}, ConfigError, "socket_timeout"),
        ({"url": "redis://127.0.0.1", "retries": -1}, ConfigError, "retries"),
        ({"url": "redis://127.0.0.1", "retries": 1.5}, ConfigError, "retries"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], error: type, argument: str) -> None:
    with pytest.raises(error) as caught:
        RedisStore(**kwargs)  # type: ignore[arg-type]
    assert argument in str(caught.value)


def test_a_client_that_decodes_responses_is_refused(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ComponentTypeError, match="decode_responses=False"):
        RedisStore(client=client)
    client.close()


def test_records_are_pack_entry_bytes(redis_url: str) -> None:
    store = RedisStore(url=redis_url)
    ns = fresh()
    item = entry(b"payload", ttl=30.0)
    store.set(ns, "k", item)
    admin = redis.Redis.from_url(redis_url)
    assert admin.get(f"beaker:{{{len(ns)}:{ns}}}:k") == pack_entry(item)
    store.clear(ns)
    admin.close()
    store.close()


def test_private_server_helper_stops(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    server.stop(signal.SIGTERM)
    with pytest.raises(StoreUnavailable):
        RedisStore(url=server.url, retries=0).get("x", "y")


def test_compare_and_set_loads_its_script_on_a_server_without_it(
    private_redis: RedisServer,
) -> None:
    # The store runs its scripts by SHA-1; a server that has never seen them (or flushed
    # them) gets the script itself, and the compare still holds.
    store = RedisStore(url=private_redis.url)
    namespace = fresh()
    for _ in range(2):
        private_redis.admin().script_flush()
        entry, version = store.get_versioned(namespace, "k")
        assert entry is None
        assert store.compare_and_set(namespace, "k", Entry(b"one", time.time(), None), version)
        assert not store.compare_and_set(namespace, "k", Entry(b"two", time.time(), None), version)
        _, version = store.get_versioned(namespace, "k")
        private_redis.admin().script_flush()
        assert store.compare_and_delete(namespace, "k", version)
    store.close()


def test_every_script_runs_by_sha_and_survives_script_flush(private_redis: RedisServer) -> None:
    # The locks' release and the async store's scripts share the sync store's LuaScript: one
    # EVALSHA a call, the script itself (EVAL) only where the server lost it.
    lock = RedisLock(url=private_redis.url)
    async_lock = AsyncRedisLock(connection=lock.connection)
    async_store = AsyncRedisStore(url=private_redis.url)
    namespace = fresh()

    async def async_round() -> None:
        lease = await async_lock.acquire("n")
        private_redis.admin().script_flush()
        await lease.release()
        entry, version = await async_store.get_versioned(namespace, "k")
        assert entry is None
        assert await async_store.compare_and_set(namespace, "k", Entry(b"a", time.time()), version)
        _, version = await async_store.get_versioned(namespace, "k")
        private_redis.admin().script_flush()
        assert await async_store.compare_and_delete(namespace, "k", version)
        await async_store.close()
        await async_lock.close()

    for _ in range(2):
        lease = lock.acquire("n")
        private_redis.admin().script_flush()
        lease.release()
        assert lock.acquire("n", timeout=0).release() is None  # the name was freed
        asyncio.run(async_round())
    lock.acquire("n").release()  # the server knows the release script again
    before = private_redis.commands()
    for _ in range(3):
        lock.acquire("n").release()
    spent = command_delta(before, private_redis.commands())
    assert spent == {"set": 3, "evalsha": 3, "get": 3, "del": 3}, spent  # GET, DEL: the script's
    lock.close()
