"""Beaker's ``beaker.ext.redisnm``; the implementation is :mod:`beaker.compat.ext`."""

from beaker.compat.ext import (
    RedisNamespaceManager,
    RedisSynchronizer,
)

__all__ = ["RedisNamespaceManager", "RedisSynchronizer"]
