"""Locks: named mutual exclusion for dogpile protection, each with its scope."""

from __future__ import annotations

from beaker.lazy_attributes import lazy_getattr
from beaker.locks.base import AsyncLease, AsyncLock, Lease, Lock, Scope
from beaker.locks.loop import AsyncioLock
from beaker.locks.null import AsyncNullLock, NullLock
from beaker.locks.thread import ThreadLock

_LAZY = {
    "AsyncRedisLock": "beaker.locks.async_redis",
    "AsyncMemcachedLock": "beaker.locks.async_memcached",
    "AsyncRedisClusterLock": "beaker.locks.async_redis",
    "AsyncFileLock": "beaker.locks.file",
    "FileLock": "beaker.locks.file",
    "RedisLock": "beaker.locks.redis",
    "RedisClusterLock": "beaker.locks.redis",
    "MemcachedLock": "beaker.locks.memcached",
}

__all__ = [
    "AsyncFileLock",
    "AsyncLease",
    "AsyncLock",
    "AsyncMemcachedLock",
    "AsyncNullLock",
    "AsyncRedisClusterLock",
    "AsyncRedisLock",
    "AsyncioLock",
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
