"""Beaker's ``beaker.ext.sqla``; the implementation is :mod:`beaker.compat.ext`."""

from beaker.compat.ext import (
    SqlaContainer,
    SqlaNamespaceManager,
    make_cache_table,
)

__all__ = ["SqlaContainer", "SqlaNamespaceManager", "make_cache_table"]
