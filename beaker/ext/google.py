"""Beaker's ``beaker.ext.google``; the implementation is :mod:`beaker.compat.ext`."""

from beaker.compat.ext import (
    GoogleContainer,
    GoogleNamespaceManager,
)

__all__ = ["GoogleContainer", "GoogleNamespaceManager"]
