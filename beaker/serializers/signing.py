"""HMAC-SHA256 signing of bytes with key rotation: :class:`HMACSigner`, and
:func:`coerce_keys`, the key-list converter the AEAD encrypter shares.

A signed message is the data followed by a 32-byte tag. The newest key (the first of the
list) signs; every key verifies, so a key can be retired gracefully: put the new key first,
keep the old one after it until the cookies it signed have expired, then drop it.

The raw secrets are never used directly: each is turned into a signing key with HKDF-SHA256
whose ``info`` is the signer's ``purpose``, so one secret used for two purposes (say, the
session-id cookie and a cookie-only session) never yields tags that one purpose would accept
for the other.

Imports only :mod:`beaker.errors`, the standard library and ``cryptography``; must not import
from ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from beaker.errors import ComponentTypeError, ConfigError, InvalidSignature
from beaker.validators import non_empty_str

#: Length of an HMAC-SHA256 tag in bytes.
TAG_SIZE: Final = 32

# OpenSSL's keyed HMAC object itself: its copy/update/digest are C calls, where hmac.HMAC wraps
# each in Python (four frames a tag, on every cookie a session issues).
_keyed: Callable[[bytes], Any]
try:
    from _hashlib import hmac_new as _openssl_hmac

    def _keyed(key: bytes) -> Any:
        return _openssl_hmac(key, digestmod="sha256")

except ImportError:  # pragma: no cover - a Python built without OpenSSL

    def _keyed(key: bytes) -> Any:
        return hmac.new(key, digestmod="sha256")


def coerce_keys(keys: str | bytes | Sequence[str | bytes]) -> tuple[bytes, ...]:
    """Turn a key list into a tuple of non-empty ``bytes`` (``str`` keys are UTF-8 encoded).

    Args:
        keys: the secrets, newest first: a ``Sequence`` of ``str``/``bytes``, or one
            ``str``/``bytes`` meaning a list of one key (as Beaker's single ``secret``).

    Raises:
        ComponentTypeError: ``keys`` or one of its items is not ``str``/``bytes``.
        ConfigError: the list is empty, or a key is empty.
    """
    if isinstance(keys, (str, bytes)):
        keys = [keys]
    if not isinstance(keys, Sequence):
        raise ComponentTypeError("keys", keys, "a sequence of str or bytes secrets")
    out: list[bytes] = []
    for index, key in enumerate(keys):
        if isinstance(key, str):
            key = key.encode("utf-8")
        elif isinstance(key, (bytearray, memoryview)):
            key = bytes(key)
        elif not isinstance(key, bytes):
            raise ComponentTypeError(f"keys[{index}]", key, "str or bytes")
        if not key:
            raise ConfigError(f"keys[{index}]", "<empty>", "a non-empty secret")
        out.append(key)
    if not out:
        raise ConfigError("keys", [], "at least one secret (the newest first)")
    return tuple(out)


def derive_key(secret: bytes, info: bytes, length: int = 32) -> bytes:
    """Derive ``length`` bytes from ``secret`` with HKDF-SHA256 (no salt) and ``info``."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


@attrs.frozen
class HMACSigner:
    """Signs bytes with HMAC-SHA256; a :class:`~beaker.serializers.base.BytesCodec`.

    ``encode(data)`` returns ``data`` followed by a 32-byte tag made with the newest key;
    ``decode`` checks the tag against every key with :func:`hmac.compare_digest` and returns
    ``data``. Compose with a serializer as ``Sealed(JSONSerializer(), HMACSigner(keys))``.

    Signing proves integrity, not secrecy: the data travels in the clear. Use
    :class:`~beaker.serializers.aead.AESGCMEncrypter` to hide it too.

    Args:
        keys: the secrets, newest first (``Sequence[str | bytes]``, or a single ``str``/
            ``bytes``); the first signs, all verify. Never shown in ``repr``.
        purpose: HKDF ``info`` label separating uses of one secret (``str``); a signer only
            accepts tags made by a signer with the same keys *and* purpose.

    Raises:
        ComponentTypeError: a key is not ``str``/``bytes``, or ``purpose`` is not a ``str``.
        ConfigError: no keys, or an empty key.

    Thread-safe; holds no runtime resources.
    """

    keys: tuple[bytes, ...] = attrs.field(converter=coerce_keys, repr=False)
    purpose: str = attrs.field(default="beaker.signer", validator=non_empty_str())
    # One keyed HMAC object per key: a tag copies it (the key schedule is done once) instead
    # of keying a fresh one per call, as ``hmac.digest`` does.
    _macs: tuple[Any, ...] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        info = b"beaker hmac-sha256 " + self.purpose.encode("utf-8")
        macs = tuple(_keyed(derive_key(secret, info)) for secret in self.keys)
        object.__setattr__(self, "_macs", macs)

    def __reduce__(self) -> tuple[type[HMACSigner], tuple[tuple[bytes, ...], str]]:
        # The keyed HMAC objects do not pickle; they are rebuilt from the keys.
        return (type(self), (self.keys, self.purpose))

    def encode(self, data: bytes) -> bytes:
        """Return ``data`` + the newest key's 32-byte tag."""
        return bytes(data) + _tag(self._macs[0], data)

    def decode(self, data: bytes) -> bytes:
        """Return the signed data if any key's tag matches.

        Raises:
            InvalidSignature: ``data`` is shorter than a tag, or no key verifies it.
        """
        if len(data) < TAG_SIZE:
            raise InvalidSignature("signed data is shorter than its tag")
        body = data[:-TAG_SIZE]
        tag = data[-TAG_SIZE:]
        for mac in self._macs:
            if hmac.compare_digest(_tag(mac, body), tag):
                return bytes(body)
        raise InvalidSignature("no configured key verifies this signature")


def _tag(keyed: Any, data: bytes) -> bytes:
    mac = keyed.copy()
    mac.update(data)
    tag: bytes = mac.digest()
    return tag
