"""What a test does when something it needs from the machine (a server, a program, an optional
package) is absent: skipped with a hint, or failed under ``CI=true`` so a broken CI set-up cannot
pass silently."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def skip_or_fail(message: str) -> NoReturn:
    """Skip the running test (or, called at import, the whole module) with ``message``, or fail
    it when ``CI=true``."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message, allow_module_level=True)


def import_or_fail(name: str, extra: str) -> ModuleType:
    """Import and return the module ``name``; when it cannot be imported, :func:`skip_or_fail`
    with the hint to install the project's ``extra``."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        skip_or_fail(f"cannot import {name} ({exc}): pip install -e '.[{extra}]'")
