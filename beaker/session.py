"""Beaker's ``beaker.session`` import path; the implementation is :mod:`beaker.compat.session`."""

from beaker.compat.config import clsmap  # noqa: F401  (Beaker's session module has it too)
from beaker.compat.session import *
from beaker.compat.session import __all__  # noqa: F401
