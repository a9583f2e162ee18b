"""Protocols for turning values into bytes (:class:`Serializer`) and for protecting those
bytes (:class:`BytesCodec`: HMAC signers and AEAD encrypters), and :class:`Sealed`, the
composition of the two.

Composition is by wrapping: ``Sealed(JSONSerializer(), HMACSigner(keys))`` is itself a
``Serializer`` whose ``loads`` verifies before it decodes, so no serializer (pickle included)
ever sees bytes that failed verification.

Must not import from ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import attrs


@runtime_checkable
class Serializer(Protocol):
    """Turns values into bytes and back. Thread-safe and stateless."""

    def dumps(self, value: Any) -> bytes:
        """Encode ``value``. Raises :class:`~beaker.errors.SerializationError`."""

    def loads(self, data: bytes) -> Any:
        """Decode ``data``. Raises :class:`~beaker.errors.DeserializationError`."""


@runtime_checkable
class BytesCodec(Protocol):
    """Protects bytes: a signer appends a MAC, an encrypter seals them with an AEAD."""

    def encode(self, data: bytes) -> bytes:
        """Sign or encrypt ``data`` with the newest key."""

    def decode(self, data: bytes) -> bytes:
        """Verify or decrypt with any configured key.

        Raises:
            InvalidSignature: no key verifies ``data``.
        """


@attrs.frozen
class Sealed:
    """A :class:`Serializer` whose bytes pass through a :class:`BytesCodec`.

    Args:
        serializer: encodes values (``Serializer``).
        codec: signs or encrypts the serializer's bytes (``BytesCodec``).
    """

    serializer: Serializer
    codec: BytesCodec

    def dumps(self, value: Any) -> bytes:
        return self.codec.encode(self.serializer.dumps(value))

    def loads(self, data: bytes) -> Any:
        return self.serializer.loads(self.codec.decode(data))
