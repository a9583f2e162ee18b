"""Beaker's ``beaker.util`` import path; the implementation is :mod:`beaker.compat.util`."""

from beaker.compat.util import *
from beaker.compat.util import __all__  # noqa: F401
