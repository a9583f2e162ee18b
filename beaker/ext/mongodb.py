"""Beaker's ``beaker.ext.mongodb``; the implementation is :mod:`beaker.compat.ext`."""

from beaker.compat.ext import (
    MongoNamespaceManager,
)

__all__ = ["MongoNamespaceManager"]
