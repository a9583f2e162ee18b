"""Beaker's ``beaker.middleware`` import path; the implementation is
:mod:`beaker.compat.middleware`."""

from beaker.compat.middleware import *
from beaker.compat.middleware import __all__  # noqa: F401
