"""Redis outages: a private redis-server is killed and restarted on the same port while a
cache is in use. The store must recover by itself, and with ``on_store_error="compute"`` no
call may fail while the server is away."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from beaker.caching import compose
from beaker.entry import Entry
from beaker.errors import StoreUnavailable
from beaker.policies import CircuitBreaker
from beaker.stores.redis import RedisStore
from tests.network.test_redis import RedisServer


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[RedisServer]:
    made = RedisServer(tmp_path, password="pa:ss#1").start()
    yield made
    made.stop()


def wait_until(condition: object, what: str) -> None:
    """Poll ``condition()`` (no timing assertion: the bound only stops a hung test)."""
    for _ in range(6000):
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def test_store_recovers_by_itself_after_a_restart(server: RedisServer) -> None:
    store = RedisStore(url=server.url)
    now = time.time()
    store.set("ns", "before", Entry(b"1", now))
    assert store.get("ns", "before") is not None

    server.stop(signal.SIGKILL)
    with pytest.raises(StoreUnavailable) as caught:
        store.get("ns", "before")
    assert caught.value.address == f"redis://127.0.0.1:{server.port}/0"
    assert "pa:ss" not in str(caught.value) and "pa%3Ass" not in str(caught.value)

    server.start()  # same port, empty (no persistence)
    assert store.get("ns", "before") is None  # the same store object works again
    store.set("ns", "after", Entry(b"2", now))
    got = store.get("ns", "after")
    assert got is not None and got.value == b"2"
    store.close()


def test_compute_mode_serves_every_call_through_a_restart(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    # A short open circuit, so that the half-open probe finds the restarted server soon.
    store = RedisStore(url=server.url, retries=1, breaker=CircuitBreaker(reset_after=0.2))
    cache = compose(store, namespace="faults", on_store_error="compute")
    names = [f"beaker:{{6:faults}}:k{i}" for i in range(7)]
    results: list[tuple[str, object]] = []  # (key, value) of every call
    errors: list[BaseException] = []
    stop = threading.Event()

    def traffic() -> None:
        i = 0
        while not stop.is_set():
            key = f"k{i % 7}"
            try:
                results.append((key, cache.get_or_create(key, lambda key=key: f"value of {key}")))
            except Exception as exc:  # noqa: BLE001 - the assertion below reports it
                errors.append(exc)
            i += 1

    worker = threading.Thread(target=traffic)
    with caplog.at_level(logging.WARNING, logger="beaker.cache"):
        worker.start()
        try:
            wait_until(lambda: len(results) >= 50, "calls before the outage")
            server.stop(signal.SIGKILL)
            down_from = len(results)
            wait_until(lambda: len(results) >= down_from + 10, "calls during the outage")
            server.start()
            admin = server.admin()
            # After the restart the cache writes again: the server holds the entries anew.
            wait_until(lambda: admin.exists(*names) == 7, "entries written after the restart")
            up_from = len(results)
            wait_until(lambda: len(results) >= up_from + 50, "calls after the restart")
        finally:
            stop.set()
            worker.join()

    assert errors == []
    assert all(value == f"value of {key}" for key, value in results)
    assert "cache store unavailable" in caplog.text  # the outage was noticed and logged
    admin.close()
    store.close()
