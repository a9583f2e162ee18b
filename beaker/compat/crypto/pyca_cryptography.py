"""Beaker's ``beaker.crypto.pyca_cryptography``: AES-GCM by ``cryptography``, in Beaker's
layout (12-byte nonce, 16-byte tag, ciphertext)."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["aesDecrypt", "aesEncrypt", "getKeyLength", "has_aes"]

has_aes = True


def aesEncrypt(data: bytes, key: bytes) -> bytes:
    """``data`` sealed under ``key`` (16, 24 or 32 bytes): nonce + tag + ciphertext."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, data, None)
    return nonce + sealed[-16:] + sealed[:-16]


def aesDecrypt(data: bytes, key: bytes) -> bytes:
    """What :func:`aesEncrypt` sealed.

    Raises:
        cryptography.exceptions.InvalidTag: altered data or another key.
    """
    return AESGCM(key).decrypt(data[:12], data[28:] + data[12:28], None)


def getKeyLength() -> int:
    """Key bytes (32: AES-256)."""
    return 32
