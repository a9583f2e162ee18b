"""Batch methods on the network stores: Cache.get_many of 100 keys is one Redis command (counted
on a private server), one statement on SQL (counted by SQLAlchemy's cursor event), and the
memcached batches agree with the single-key methods."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from beaker.caching import compose
from beaker.stores.memcached import MemcachedStore
from beaker.stores.redis import RedisStore
from beaker.stores.sqlalchemy import SQLAlchemyStore
from tests.network._servers import fresh
from tests.network.test_redis import RedisServer, command_delta, private_redis  # noqa: F401


def test_get_many_of_100_keys_is_one_redis_command(
    private_redis: RedisServer,  # noqa: F811
) -> None:
    cache = compose(RedisStore(url=private_redis.url), namespace=fresh())
    values = {f"k{i}": i for i in range(100)}
    cache.get("warm")  # the connection's handshake, before counting
    before = private_redis.commands()
    cache.set_many(values, ttl=60)
    assert command_delta(before, private_redis.commands()) == {"set": 100}  # one pipeline
    before = private_redis.commands()
    assert cache.get_many(values) == values
    assert command_delta(before, private_redis.commands()) == {"mget": 1}
    before = private_redis.commands()
    cache.delete_many(values)
    assert command_delta(before, private_redis.commands()) == {"unlink": 1}
    assert cache.get_many(values) == {}


def test_sql_batches_are_one_statement_each(tmp_path: Path) -> None:
    store = SQLAlchemyStore(f"sqlite:///{tmp_path / 'batch.db'}")
    cache = compose(store, namespace=fresh())
    cache.set("warm", 0)  # creates the table before counting
    engine = store.connection.live_engine()
    statements: list[str] = []

    def record(conn: object, cursor: object, sql: str, *rest: object) -> None:
        if sql.split(None, 1)[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            statements.append(sql)  # not the transaction's BEGIN/COMMIT

    sa.event.listen(engine, "before_cursor_execute", record)
    values = {f"k{i}": i for i in range(100)}
    cache.set_many(values)
    assert len(statements) == 1, statements
    statements.clear()
    assert cache.get_many([*values, "absent"]) == values
    assert len(statements) == 1 and " IN " in statements[0].upper()
    statements.clear()
    cache.delete_many(values)
    assert len(statements) == 1
    assert cache.get_many(values) == {}


def test_memcached_batches(memcached_servers: str) -> None:
    store = MemcachedStore(memcached_servers)
    cache = compose(store, namespace=fresh())
    values = {f"k{i}": i for i in range(50)} | {"a key with spaces": "s", "ü" * 300: "long"}
    cache.set_many(values, ttl=60)
    assert cache.get_many([*values, "absent"]) == values
    assert cache.get("a key with spaces") == "s"
    cache.delete_many(["k1", "ü" * 300])
    assert set(cache.get_many(values)) == set(values) - {"k1", "ü" * 300}
    store.close()
