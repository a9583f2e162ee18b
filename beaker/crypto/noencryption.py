"""Beaker's ``beaker.crypto.noencryption`` import path; the implementation is
:mod:`beaker.compat.crypto.noencryption`."""

from beaker.compat.crypto.noencryption import *
from beaker.compat.crypto.noencryption import __all__  # noqa: F401
