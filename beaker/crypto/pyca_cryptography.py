"""Beaker's ``beaker.crypto.pyca_cryptography`` import path; the implementation is
:mod:`beaker.compat.crypto.pyca_cryptography`."""

from beaker.compat.crypto.pyca_cryptography import *
from beaker.compat.crypto.pyca_cryptography import __all__  # noqa: F401
