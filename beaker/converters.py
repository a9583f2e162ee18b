"""Beaker's ``beaker.converters`` import path; the implementation is
:mod:`beaker.compat.converters`."""

from beaker.compat.converters import *
from beaker.compat.converters import __all__  # noqa: F401
