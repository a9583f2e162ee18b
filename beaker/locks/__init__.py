"""Locks: named mutual exclusion for dogpile protection, each with its scope."""

from __future__ import annotations

from typing import Any

from beaker.locks.base import Lease, Lock, Scope
from beaker.locks.null import NullLock
from beaker.locks.thread import ThreadLock

_LAZY = {
    "FileLock": "beaker.locks.file",
    "RedisLock": "beaker.locks.redis",
    "RedisClusterLock": "beaker.locks.redis",
    "MemcachedLock": "beaker.locks.memcached",
}

__all__ = [
    "FileLock",
    "Lease",
    "Lock",
    "MemcachedLock",
    "NullLock",
    "RedisClusterLock",
    "RedisLock",
    "Scope",
    "ThreadLock",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'beaker.locks' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
