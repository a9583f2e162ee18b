"""Beaker's ``beaker.cache`` import path; the implementation is :mod:`beaker.compat.cache`."""

from beaker.compat.cache import *
from beaker.compat.cache import __all__, cache_managers, cache_regions, clsmap  # noqa: F401
