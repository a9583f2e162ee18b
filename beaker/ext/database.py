"""Beaker's ``beaker.ext.database``; the implementation is :mod:`beaker.compat.ext`."""

from beaker.compat.ext import (
    DatabaseContainer,
    DatabaseNamespaceManager,
)

__all__ = ["DatabaseContainer", "DatabaseNamespaceManager"]
