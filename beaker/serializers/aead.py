"""AES-256-GCM sealing of bytes with key rotation: :class:`AESGCMEncrypter`.

A sealed message is ``version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext |
GCM tag (16 bytes)``. The version and key id are authenticated as associated data. Each secret
yields, through HKDF-SHA256 (``info`` naming the encrypter's ``purpose``), a 256-bit AES key
and, under a separate ``info``, its 4-byte key id; the id lets ``decode`` go straight to the
right key instead of trying all of them, and reveals nothing about the key. The nonce is 96
random bits from :func:`os.urandom`, fresh for every message.

The newest key (first in the list) seals; every key opens, so keys rotate as with
:class:`~beaker.serializers.signing.HMACSigner`.

Imports only :mod:`beaker.errors`, :mod:`beaker.serializers.signing`, the standard library and
``cryptography``; must not import from ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from beaker.errors import InvalidSignature
from beaker.serializers.signing import coerce_keys, derive_key
from beaker.validators import is_callable, non_empty_str

_VERSION: Final = b"\x01"
_HEADER_SIZE: Final = 5  # version + key id
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
#: Bytes a sealed message adds to its plaintext.
OVERHEAD: Final = _HEADER_SIZE + NONCE_SIZE + TAG_SIZE


@attrs.frozen
class AESGCMEncrypter:
    """Encrypts and authenticates bytes with AES-256-GCM; a
    :class:`~beaker.serializers.base.BytesCodec`.

    Compose with a serializer as ``Sealed(JSONSerializer(), AESGCMEncrypter(keys))``.
    Encryption adds :data:`OVERHEAD` (33) bytes before any text encoding.

    Args:
        keys: the secrets, newest first (``Sequence[str | bytes]``, or a single ``str``/
            ``bytes``); the first seals, all open. Any length: each is stretched to a 256-bit
            key with HKDF-SHA256, so use long random secrets. Never shown in ``repr``.
        purpose: HKDF ``info`` label separating uses of one secret (``str``).
        random: the nonce source, ``random(n) -> n bytes`` (default :func:`os.urandom`);
            injectable for tests, never replace it with anything predictable in production.

    Raises:
        ComponentTypeError: a key is not ``str``/``bytes``, ``purpose`` is not a ``str`` or
            ``random`` is not callable.
        ConfigError: no keys, or an empty key.

    Thread-safe; the AES key schedules are built once, at construction.
    """

    keys: tuple[bytes, ...] = attrs.field(converter=coerce_keys, repr=False)
    purpose: str = attrs.field(default="beaker.encrypter", validator=non_empty_str())
    random: Callable[[int], bytes] = attrs.field(
        default=os.urandom, validator=is_callable("a callable returning n random bytes"), repr=False
    )
    _ciphers: tuple[tuple[bytes, AESGCM], ...] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        label = self.purpose.encode("utf-8")
        ciphers = []
        for secret in self.keys:
            key = derive_key(secret, b"beaker aes-256-gcm key " + label)
            key_id = derive_key(secret, b"beaker aes-256-gcm key id " + label, length=4)
            ciphers.append((_VERSION + key_id, AESGCM(key)))
        object.__setattr__(self, "_ciphers", tuple(ciphers))

    def encode(self, data: bytes) -> bytes:
        """Seal ``data`` with the newest key and a fresh random nonce."""
        header, cipher = self._ciphers[0]
        nonce = self.random(NONCE_SIZE)
        return header + nonce + cipher.encrypt(nonce, bytes(data), header)

    def decode(self, data: bytes) -> bytes:
        """Open a sealed message with the key its key id names (any configured key).

        Raises:
            InvalidSignature: the message is truncated, names no configured key, or fails
                authentication (tampered, or sealed under a key no longer in the list).
        """
        if len(data) < OVERHEAD:
            raise InvalidSignature("sealed data is shorter than its header and tag")
        header = bytes(data[:_HEADER_SIZE])
        nonce = bytes(data[_HEADER_SIZE : _HEADER_SIZE + NONCE_SIZE])
        body = bytes(data[_HEADER_SIZE + NONCE_SIZE :])
        matched = False
        for key_header, cipher in self._ciphers:
            if key_header != header:
                continue
            matched = True  # ids may collide (2**-32): try every key with this id
            try:
                return cipher.decrypt(nonce, body, header)
            except InvalidTag:
                continue
        if matched:
            raise InvalidSignature("sealed data failed authentication")
        raise InvalidSignature("sealed data names no configured key")
