"""Beaker's ``beaker.crypto.pbkdf2`` import path; the implementation is
:mod:`beaker.compat.crypto.pbkdf2`."""

from beaker.compat.crypto.pbkdf2 import *
from beaker.compat.crypto.pbkdf2 import __all__  # noqa: F401
