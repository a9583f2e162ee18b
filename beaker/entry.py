"""The stored record (:class:`Entry`), the miss sentinel (:data:`MISSING`) and the byte layout
that every out-of-process store uses for an entry.

An entry keeps its metadata beside its value so that one read answers both "what" and "still
fresh?". Stores that leave the process write ``pack_entry(entry)``: a 4-byte magic/version
tag, two big-endian doubles (stored-at and expires-at, NaN for "never"), for an entry whose
creator duration is known a third (``delta``, tag ``BKe2``), and the payload bytes produced
by the serializer chain.

This module imports only :mod:`beaker.errors`.
"""

from __future__ import annotations

import enum
import struct
from math import isnan
from typing import Any, Final, Literal, NamedTuple

from beaker.errors import DeserializationError


class _Missing(enum.Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return False


#: Marks a miss, so that ``None`` is a value like any other.
MISSING: Final = _Missing.MISSING
Missing = Literal[_Missing.MISSING]


class Entry(NamedTuple):
    """One cached value with its metadata.

    Attributes:
        value: the value itself (a Python object in a memory store, ``bytes`` elsewhere).
        stored_at: when it was written, in seconds since the epoch (from the cache's clock).
        expires_at: when it stops being fresh, in seconds since the epoch; ``None`` = never.
        delta: seconds its creator took (``0.0``: unknown), for early recomputation
            (:class:`~beaker.policies.XFetch`).
    """

    value: Any
    stored_at: float
    expires_at: float | None = None
    delta: float = 0.0

    def ttl(self) -> float | None:
        """Seconds between writing and expiry (what a store with native TTL should use)."""
        return None if self.expires_at is None else self.expires_at - self.stored_at


_TAG: Final = b"BKe1"
_HEADER: Final = struct.Struct("!4sdd")
#: A record with a creator duration: the same header and a third double, ``delta``.
_TAG_DELTA: Final = b"BKe2"
_HEADER_DELTA: Final = struct.Struct("!4sddd")
#: Bytes before the payload in a record of :func:`pack_entry`, without and with ``delta``.
HEADER_SIZE: Final = _HEADER.size
HEADER_SIZE_DELTA: Final = _HEADER_DELTA.size
_UNPACK: Final = _HEADER.unpack_from
_UNPACK_DELTA: Final = _HEADER_DELTA.unpack_from
_NAN: Final = float("nan")


def pack_entry(entry: Entry) -> bytes:
    """Serialize an entry whose ``value`` is already ``bytes`` into one record.

    Raises:
        TypeError: ``entry.value`` is not bytes (a serializer must run first).
    """
    value = entry.value
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"pack_entry needs a bytes value, got {type(value).__name__}")
    expires = _NAN if entry.expires_at is None else entry.expires_at
    if entry.delta:
        return _HEADER_DELTA.pack(_TAG_DELTA, entry.stored_at, expires, entry.delta) + bytes(value)
    return _HEADER.pack(_TAG, entry.stored_at, expires) + bytes(value)


def unpack_entry(record: bytes) -> Entry:
    """Parse a record written by :func:`pack_entry`.

    Raises:
        DeserializationError: the record is truncated or was not written by this library.
    """
    tag = record[:4]
    if tag == _TAG and len(record) >= HEADER_SIZE:
        _, stored_at, expires = _UNPACK(record)
        value, delta = record[HEADER_SIZE:], 0.0
    elif tag == _TAG_DELTA and len(record) >= HEADER_SIZE_DELTA:
        _, stored_at, expires, delta = _UNPACK_DELTA(record)
        value = record[HEADER_SIZE_DELTA:]
    else:
        raise DeserializationError("not a beaker entry record (bad header or truncated)")
    # On every read's hot path: tuple.__new__ builds the Entry without the NamedTuple's
    # Python-level __new__ (every field is given).
    return tuple.__new__(Entry, (value, stored_at, None if isnan(expires) else expires, delta))
