"""Pickle: any picklable Python object. Only for bytes the server wrote itself or that passed
verification; never apply it to anything a client sends unverified."""

from __future__ import annotations

import pickle
from typing import Any

import attrs

from beaker.errors import DeserializationError, SerializationError
from beaker.validators import in_range


@attrs.frozen
class PickleSerializer:
    """Pickles values (the default for out-of-process cache stores, as in Beaker).

    Args:
        protocol: the pickle protocol (``int``); defaults to ``pickle.HIGHEST_PROTOCOL``.

    Raises:
        SerializationError: from ``dumps``, for a value pickle cannot handle.
        DeserializationError: from ``loads``, for bytes that are not a valid pickle.
    """

    protocol: int = attrs.field(
        default=pickle.HIGHEST_PROTOCOL, validator=in_range(0, pickle.HIGHEST_PROTOCOL)
    )

    def dumps(self, value: Any) -> bytes:
        try:
            return pickle.dumps(value, self.protocol)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
            raise SerializationError(f"{type(value).__name__} is not picklable ({exc})") from exc

    def loads(self, data: bytes) -> Any:
        try:
            return pickle.loads(data)
        except Exception as exc:  # a corrupt pickle can raise almost anything
            raise DeserializationError(f"invalid pickle data ({exc!r})") from exc
