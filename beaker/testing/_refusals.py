"""The one assertion helper the checks share: a block must raise a given error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def refused(error: type[BaseException], what: str) -> Iterator[list[BaseException]]:
    """Assert that the block raises ``error`` (caught, and appended to the yielded list);
    any other outcome is an ``AssertionError`` saying ``what`` should have been refused."""
    caught: list[BaseException] = []
    try:
        yield caught
    except error as exc:
        caught.append(exc)
        return
    raise AssertionError(f"{what} was not refused with {error.__name__}")
