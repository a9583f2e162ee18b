"""Beaker's ``beaker.ext.redisclusternm``; the implementation is :mod:`beaker.compat.ext`."""

from beaker.compat.ext import (
    RedisClusterNamespaceManager,
    RedisClusterSynchronizer,
)

__all__ = ["RedisClusterNamespaceManager", "RedisClusterSynchronizer"]
