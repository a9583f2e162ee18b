"""Beaker's ``beaker.crypto.pbkdf2``: PBKDF2 by ``cryptography``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

__all__ = ["pbkdf2"]


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("ascii")


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
    algorithm = getattr(hashes, name.upper().replace("-", "_"))()
    kdf = PBKDF2HMAC(
        algorithm=algorithm,
        length=dklen or algorithm.digest_size,
        salt=_bytes(salt),
        iterations=iterations,
    )
    return kdf.derive(_bytes(password))
