"""Beaker's ``beaker.crypto.pbkdf2``: PBKDF2-HMAC by the standard library."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

__all__ = ["pbkdf2"]


def pbkdf2(
    password: str | bytes,
    salt: str | bytes,
    iterations: int,
    dklen: int = 0,
    digest: Callable[[], Any] | None = None,
) -> bytes:
    """PBKDF2-HMAC of ``password`` and ``salt`` (ASCII text or ``bytes``).

    Args:
        iterations: rounds (``int``).
        dklen: bytes of key (``0``: the digest's size).
        digest: a :mod:`hashlib` constructor (default ``hashlib.sha1``, as Beaker).
    """
    name = digest().name if digest is not None else "sha1"
    password, salt = (
        v if isinstance(v, bytes) else str(v).encode("ascii") for v in (password, salt)
    )
    return hashlib.pbkdf2_hmac(name, password, salt, iterations, dklen or None)
