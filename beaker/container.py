"""Beaker's ``beaker.container`` import path; the implementation is :mod:`beaker.compat.container`."""

from beaker.compat.container import *
from beaker.compat.container import __all__, namespace_classes  # noqa: F401
