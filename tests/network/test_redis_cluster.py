"""RedisClusterStore and RedisClusterLock against the 3-master Redis Cluster from
`.ci/services.sh`."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
import redis.cluster
from hypothesis import given, settings
from hypothesis import strategies as st

from beaker.caching import compose
from beaker.entry import Entry
from beaker.errors import ComponentTypeError, StoreUnavailable
from beaker.locks.null import NullLock
from beaker.locks.redis import RedisClusterLock
from beaker.stores.redis import RedisClusterStore
from beaker.testing import StoreMachine
from tests.network import test_redis_lock
from tests.network._servers import PATIENT, machine_case
from tests.network.test_redis import free_port


class ClusterMachine(StoreMachine):
    where = ""

    def make_store(self) -> RedisClusterStore:
        return RedisClusterStore(
            url=self.where, socket_timeout=PATIENT, socket_connect_timeout=PATIENT
        )


TestClusterConformance = machine_case(ClusterMachine, "redis_cluster_url", examples=20, steps=20)


@pytest.fixture()
def store(redis_cluster_url: str) -> Iterator[RedisClusterStore]:
    made = RedisClusterStore(url=redis_cluster_url)
    yield made
    made.close()


@pytest.fixture()
def admin(redis_cluster_url: str) -> Iterator[redis.cluster.RedisCluster]:
    client = redis.cluster.RedisCluster.from_url(redis_cluster_url)
    yield client
    client.close()


def entry(value: bytes = b"v", ttl: float | None = None) -> Entry:
    now = time.time()
    return Entry(value, now, None if ttl is None else now + ttl)


def fresh() -> str:
    return f"ns-{secrets.token_hex(4)}"


def gets(admin: redis.cluster.RedisCluster) -> int:
    """``GET`` calls summed over the primaries (``INFO commandstats``)."""
    stats = admin.info("commandstats", target_nodes=redis.cluster.RedisCluster.PRIMARIES)
    return sum(int(node.get("cmdstat_get", {}).get("calls", 0)) for node in stats.values())


def test_namespace_keys_and_lock_share_one_slot(
    store: RedisClusterStore, admin: redis.cluster.RedisCluster
) -> None:
    lock = RedisClusterLock(connection=store.connection)
    for ns in ["users", "a:b", "x}y", "", "ünï"]:
        slots = {admin.keyslot(store._space(ns) + key) for key in ["1", "2", "k:3", "{}"]}
        slots.add(admin.keyslot(lock.key_of(f"{len(ns)}:{ns}:some-key")))
        assert len(slots) == 1, f"namespace {ns!r} spread over slots {slots}"


def test_namespaces_spread_over_all_primaries_and_clear_exactly(
    store: RedisClusterStore, admin: redis.cluster.RedisCluster
) -> None:
    names = [fresh() for _ in range(24)]
    nodes = {admin.get_node_from_key(store._space(ns)).name for ns in names}
    assert len(nodes) == 3  # the namespaces really live on different masters
    for ns in names:
        store.set_many(ns, {str(i): entry() for i in range(30)})
    store.clear(names[0])
    assert list(store.keys(names[0])) == []
    for ns in names[1:]:
        assert set(store.keys(ns)) == {str(i) for i in range(30)}
        store.clear(ns)


def test_get_many_and_set_many(store: RedisClusterStore) -> None:
    ns = fresh()
    entries = {f"k{i}": entry(f"v{i}".encode(), ttl=60.0 if i % 2 else None) for i in range(40)}
    store.set_many(ns, entries)
    assert store.get_many(ns, [*entries, "absent"]) == entries
    store.clear(ns)


def test_a_hit_is_exactly_one_get(
    store: RedisClusterStore, admin: redis.cluster.RedisCluster
) -> None:
    ns = fresh()
    cache = compose(store, lock=NullLock(), namespace=ns)
    cache.set("k", [1, 2])
    assert cache.get("k") == [1, 2]
    before = gets(admin)
    for _ in range(10):
        assert cache.get("k") == [1, 2]
    # Other clients of the shared cluster could add GETs, never remove them; the lead's
    # services run nothing else against it, so equality holds.
    assert gets(admin) - before == 10
    store.clear(ns)


@settings(max_examples=20, deadline=None)
@given(
    namespaces=st.lists(
        st.text(alphabet="ab:{}*?", max_size=5), min_size=2, max_size=3, unique=True
    ),
    keys=st.lists(st.text(alphabet="ab:{}", max_size=4), max_size=3),
)
def test_clear_is_exact_with_awkward_names(
    redis_cluster_url: str, namespaces: list[str], keys: list[str]
) -> None:
    store = RedisClusterStore(url=redis_cluster_url, prefix=f"t{secrets.token_hex(3)}:")
    try:
        for ns in namespaces:
            store.set_many(ns, {key: entry(ns.encode()) for key in keys})
        store.clear(namespaces[0])
        assert set(store.keys(namespaces[0])) == set()
        for ns in namespaces[1:]:
            assert set(store.keys(ns)) == set(keys)
            assert {k: e.value for k, e in store.get_many(ns, keys).items()} == {
                key: ns.encode() for key in keys
            }
    finally:
        for ns in namespaces:
            store.clear(ns)
        store.close()


def test_a_client_passed_in(admin: redis.cluster.RedisCluster) -> None:
    store = RedisClusterStore(client=admin, prefix="given:")
    ns = fresh()
    store.set(ns, "k", entry(b"x"))
    got = store.get(ns, "k")
    assert got is not None and got.value == b"x"
    store.clear(ns)
    store.close()
    assert admin.ping()  # ours to close, not the store's
    assert store.address.startswith("redis-cluster://127.0.0.1:")


def test_several_node_urls_as_beaker_takes_them(redis_cluster_url: str) -> None:
    admin = redis.cluster.RedisCluster.from_url(redis_cluster_url)
    urls = ",".join(f"redis://{node.name}" for node in admin.get_primaries())
    admin.close()
    store = RedisClusterStore(url=urls)
    ns = fresh()
    store.set(ns, "k", entry(b"x"))
    assert store.get(ns, "k") is not None
    store.clear(ns)
    store.close()
    dead = f"redis://:pw@127.0.0.1:{free_port()},redis://:pw@127.0.0.1:{free_port()}"
    unreachable = RedisClusterStore(url=dead, retries=0)
    assert "pw" not in unreachable.address and unreachable.address.count("redis://") == 2
    with pytest.raises(StoreUnavailable):
        unreachable.get("ns", "k")


def test_close_disconnects_every_node(
    redis_cluster_url: str, admin: redis.cluster.RedisCluster
) -> None:
    name = f"close-{secrets.token_hex(4)}"

    def connected() -> int:
        listed = admin.client_list(target_nodes=redis.cluster.RedisCluster.ALL_NODES)
        return sum(client["name"] == name for node in listed.values() for client in node)

    store = RedisClusterStore(url=f"{redis_cluster_url}?client_name={name}")
    for n in range(30):  # namespaces on every primary
        store.set(fresh(), str(n), entry(ttl=60.0))
    assert connected() >= 3
    store.close()
    assert connected() == 0  # redis-py's RedisCluster.close() alone left one per node


def test_a_standalone_client_is_refused(admin: redis.cluster.RedisCluster) -> None:
    plain = redis.Redis()
    with pytest.raises(ComponentTypeError, match="RedisCluster"):
        RedisClusterStore(client=plain)
    plain.close()


def test_unreachable_cluster_raises_store_unavailable() -> None:
    port = free_port()
    store = RedisClusterStore(url=f"redis://:pw@127.0.0.1:{port}", retries=0)
    with pytest.raises(StoreUnavailable) as caught:
        store.get("ns", "k")
    assert caught.value.address == f"redis://127.0.0.1:{port}"
    assert "pw" not in str(caught.value)


class TestRedisClusterLock(test_redis_lock.TestRedisLock):
    """The leased-lock contract (beaker.testing) on the cluster."""

    lock_class = RedisClusterLock
    store_class = RedisClusterStore

    @pytest.fixture
    def url(self, redis_cluster_url: str) -> str:
        return redis_cluster_url
