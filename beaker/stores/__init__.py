"""Stores: where entries live. Network stores import their client library lazily, so
``beaker.stores`` works without the optional extras installed."""

from __future__ import annotations

from beaker._lazy import lazy_getattr
from beaker.stores.base import Store
from beaker.stores.memory import MemoryStore

_LAZY = {
    "FileStore": "beaker.stores.file",
    "DBMStore": "beaker.stores.dbm",
    "RedisStore": "beaker.stores.redis",
    "RedisClusterStore": "beaker.stores.redis",
    "MemcachedStore": "beaker.stores.memcached",
    "SQLAlchemyStore": "beaker.stores.sqlalchemy",
}

__all__ = [
    "DBMStore",
    "FileStore",
    "MemcachedStore",
    "MemoryStore",
    "RedisClusterStore",
    "RedisStore",
    "SQLAlchemyStore",
    "Store",
]


__getattr__ = lazy_getattr("beaker.stores", _LAZY)
