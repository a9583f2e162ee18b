"""Beaker's ``beaker.crypto.util`` import path; the implementation is
:mod:`beaker.compat.crypto.util`."""

from beaker.compat.crypto.util import *
from beaker.compat.crypto.util import __all__  # noqa: F401
