"""Beaker's ``beaker.ext`` backends; the implementation is :mod:`beaker.compat.ext`."""
