"""Beaker's ``beaker.crypto.noencryption``: the crypto module that does not encrypt."""

__all__ = ["aesDecrypt", "aesEncrypt", "getKeyLength", "has_aes"]

has_aes = False


def aesEncrypt(data: bytes, key: bytes) -> bytes:
    """``data`` unchanged."""
    return data


def aesDecrypt(data: bytes, key: bytes) -> bytes:
    """``data`` unchanged."""
    return data


def getKeyLength() -> int:
    """Key bytes (32)."""
    return 32
