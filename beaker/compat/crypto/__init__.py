"""Beaker's ``beaker.crypto``: the crypto-module registry Beaker's encrypted sessions used,
its key derivation (:func:`generateCryptoKeys`, PBKDF2) and nonce sizing, kept for the
packages that import them. AES is ``cryptography``'s, PBKDF2 the standard library's;
``pycrypto`` / ``pycryptodome`` are not provided.

Imports ``cryptography`` (through its submodules) and :mod:`beaker.compat.exceptions`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Final

from beaker.compat.crypto import noencryption, pyca_cryptography
from beaker.compat.crypto.pbkdf2 import pbkdf2
from beaker.compat.crypto.util import hmac, hmac_sha1, md5, sha1
from beaker.compat.exceptions import InvalidCryptoBackendError

__all__ = [
    "CRYPTO_MODULES",
    "DEFAULT_NONCE_BITS",
    "InvalidCryptoBackendError",
    "generateCryptoKeys",
    "get_crypto_module",
    "get_nonce_size",
    "hmac",
    "hmac_sha1",
    "keyLength",
    "load_default_module",
    "md5",
    "noencryption",
    "pbkdf2",
    "pyca_cryptography",
    "register_crypto_module",
    "sha1",
]

#: Kept for imports (Beaker's module attribute, unused).
keyLength = None
#: Bits of nonce in Beaker's encrypted cookies.
DEFAULT_NONCE_BITS: Final = 128
#: Crypto modules by name (``register_crypto_module`` adds to it).
CRYPTO_MODULES: dict[str, Any] = {}


def load_default_module() -> ModuleType:
    """The default crypto module: AES-GCM by ``cryptography``."""
    return pyca_cryptography


def register_crypto_module(name: str, mod: Any) -> None:
    """Make ``mod`` (with ``aesEncrypt``, ``aesDecrypt``, ``has_aes``, ``getKeyLength``) the
    crypto module called ``name``."""
    CRYPTO_MODULES[name] = mod


def get_crypto_module(name: str) -> Any:
    """The crypto module called ``name``: ``default`` and ``cryptography`` are
    ``cryptography``'s AES-GCM, or one registered with :func:`register_crypto_module`.

    Raises:
        InvalidCryptoBackendError: no such module (``pycrypto`` and ``pycryptodome`` are not
            provided).
    """
    if name not in CRYPTO_MODULES:
        if name not in ("default", "cryptography"):
            raise InvalidCryptoBackendError(f"No crypto backend with name {name!r} is registered.")
        register_crypto_module(name, load_default_module())
    return CRYPTO_MODULES[name]


def generateCryptoKeys(
    master_key: str | bytes, salt: str | bytes, iterations: int, keylen: int
) -> bytes:
    """``keylen`` bytes of key derived from ``master_key`` and ``salt`` (PBKDF2-HMAC-SHA1 with
    ``iterations`` rounds, as Beaker's)."""
    return pbkdf2(master_key, salt, iterations=iterations, dklen=keylen)


def get_nonce_size(number_of_bits: int) -> tuple[int, int]:
    """``(bytes, base64 characters)`` of a nonce of ``number_of_bits``.

    Raises:
        ValueError: ``number_of_bits`` is not a multiple of 8.
    """
    if number_of_bits % 8:
        raise ValueError("Nonce complexity currently supports multiples of 8")
    size = number_of_bits // 8
    return size, ((4 * size // 3) + 3) & ~3
