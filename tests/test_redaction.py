"""No secret in a repr, str, error or log line of any component built with one: passwords in
server URLs, signing and encryption keys."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from beaker.caching import compose
from beaker.errors import BeakerError
from beaker.locks.redis import RedisClusterLock, RedisLock
from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.signing import HMACSigner
from beaker.stores.memcached import MemcachedStore
from beaker.stores.redis import RedisClusterStore, RedisStore
from beaker.stores.redis_connection import RedisConnection
from beaker.stores.sql_connection import SQLAlchemyConnection
from beaker.stores.sqlalchemy import SQLAlchemyStore
from tests.network._servers import free_port

SECRET = "hunter2"

PORT = free_port()  # nothing listens there: every call fails at once
REDIS = f"redis://user:{SECRET}@127.0.0.1:{PORT}/0"
POSTGRESQL = f"postgresql+psycopg://user:{SECRET}@127.0.0.1:{PORT}/db"

BUILDERS: dict[str, Callable[[], object]] = {
    "RedisConnection": lambda: RedisConnection(REDIS),
    "RedisStore": lambda: RedisStore(url=REDIS),
    "RedisStore (query password)": lambda: RedisStore(url=f"redis://h:1/0?password={SECRET}"),
    "RedisLock": lambda: RedisLock(url=REDIS),
    "RedisClusterStore": lambda: RedisClusterStore(url=f"{REDIS},redis://:{SECRET}@h:2"),
    "RedisClusterLock": lambda: RedisClusterLock(url=REDIS),
    "SQLAlchemyConnection": lambda: SQLAlchemyConnection(POSTGRESQL),
    "SQLAlchemyStore": lambda: SQLAlchemyStore(POSTGRESQL),
    "cache on RedisStore": lambda: compose(RedisStore(url=REDIS), lock=RedisLock(url=REDIS)),
    "cache on SQLAlchemyStore": lambda: compose(SQLAlchemyStore(POSTGRESQL)),
    "cache on MemcachedStore": lambda: compose(
        MemcachedStore(f"127.0.0.1:{PORT}"),
        signer=HMACSigner(keys=[SECRET.encode() * 4]),
    ),
    "HMACSigner": lambda: HMACSigner(keys=[SECRET.encode() * 4]),
    "AESGCMEncrypter": lambda: AESGCMEncrypter(keys=[SECRET.encode() * 4]),
}


@pytest.mark.parametrize("kind", BUILDERS)
def test_no_secret_in_repr_or_str(kind: str) -> None:
    component = BUILDERS[kind]()
    assert SECRET not in repr(component) and SECRET not in str(component)


@pytest.mark.parametrize(
    "store",
    [
        lambda: RedisStore(url=REDIS),
        lambda: RedisLock(url=REDIS),
        lambda: SQLAlchemyStore(POSTGRESQL),
    ],
    ids=["RedisStore", "RedisLock", "SQLAlchemyStore"],
)
def test_no_secret_in_errors_or_logs(
    store: Callable[[], object], caplog: pytest.LogCaptureFixture
) -> None:
    part = store()
    cache = compose(part) if not isinstance(part, RedisLock) else None
    with caplog.at_level(logging.DEBUG):
        for _ in range(4):  # the breaker opens and logs it
            with pytest.raises(BeakerError) as caught:
                if cache is not None:
                    cache.get("k")
                else:
                    part.acquire("k", timeout=0)  # type: ignore[attr-defined]
            assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
            assert SECRET not in repr(caught.value.__dict__)
    assert "failed 3 times in a row" in caplog.text
    assert SECRET not in caplog.text


def test_no_secret_in_configuration_errors() -> None:
    with pytest.raises(BeakerError) as caught:
        RedisStore(url=f"http://:{SECRET}@h/0")
    assert SECRET not in str(caught.value)
    with pytest.raises(BeakerError) as caught:
        RedisStore(url=REDIS, client=object())
    assert SECRET not in str(caught.value)
    with pytest.raises(BeakerError) as caught:
        SQLAlchemyStore(POSTGRESQL, engine=object())  # type: ignore[call-arg]
    assert SECRET not in str(caught.value)
