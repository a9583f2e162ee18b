"""Lazy package attributes: a name is imported from its module on first use, so a package
such as ``beaker.stores`` imports without the optional client libraries installed."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` resolving ``names`` (attribute -> module).

    Raises (from the returned function):
        AttributeError: the name is not one of ``names``.
        ImportError: the module (or its client library, e.g. ``redis``) is not installed.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
