"""JSON: the safe default for anything that may travel through a client (cookie sessions).

Only the JSON types round-trip — ``dict`` with ``str`` keys, ``list``, ``str``, ``int``,
``float``, ``bool`` and ``None`` — so a value is checked before it is written: a tuple, a
set or a ``datetime`` is an error rather than coming back as a list or a string.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from beaker.errors import DeserializationError, SerializationError

_SCALARS = frozenset({str, int, float, bool, type(None)})
#: One encoder for every call (``json.dumps`` with options builds a new one each time).
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DECODE = json.JSONDecoder().decode


def _check(value: Any, path: str) -> None:
    """Raise :class:`SerializationError` naming the first part of ``value`` (at ``path``)
    that is not a JSON type; scalars are checked in their container's loop (no call, no
    path built for them)."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is list:
        for index, item in enumerate(value):
            if type(item) not in _SCALARS:
                _check(item, f"{path}[{index}]")
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise SerializationError(f"{path} has a non-str key {key!r}; JSON keys are str")
            if type(item) not in _SCALARS:
                _check(item, f"{path}[{key!r}]")
        return
    raise SerializationError(
        f"{path} is a {kind.__name__}, which JSON would not give back as it is "
        "(use dict/list/str/int/float/bool/None, or a pickle serializer for server-side data)"
    )


@attrs.frozen
class JSONSerializer:
    """UTF-8 JSON with exact round-trips of the JSON types.

    Raises:
        SerializationError: from ``dumps``, naming the path of the first value that is not a
            JSON type (e.g. ``value['items'][2] is a tuple``), or for a ``str`` holding a lone
            surrogate (no UTF-8 form).
        DeserializationError: from ``loads``, for bytes that are not UTF-8 JSON.
    """

    def dumps(self, value: Any) -> bytes:
        _check(value, "value")
        text = _ENCODE(value)
        try:
            return text.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate has no UTF-8 form
            raise SerializationError(
                f"value holds a str that is not valid Unicode ({exc})"
            ) from exc

    def loads(self, data: bytes) -> Any:
        try:
            if type(data) is bytes:  # what we write: UTF-8 (json.loads would sniff UTF-16/32)
                return _DECODE(data.decode())
            return json.loads(data)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise DeserializationError(f"invalid JSON data ({exc})") from exc
