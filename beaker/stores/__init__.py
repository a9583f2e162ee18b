"""Stores: where entries live. Network stores import their client library lazily, so
``beaker.stores`` works without the optional extras installed."""

from __future__ import annotations

from typing import Any

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'beaker.stores' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
