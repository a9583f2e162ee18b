"""Beaker's ``beaker.crypto`` import path; the implementation is :mod:`beaker.compat.crypto`."""

# The submodule first, so that ``pbkdf2`` then names the function, as in Beaker.
from beaker.crypto import pbkdf2 as _pbkdf2_module  # noqa: F401, I001
from beaker.compat.crypto import *
from beaker.compat.crypto import __all__  # noqa: F401
