"""RedisLock against real redis-server: the leased-lock contract of beaker.testing (exclusion
across threads and processes, dogpile protection across processes, expiry of a SIGKILLed
holder's lease), its keys on the server and its arguments."""

from __future__ import annotations

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from beaker.errors import ComponentTypeError, ConfigError, StoreUnavailable
from beaker.locks.base import Lock
from beaker.locks.redis import RedisLock
from beaker.stores.redis import RedisStore
from beaker.testing import LeasedLockSuite
from tests.network._servers import REDIS_PATIENT, fresh
from tests.network.test_redis import free_port


class TestRedisLock(LeasedLockSuite):
    """The leased-lock contract (beaker.testing), on a RedisStore for the dogpile check;
    ``test_redis_cluster.py`` runs it on the cluster."""

    logger = "beaker.locks.redis"
    lock_class: type[RedisLock] = RedisLock
    store_class: type[RedisStore] = RedisStore

    @pytest.fixture
    def url(self, redis_url: str) -> str:
        return redis_url

    @pytest.fixture
    def lock(self, url: str) -> RedisLock:
        return self.lock_class(url=url, **REDIS_PATIENT)

    @pytest.fixture
    def short_lived_lock(self, url: str) -> RedisLock:
        return self.lock_class(url=url, expire=1.5, **REDIS_PATIENT)

    @pytest.fixture
    def store(self, url: str) -> RedisStore:
        return self.store_class(url=url, **REDIS_PATIENT)


def test_is_a_cluster_scope_lock(redis_url: str) -> None:
    lock = RedisLock(url=redis_url)
    assert isinstance(lock, Lock) and lock.scope == "cluster"


def test_lease_key_carries_the_expiry(redis_url: str) -> None:
    lock = RedisLock(url=redis_url, expire=7.5)
    held = fresh("lock")
    admin = redis.Redis.from_url(redis_url)
    with lock.acquire(held):
        assert 0 < admin.pttl(lock.key_of(held)) <= 7500
    assert admin.exists(lock.key_of(held)) == 0
    admin.close()


@settings(max_examples=100, deadline=None)
@given(namespace=st.text(max_size=12), key=st.text(max_size=12))
def test_lock_of_a_cache_key_lives_on_its_namespace_slot(namespace: str, key: str) -> None:
    # The cache names locks "{len}:{namespace}:{key}"; on a cluster the lock key must hash to
    # the same slot as the store's keys of that namespace.
    lock = RedisLock(url="redis://127.0.0.1:1/0")
    store = RedisStore(url="redis://127.0.0.1:1/0")
    lock_key = lock.key_of(f"{len(namespace)}:{namespace}:{key}")
    assert key_slot(lock_key.encode()) == key_slot((store._space(namespace) + "x").encode())


def test_other_names_are_tagged_whole() -> None:
    lock = RedisLock(url="redis://127.0.0.1:1/0")
    assert lock.key_of("plain") == "beaker:lock:{plain}"
    assert lock.key_of("9:short") == "beaker:lock:{9:short}"
    assert lock.key_of("2:ab:k") == "beaker:lock:{2:ab}:k"


def test_unreachable_server_raises_store_unavailable() -> None:
    lock = RedisLock(url=f"redis://:pw@127.0.0.1:{free_port()}/0", retries=0)
    with pytest.raises(StoreUnavailable) as caught:
        lock.acquire("x", timeout=0)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [
        ({}, ConfigError, "url"),
        ({"client": object()}, ComponentTypeError, "client"),
        ({"url": "redis://h", "expire": 0}, ConfigError, "expire"),
        ({"url": "redis://h", "expire": "30"}, ConfigError, "expire"),
        ({"url": "redis://h", "max_pause": -1}, ConfigError, "max_pause"),
        ({"url": "redis://h", "prefix": "{x}"}, ConfigError, "prefix"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], error: type, argument: str) -> None:
    with pytest.raises(error) as caught:
        RedisLock(**kwargs)  # type: ignore[arg-type]
    assert argument in str(caught.value)
