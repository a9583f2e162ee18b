"""RedisLock against real redis-server: exclusion across threads and processes, dogpile
protection across processes, expiry of a SIGKILLed holder's lease."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from beaker.errors import ComponentTypeError, ConfigError, LockTimeout, StoreUnavailable
from beaker.locks.base import Lock
from beaker.locks.redis import RedisLock
from beaker.stores.redis import RedisStore
from beaker.testing import check_lock_exclusion
from tests.network import _lease_checks as checks
from tests.network.test_redis import free_port


def test_is_a_cluster_scope_lock(redis_url: str) -> None:
    lock = RedisLock(url=redis_url)
    assert isinstance(lock, Lock) and lock.scope == "cluster"


def test_excludes_threads(redis_url: str) -> None:
    check_lock_exclusion(RedisLock(url=redis_url), workers=4, rounds=15)


def test_excludes_processes(redis_url: str) -> None:
    check_lock_exclusion(RedisLock(url=redis_url), workers=4, rounds=10, processes=True)


def test_timeouts(redis_url: str) -> None:
    lock = RedisLock(url=redis_url)
    checks.check_timeouts(lock)
    lock.close()


def test_double_release_is_an_error(redis_url: str) -> None:
    lock = RedisLock(url=redis_url)
    checks.check_double_release(lock)
    lock.close()


def test_an_expired_lease_does_not_release_its_successor(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    lock = RedisLock(url=redis_url, expire=0.05)
    admin = redis.Redis.from_url(redis_url)
    checks.check_expired_lease_keeps_successor(
        lock, "beaker.locks.redis", caplog, lambda held: admin.exists(lock.key_of(held)) == 1
    )
    admin.close()


def test_lease_key_carries_the_expiry(redis_url: str) -> None:
    lock = RedisLock(url=redis_url, expire=7.5)
    held = checks.name()
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


def test_pickles_without_connections(redis_url: str) -> None:
    checks.check_pickles_without_connections(RedisLock(url=redis_url, expire=3.0))


# -- across processes ----------------------------------------------------------------------------


def test_four_processes_on_a_cold_key_run_the_creator_once(redis_url: str, tmp_path: Path) -> None:
    namespace = checks.name()
    checks.check_creator_runs_once_across_processes(
        RedisStore(url=redis_url), RedisLock(url=redis_url), namespace, tmp_path
    )
    RedisStore(url=redis_url).clear(namespace)


def test_a_killed_holder_blocks_others_only_until_expiry(redis_url: str, tmp_path: Path) -> None:
    lock = RedisLock(url=redis_url, expire=1.5)
    held = checks.name()
    with checks.killed_holder(lock, held, tmp_path):
        with pytest.raises(LockTimeout):
            lock.acquire(held, timeout=0)  # the dead holder's lease is still there...
        admin = redis.Redis.from_url(redis_url)
        assert 0 < admin.pttl(lock.key_of(held)) <= 1500  # ...but the server will drop it
        admin.close()
        with lock.acquire(held, timeout=60):  # and then it is ours
            pass
    lock.close()
