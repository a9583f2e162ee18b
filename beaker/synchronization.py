"""Beaker's ``beaker.synchronization`` import path; the implementation is
:mod:`beaker.compat.synchronization`."""

from beaker.compat.synchronization import *
from beaker.compat.synchronization import __all__  # noqa: F401
