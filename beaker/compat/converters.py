"""Beaker's ``beaker.converters``: :func:`asbool` and :func:`aslist`, the INI-value coercions
extension packages import (defined with the option parsing, :mod:`beaker.compat.config`)."""

from beaker.compat.config import asbool, aslist

__all__ = ["asbool", "aslist"]
