"""NearCache in front of the network stores: coherent on Redis and Redis Cluster through CLIENT
TRACKING, on both fronts (another process's writes, deletes and invalidations reach this
process's tier; a killed tracking connection, on a cluster any node's, flushes it and reads
bypass it until it is back), a short TTL on memcached and SQL, and the store conformance
machine over a near tier on Redis."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import settings

from beaker.caching import compose
from beaker.entry import MISSING, Entry
from beaker.errors import ComponentTypeError, ConfigError
from beaker.stores import MemoryStore
from beaker.stores.async_redis import AsyncRedisStore
from beaker.stores.memcached import MemcachedStore
from beaker.stores.near import NearCache, NearStore
from beaker.stores.redis import RedisClusterStore, RedisStore
from beaker.stores.sqlalchemy import SQLAlchemyStore
from beaker.testing import FakeClock, StoreMachine
from beaker.testing.near import check_near_coherence, check_near_invalidation, wait_for
from tests.network._servers import REDIS_PATIENT, free_port, fresh
from tests.network.test_redis import RedisServer, command_delta, private_redis  # noqa: F401


def test_redis_tier_follows_another_process(redis_url: str) -> None:
    check_near_coherence(functools.partial(RedisStore, url=redis_url, prefix=fresh("near") + ":"))


def test_async_redis_tier_follows_a_sync_process_and_an_async_one(redis_url: str) -> None:
    prefix = fresh("near") + ":"
    asynchronous = functools.partial(AsyncRedisStore, url=redis_url, prefix=prefix)
    check_near_coherence(asynchronous, functools.partial(RedisStore, url=redis_url, prefix=prefix))
    check_near_coherence(asynchronous)
    check_near_invalidation(asynchronous)


def test_cluster_tier_follows_another_process(redis_cluster_url: str) -> None:
    make = functools.partial(RedisClusterStore, url=redis_cluster_url, prefix=fresh("near") + ":")
    check_near_coherence(make)
    check_near_invalidation(make)


@pytest.fixture()
def two_node_cluster(tmp_path: Path) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """A private Redis Cluster: the first node holds every slot, the second none (yet)."""
    servers, buses = [], [free_port(), free_port()]
    try:
        for name, bus in zip(("first", "second"), buses):
            (tmp_path / name).mkdir()
            options = ("--cluster-enabled", "yes", "--cluster-port", str(bus))
            servers.append(RedisServer(tmp_path / name, options=options).start())
        first, second = (server.admin() for server in servers)
        first.execute_command("CLUSTER ADDSLOTSRANGE", 0, 16383)
        first.execute_command("CLUSTER MEET", "127.0.0.1", servers[1].port, buses[1])
        for node in (first, second):
            wait_for(
                lambda node=node: node.cluster("INFO")["cluster_known_nodes"] == "2"
                and node.cluster("INFO")["cluster_state"] == "ok",
                "the cluster's forming",
                20,
            )
        yield first, second
        first.close()
        second.close()
    finally:
        for server in servers:
            server.stop()


def test_a_cluster_tier_follows_a_slot_moved_to_a_new_primary(
    two_node_cluster: tuple[redis.Redis, redis.Redis],
) -> None:
    # A copy read from a primary the tracking thread does not follow yet must not stay stale,
    # even while the tracked connections are never quiet (another key keeps changing): the
    # thread asks the cluster for its primaries by itself and tracks the new one.
    first, second = two_node_cluster
    url = f"redis://127.0.0.1:{first.connection_pool.connection_kwargs['port']}/0"
    prefix = fresh("near") + ":"
    cache = compose(RedisClusterStore(url=url, prefix=prefix), near=NearCache())
    writer = compose(RedisClusterStore(url=url, prefix=prefix))
    near: Any = cache.store
    writer.set("k", "one")
    assert cache.get("k") == "one"
    wait_for(lambda: near.coherent, "tracking")
    assert len(near.tracking) == 1  # only the first node holds slots
    (name,) = first.keys(prefix + "*")
    slot = first.execute_command("CLUSTER KEYSLOT", name)
    chatter = writer.namespace("chatter")  # another slot, which stays on the first node
    stop = threading.Event()

    def chat() -> None:
        while not stop.wait(0.2):
            chatter.set("c", time.time())

    talker = threading.Thread(target=chat)
    talker.start()
    try:
        ids = [node.execute_command("CLUSTER MYID") for node in (first, second)]
        second.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[0])
        first.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[1])
        first.migrate("127.0.0.1", second.connection_pool.connection_kwargs["port"], name, 0, 5000)
        for node in (first, second):
            node.execute_command("CLUSTER SETSLOT", slot, "NODE", ids[1])
        wait_for(lambda: len(near) == 0, "the migration's invalidation")
        assert cache.get("k") == "one"  # a MOVED: the copy now comes from the second node
        writer.set("k", "two")  # on the second node, which the thread does not track yet
        wait_for(lambda: cache.get("k") == "two", "the new primary's write", 30)
        wait_for(lambda: len(near.tracking) == 2, "tracking both primaries", 30)
    finally:
        stop.set()
        talker.join()
        near.close()  # its tracking thread stops before the private cluster does


def test_a_cluster_tier_tracks_every_primary_and_a_killed_one_flushes_it(
    redis_cluster_url: str,
) -> None:
    prefix = fresh("near") + ":"
    cache = compose(RedisClusterStore(url=redis_cluster_url, prefix=prefix), near=NearCache())
    writer = compose(RedisClusterStore(url=redis_cluster_url, prefix=prefix))
    near: Any = cache.store
    cache.get("warm")
    wait_for(lambda: near.coherent, "tracking")
    primaries = near.remote.live_client().get_primaries()
    links = near.tracking
    assert len(links) == len(primaries) > 1  # one tracking connection per primary
    # One key per namespace: namespaces hash to different slots, so to different nodes.
    spaces = [cache.namespace(f"n{number}") for number in range(12)]
    for space in spaces:
        writer.namespace(space.name).set("k", "one")

    def copied(value: str) -> bool:
        return all(space.get("k") == value for space in spaces) and len(near) == len(spaces)

    wait_for(lambda: copied("one"), "copies of every key")
    for space in spaces:
        writer.namespace(space.name).set("k", "two")
    wait_for(lambda: copied("two"), "every node's messages")
    address, client_id = links[-1]
    host, port = address.rsplit(":", 1)
    node = redis.Redis(host=host, port=int(port))
    node.client_kill_filter(_id=client_id)
    node.close()
    wait_for(lambda: near.tracking != links, "the flush after the kill", 20)
    for space in spaces:
        writer.namespace(space.name).set("k", "three")
    assert all(space.get("k") == "three" for space in spaces)  # never a stale copy
    wait_for(lambda: near.coherent and len(near.tracking) == len(links), "reconnection", 20)
    assert all(space.get("k") == "three" for space in spaces)
    near.close()


def test_killing_the_tracking_connection_flushes_and_bypasses(
    private_redis: RedisServer,  # noqa: F811
) -> None:
    cache = compose(RedisStore(url=private_redis.url), near=NearCache(), metrics=True)
    writer = compose(RedisStore(url=private_redis.url))
    near: Any = cache.store
    cache.get("warm")
    wait_for(lambda: near.coherent, "tracking")
    writer.set("k", "one")
    wait_for(lambda: cache.get("k") == "one" and len(near) == 1, "a kept copy")
    first_id = near.tracking_id
    private_redis.admin().client_kill_filter(_id=first_id)
    wait_for(lambda: len(near) == 0, "the flush after the kill", 20)
    # Offline or already back on a new connection: either way no stale copy is served.
    writer.set("k", "two")
    assert cache.get("k") == "two"
    wait_for(lambda: near.coherent and near.tracking_id != first_id, "reconnection", 20)
    assert cache.get("k") == "two"
    before = private_redis.commands()
    assert cache.get("k") == "two"  # a near hit: no command
    assert command_delta(before, private_redis.commands()) == {}
    assert cache.stats().near_hits >= 1
    near.close()


def test_a_hit_sends_nothing_to_redis(private_redis: RedisServer) -> None:  # noqa: F811
    cache = compose(RedisStore(url=private_redis.url), near=NearCache(max_entries=10))
    near: Any = cache.store
    wait_for(lambda: near.coherent, "tracking")
    seq = near._live().seq
    cache.set("k", 1)  # two local drops, then the write's own invalidation message
    wait_for(lambda: near._live().seq >= seq + 3, "the write's own invalidation message")
    assert cache.get("k") == 1
    before = private_redis.commands()
    for _ in range(20):
        assert cache.get("k") == 1
    assert command_delta(before, private_redis.commands()) == {}
    near.close()


@pytest.mark.parametrize("kind", ["memcached", "sqlite"])
def test_without_invalidation_copies_live_ttl_seconds(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "memcached":
        make: Any = functools.partial(
            MemcachedStore, request.getfixturevalue("memcached_servers"), prefix=fresh() + ":"
        )
    else:
        make = functools.partial(SQLAlchemyStore, f"sqlite:///{tmp_path}/near.db")
    clock = FakeClock(0.0)
    namespace = fresh()
    reader = compose(make(), near=NearCache(ttl=2.0, clock=clock), namespace=namespace)
    writer = compose(make(), namespace=namespace)
    writer.set("k", "one")
    assert reader.get("k") == "one"
    writer.set("k", "two")
    assert reader.get("k") == "one"  # within the TTL: the copy
    clock.advance(2.5)
    assert reader.get("k") == "two"
    reader.store.close()
    writer.store.close()


def test_bounds(tmp_path: Path) -> None:
    store = NearCache(max_entries=3, clock=FakeClock(0.0)).over(MemoryStore())
    cache = compose(store)
    for number in range(5):
        cache.set(str(number), number)
        cache.get(str(number))
    assert len(store) == 3  # type: ignore[arg-type]
    lru: Any = NearCache(max_entries=2).over(MemoryStore())
    for key in ("a", "b"):
        lru.set("n", key, Entry(key, 0.0))
        lru.get("n", key)
    lru.get("n", "a")  # "a" used last: "b" is the least recently used
    lru.set("n", "c", Entry("c", 0.0))
    lru.get("n", "c")
    assert sorted(key for _, key in lru._live().data) == ["a", "c"]
    sized: Any = NearCache(max_bytes=100).over(
        SQLAlchemyStore(f"sqlite:///{tmp_path}/bounds.db")  # bytes values: counted
    )
    byte_cache = compose(sized)
    for number in range(10):
        byte_cache.set(str(number), "x" * 20)
        byte_cache.get(str(number))
    assert 0 < len(sized) < 10
    with pytest.raises(ConfigError):
        NearCache(max_entries=0)
    with pytest.raises(ComponentTypeError):
        compose(MemoryStore(), near="near")  # type: ignore[arg-type]


class NearRedisMachine(StoreMachine):
    url = ""

    def make_store(self) -> NearStore:
        return NearCache().over(RedisStore(url=self.url, prefix=fresh("nm") + ":", **REDIS_PATIENT))  # type: ignore[return-value]


@pytest.fixture()
def _machine_url(redis_url: str) -> None:
    NearRedisMachine.url = redis_url


TestNearRedisConformance = pytest.mark.usefixtures("_machine_url")(NearRedisMachine.TestCase)
TestNearRedisConformance.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)


def test_missing_stays_missing(redis_url: str) -> None:
    cache = compose(RedisStore(url=redis_url, prefix=fresh() + ":"), near=NearCache())
    assert cache.get("absent") is MISSING
    cache.store.close()


def _child_reads(cache: Any, pipe: Any) -> None:
    near = cache.store
    wait_for(lambda: near.coherent, "tracking in the child")
    pipe.send(cache.get("k"))
    wait_for(lambda: len(near) == 1 or cache.get("k") != "one", "a kept copy in the child")
    pipe.send("kept")
    wait_for(lambda: cache.get("k") == "two", "the invalidation in the child")
    pipe.send(cache.get("k"))


def test_a_forked_child_follows_on_its_own(redis_url: str) -> None:
    import multiprocessing

    prefix = fresh("fork") + ":"
    cache = compose(RedisStore(url=redis_url, prefix=prefix), near=NearCache())
    writer = compose(RedisStore(url=redis_url, prefix=prefix))
    near: Any = cache.store
    writer.set("k", "one")
    wait_for(lambda: near.coherent and cache.get("k") == "one" and len(near) == 1, "a copy")
    here, there = multiprocessing.get_context("fork").Pipe()
    child = multiprocessing.get_context("fork").Process(target=_child_reads, args=(cache, there))
    child.start()
    assert here.recv() == "one"
    assert here.recv() == "kept"
    writer.set("k", "two")
    assert here.recv() == "two"
    child.join(30)
    assert child.exitcode == 0
    near.close()
