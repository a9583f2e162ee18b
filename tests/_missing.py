"""What a test does when something it needs from the machine (a server, a program) is absent:
skipped with a hint, or failed under ``CI=true`` so a broken CI set-up cannot pass silently."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def skip_or_fail(message: str) -> NoReturn:
    """Skip the running test with ``message``, or fail it when ``CI=true``."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
