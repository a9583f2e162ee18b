"""Locks: named mutual exclusion for dogpile protection, each with its scope."""

from __future__ import annotations

from beaker._lazy import lazy_getattr
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


__getattr__ = lazy_getattr("beaker.locks", _LAZY)
