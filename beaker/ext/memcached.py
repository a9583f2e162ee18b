"""Beaker's ``beaker.ext.memcached``; the implementation is :mod:`beaker.compat.ext`."""

from beaker.compat.ext import (
    MemcachedContainer,
    MemcachedNamespaceManager,
    PyLibMCNamespaceManager,
)

__all__ = ["MemcachedContainer", "MemcachedNamespaceManager", "PyLibMCNamespaceManager"]
