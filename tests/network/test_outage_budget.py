"""A hung or killed server costs each call at most its time budget, and nothing once the
circuit breaker opens; the cache answers again once the server does.

The upper bounds asserted here are the components' timeout contracts (the budget, with a wide
margin for a loaded machine), not speed measurements; ``benchmarks/bench_outage.py`` prints
the figures.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterator

import pytest
import redis
import sqlalchemy as sa

from beaker.caching import Cache, compose
from beaker.errors import StoreUnavailable
from beaker.locks.memcached import MemcachedLock
from beaker.locks.redis import RedisLock
from beaker.policies import CircuitBreaker
from beaker.stores.memcached import MemcachedStore
from beaker.stores.redis import RedisStore
from beaker.stores.sqlalchemy import SQLAlchemyStore
from tests.network._blackhole import Proxy, proxy
from tests.network._servers import fresh


def _host_port(address: str) -> tuple[str, int]:
    if "://" in address:
        parts = urllib.parse.urlsplit(address)
        return parts.hostname or "127.0.0.1", parts.port or 0
    host, port = address.rsplit(":", 1)
    return host, int(port)


def _calls(cache: Cache) -> Iterator[Callable[[], object]]:
    """20 calls mixing reads and dogpile-protected creations."""
    for i in range(20):
        key = f"k{i % 4}"
        if i % 2:
            yield lambda key=key: cache.get(key)
        else:
            yield lambda key=key: cache.get_or_create(key, lambda key=key: f"made {key}")


def check_budget(cache: Cache) -> None:
    """Each call returns within 5 s, and the 20 within 10 s.

    The budgets are 0.25-0.5 s a call and nothing once the breaker is open (about 1.5 s for
    the 20); the bounds are ten times that, so a machine busy with other work does not fail
    them, while a hang (the kernel's TCP timeouts are minutes) still does.
    """
    started = time.monotonic()
    for call in _calls(cache):
        before = time.monotonic()
        call()
        assert time.monotonic() - before < 5.0
    assert time.monotonic() - started < 10.0


def check_recovery(cache: Cache, stored: Callable[[], bool]) -> None:
    """Calls keep being answered while the breaker's probe finds the server back, and then
    the cache writes to the server again."""
    for _ in range(400):
        assert cache.get_or_create("back", lambda: "made again") == "made again"
        try:
            if stored():
                return
        except StoreUnavailable:  # asked through the store while its circuit is still open
            pass
        time.sleep(0.05)
    raise AssertionError("the cache never wrote to the server again")


@pytest.fixture()
def redis_proxy(redis_url: str) -> Iterator[Proxy]:
    with proxy(_host_port(redis_url)) as stand_in:
        yield stand_in


def test_black_holed_redis_in_compute_mode_costs_the_budget_then_nothing(
    redis_proxy: Proxy,
) -> None:
    url = f"redis://127.0.0.1:{redis_proxy.port}/0"
    cache = compose(RedisStore(url=url), lock=RedisLock(url=url), on_store_error="compute")
    check_budget(cache)
    cache.store.close()


def test_redis_store_and_lock_on_one_connection_share_the_breaker(
    redis_proxy: Proxy, redis_url: str
) -> None:
    store = RedisStore(
        url=f"redis://127.0.0.1:{redis_proxy.port}/0", breaker=CircuitBreaker(reset_after=0.3)
    )
    lock = RedisLock(connection=store.connection)
    cache = compose(store, lock=lock, namespace=fresh(), on_store_error="compute")
    check_budget(cache)
    assert store.connection.breaker.state(store.address) == "open"
    with pytest.raises(StoreUnavailable, match="circuit open"):
        lock.acquire("x", timeout=0)  # the lock fails at once too: one circuit
    redis_proxy.mode = "forward"
    admin = redis.Redis.from_url(redis_url)
    check_recovery(cache, lambda: admin.exists(store._space(cache.name) + "back") == 1)
    admin.close()
    store.close()


def test_black_holed_memcached_costs_the_budget_then_nothing(memcached_servers: str) -> None:
    upstream = _host_port(memcached_servers.split(";")[0])
    with proxy(upstream) as stand_in:
        store = MemcachedStore(f"127.0.0.1:{stand_in.port}", breaker=CircuitBreaker(reset_after=0.3))
        lock = MemcachedLock(connection=store.connection)
        cache = compose(store, lock=lock, namespace=fresh(), on_store_error="compute")
        check_budget(cache)
        assert store.connection.breaker.state(store.address) == "open"
        stand_in.mode = "forward"
        check_recovery(cache, lambda: store.get(cache.name, "back") is not None)
        store.close()


def test_killed_postgresql_fails_fast_then_recovers(postgresql_url: str) -> None:
    url = sa.make_url(postgresql_url)
    with proxy((url.host or "127.0.0.1", url.port or 5432), mode="refuse") as stand_in:
        proxied = url.set(host="127.0.0.1", port=stand_in.port)
        store = SQLAlchemyStore(proxied, breaker=CircuitBreaker(reset_after=0.3))
        store.connection.live_engine()  # the driver's import, before the clock runs
        cache = compose(store, namespace=fresh(), on_store_error="compute")
        check_budget(cache)
        assert store.connection.breaker.state(store.address) == "open"
        with pytest.raises(StoreUnavailable, match="circuit open"):
            store.get("ns", "k")
        stand_in.mode = "forward"
        check_recovery(cache, lambda: store.get(cache.name, "back") is not None)
        store.clear(cache.name)
        store.close()
