"""Beaker's ``beaker.exceptions`` import path; the implementation is
:mod:`beaker.compat.exceptions`."""

from beaker.compat.exceptions import *
from beaker.compat.exceptions import __all__  # noqa: F401
