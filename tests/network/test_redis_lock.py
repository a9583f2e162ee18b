"""RedisLock against real redis-server: exclusion across threads and processes, dogpile
protection across processes, expiry of a SIGKILLed holder's lease."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.synchronize
import os
import pickle
import secrets
import signal
import time
from pathlib import Path

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from beaker.caching import compose
from beaker.errors import ComponentTypeError, ConfigError, LockError, LockTimeout, StoreUnavailable
from beaker.locks.base import Lock
from beaker.locks.redis import RedisLock
from beaker.stores.redis import RedisStore
from beaker.testing import check_lock_exclusion
from tests.network.test_redis import free_port

SPAWN = multiprocessing.get_context("spawn")


def name() -> str:
    return f"lock-{secrets.token_hex(4)}"


def test_is_a_cluster_scope_lock(redis_url: str) -> None:
    lock = RedisLock(url=redis_url)
    assert isinstance(lock, Lock) and lock.scope == "cluster"


def test_excludes_threads(redis_url: str) -> None:
    check_lock_exclusion(RedisLock(url=redis_url), workers=4, rounds=15)


def test_excludes_processes(redis_url: str) -> None:
    check_lock_exclusion(RedisLock(url=redis_url), workers=4, rounds=10, processes=True)


def test_timeouts(redis_url: str) -> None:
    lock = RedisLock(url=redis_url)
    held = name()
    lease = lock.acquire(held)
    with pytest.raises(LockTimeout) as caught:
        lock.acquire(held, timeout=0)
    assert caught.value.name == held and caught.value.timeout == 0
    with pytest.raises(LockTimeout):
        lock.acquire(held, timeout=0.05)
    lease.release()
    with lock.acquire(held, timeout=0):  # free again: one try suffices
        pass
    with lock.acquire(held, timeout=None):
        pass
    lock.close()


def test_double_release_is_an_error(redis_url: str) -> None:
    lock = RedisLock(url=redis_url)
    lease = lock.acquire(name())
    lease.release()
    with pytest.raises(LockError, match="released twice"):
        lease.release()
    lock.close()


def test_an_expired_lease_does_not_release_its_successor(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    lock = RedisLock(url=redis_url, expire=0.05)
    held = name()
    first = lock.acquire(held)
    second = lock.acquire(held, timeout=30)  # waits for the first lease to expire
    with caplog.at_level(logging.WARNING, logger="beaker.locks.redis"):
        first.release()  # compare-and-delete: the token no longer matches
    assert "expired before it was released" in caplog.text
    admin = redis.Redis.from_url(redis_url)
    assert admin.exists(lock.key_of(held)) == 1  # the successor still holds it
    second.release()
    assert admin.exists(lock.key_of(held)) == 0
    admin.close()


def test_lease_key_carries_the_expiry(redis_url: str) -> None:
    lock = RedisLock(url=redis_url, expire=7.5)
    held = name()
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
    lock = RedisLock(url=redis_url, expire=3.0)
    with lock.acquire(name()):
        clone = pickle.loads(pickle.dumps(lock))
    assert clone == lock
    with clone.acquire(name(), timeout=0):
        pass
    lock.close()
    clone.close()


# -- across processes ----------------------------------------------------------------------------


def _dogpile_worker(
    url: str, namespace: str, log_path: str, barrier: multiprocessing.synchronize.Barrier
) -> None:
    cache = compose(RedisStore(url=url), lock=RedisLock(url=url), namespace=namespace)

    def creator() -> str:
        with open(log_path, "a") as log:
            log.write(f"{os.getpid()}\n")
        time.sleep(0.3)  # long enough that the others arrive while it runs
        return f"made by {os.getpid()}"

    barrier.wait()
    value = cache.get_or_create("cold", creator)
    with open(log_path + ".results", "a") as out:
        out.write(value + "\n")


def test_four_processes_on_a_cold_key_run_the_creator_once(redis_url: str, tmp_path: Path) -> None:
    log_path = str(tmp_path / "creator.log")
    namespace = name()
    barrier = SPAWN.Barrier(4)
    procs = [
        SPAWN.Process(target=_dogpile_worker, args=(redis_url, namespace, log_path, barrier))
        for _ in range(4)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    creators = Path(log_path).read_text().split()
    assert len(creators) == 1, f"creator ran in {creators}"
    results = Path(log_path + ".results").read_text().split("\n")[:-1]
    assert results == [f"made by {creators[0]}"] * 4
    RedisStore(url=redis_url).clear(namespace)


def _hold_forever(url: str, lock_name: str, expire: float, ready: str) -> None:
    RedisLock(url=url, expire=expire).acquire(lock_name)
    Path(ready).touch()
    while True:
        time.sleep(1)


def test_a_killed_holder_blocks_others_only_until_expiry(redis_url: str, tmp_path: Path) -> None:
    lock = RedisLock(url=redis_url, expire=1.5)
    held = name()
    ready = tmp_path / "ready"
    holder = SPAWN.Process(target=_hold_forever, args=(redis_url, held, 1.5, str(ready)))
    holder.start()
    try:
        for _ in range(1200):
            if ready.exists() or not holder.is_alive():
                break
            time.sleep(0.05)
        assert ready.exists(), "holder never acquired the lock"
        os.kill(holder.pid, signal.SIGKILL)  # type: ignore[arg-type]
        holder.join()
        with pytest.raises(LockTimeout):
            lock.acquire(held, timeout=0)  # the dead holder's lease is still there...
        admin = redis.Redis.from_url(redis_url)
        assert 0 < admin.pttl(lock.key_of(held)) <= 1500  # ...but the server will drop it
        admin.close()
        with lock.acquire(held, timeout=60):  # and then it is ours
            pass
    finally:
        if holder.is_alive():
            holder.kill()
            holder.join()
    lock.close()
