"""Stores: where entries live. Network stores import their client library lazily, so
``beaker.stores`` works without the optional extras installed."""

from __future__ import annotations

from beaker.lazy_attributes import lazy_getattr
from beaker.stores.base import AsyncStore, AsyncVersionedStore, Store, VersionedStore
from beaker.stores.memory import AsyncMemoryStore, MemoryStore

_LAZY = {
    "AsyncRedisStore": "beaker.stores.async_redis",
    "AsyncRedisClusterStore": "beaker.stores.async_redis",
    "AsyncSQLAlchemyStore": "beaker.stores.async_sqlalchemy",
    "AsyncMemcachedStore": "beaker.stores.async_memcached",
    "AsyncFileStore": "beaker.stores.file",
    "AsyncDBMStore": "beaker.stores.dbm",
    "FileStore": "beaker.stores.file",
    "DBMStore": "beaker.stores.dbm",
    "RedisStore": "beaker.stores.redis",
    "RedisClusterStore": "beaker.stores.redis",
    "RedisConnection": "beaker.stores.redis_connection",
    "RedisClusterConnection": "beaker.stores.redis_connection",
    "MemcachedStore": "beaker.stores.memcached",
    "MemcachedConnection": "beaker.stores.memcached_connection",
    "NearCache": "beaker.stores.near",
    "NearStore": "beaker.stores.near",
    "SQLAlchemyStore": "beaker.stores.sqlalchemy",
    "SQLAlchemyConnection": "beaker.stores.sql_connection",
}

__all__ = [
    "AsyncDBMStore",
    "AsyncFileStore",
    "AsyncMemcachedStore",
    "AsyncMemoryStore",
    "AsyncRedisClusterStore",
    "AsyncRedisStore",
    "AsyncSQLAlchemyStore",
    "AsyncStore",
    "AsyncVersionedStore",
    "DBMStore",
    "FileStore",
    "MemcachedConnection",
    "MemcachedStore",
    "MemoryStore",
    "NearCache",
    "NearStore",
    "RedisClusterConnection",
    "RedisClusterStore",
    "RedisConnection",
    "RedisStore",
    "SQLAlchemyConnection",
    "SQLAlchemyStore",
    "Store",
    "VersionedStore",
]


__getattr__ = lazy_getattr("beaker.stores", _LAZY)
