"""memcached item names and expiry times, shared by :class:`~beaker.stores.MemcachedStore` and
:class:`~beaker.locks.MemcachedLock`.

memcached names are at most 250 bytes of printable ASCII without spaces, so both parts of
``{prefix}{namespace}:{key}`` are made safe, deterministically:

* the namespace is kept as it is when it is printable ASCII without ``%``, ``:`` or a leading
  ``#``; otherwise it is percent-encoded (UTF-8), and when that is too long it becomes ``#`` and
  its SHA-1 hex digest. The three forms cannot collide, and the first ``:`` after the prefix
  always ends the namespace, so ``"a"`` never matches items of ``"a:b"``.
* the key is kept when it is printable ASCII without spaces, does not start with ``#`` and the
  whole name fits in 250 bytes; otherwise it becomes ``#`` and the SHA-1 hex digest of its UTF-8
  bytes. The item of a hashed key starts with the original key (see :func:`mangled_record`), so
  a read checks it (a digest collision is a miss, never another key's value) and the store can
  list it by its key.

Imports only the standard library and :mod:`beaker.validators`.
"""

from __future__ import annotations

import hashlib
import math
import struct
import time
import urllib.parse
from typing import Final

from beaker.validators import satisfies

__all__ = [
    "MAX_NAME",
    "digest_name",
    "expire_seconds",
    "item_name",
    "item_prefix",
    "mangled_record",
    "namespace_part",
    "safe_name_part",
    "split_mangled",
]

#: memcached's limit on an item name, in bytes.
MAX_NAME: Final = 250
#: The longest prefix accepted, in characters.
PREFIX_MAX: Final = 100
#: Relative expiry times above this many seconds (30 days) are read by memcached as absolute
#: unix times.
_MAX_RELATIVE: Final = 30 * 86_400
#: memcached keeps expiry times as 32-bit unix times; later deadlines are stored as "never".
_MAX_ABSOLUTE: Final = 2**31 - 1
_DIGEST: Final = 41  # "#" + 40 hex digits
_MANGLED_TAG: Final = b"BKm1"
_KEY_LENGTH: Final = struct.Struct("!I")


def expire_seconds(ttl: float | None) -> int:
    """memcached's ``exptime`` for an item that must live at least ``ttl`` seconds.

    memcached counts whole seconds on a clock that ticks once a second, so an item given ``n``
    lives between ``n - 1`` and ``n`` seconds: the TTL is rounded up and one second added.
    Beyond 30 days the value is an absolute unix time (memcached's rule); beyond 2038 or for
    ``None``/infinite TTLs it is ``0`` (never). A TTL <= 0 gives 1 second: the item is already
    stale, and freshness is the cache's decision, not the store's.
    """
    if ttl is None or not ttl < _MAX_ABSOLUTE:  # None, NaN, inf, absurd
        return 0
    seconds = max(math.ceil(ttl), 0) + 1
    if seconds <= _MAX_RELATIVE:
        return seconds
    deadline = int(time.time()) + seconds
    return deadline if deadline <= _MAX_ABSOLUTE else 0


def safe_name_part(text: str, room: int) -> bool:
    """Whether ``text`` may be used as it is inside an item name with ``room`` bytes left:
    printable ASCII, no space, no leading ``#`` (kept for digests), short enough."""
    return (
        len(text) <= room
        and text.isascii()
        and text.isprintable()
        and " " not in text
        and not text.startswith("#")
    )


def digest_name(text: str) -> str:
    """``#`` and the SHA-1 hex digest of ``text``'s UTF-8 bytes (a name part that is always
    safe and never equal to a name part kept as it was)."""
    return "#" + hashlib.sha1(text.encode("utf-8")).hexdigest()


def item_name(start: str, part: str) -> str:
    """``start`` (a prefix, or a namespace's :func:`namespace_part`) and then ``part`` as it
    is, when it is safe in the room left (:func:`safe_name_part`), else its
    :func:`digest_name`."""
    if safe_name_part(part, MAX_NAME - len(start)):
        return start + part
    return start + digest_name(part)


def namespace_part(prefix: str, namespace: str) -> str:
    """The start of every item name of ``namespace``: ``{prefix}{namespace part}:``."""
    room = MAX_NAME - len(prefix) - 1 - _DIGEST
    if safe_name_part(namespace, room) and "%" not in namespace and ":" not in namespace:
        part = namespace
    else:
        part = urllib.parse.quote(namespace, safe="")
        if len(part) > room:
            part = digest_name(namespace)
    return f"{prefix}{part}:"


def mangled_record(key: str, record: bytes) -> bytes:
    """The item of a hashed key: a tag, the original key's length and UTF-8 bytes, then the
    entry record."""
    raw = key.encode("utf-8")
    return _MANGLED_TAG + _KEY_LENGTH.pack(len(raw)) + raw + record


def split_mangled(item: bytes) -> tuple[str, bytes] | None:
    """(original key, entry record) of a hashed key's item, or ``None`` if it is not one."""
    head = len(_MANGLED_TAG) + _KEY_LENGTH.size
    if len(item) < head or item[: len(_MANGLED_TAG)] != _MANGLED_TAG:
        return None
    (size,) = _KEY_LENGTH.unpack_from(item, len(_MANGLED_TAG))
    if len(item) < head + size:
        return None
    try:
        key = item[head : head + size].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return key, item[head + size :]


#: Validator of an item-name prefix: a ``str`` of at most 100 printable ASCII characters, no
#: spaces, not starting with ``#`` (or empty).
item_prefix: Final = satisfies(
    lambda value: not value or safe_name_part(value, PREFIX_MAX),
    f"at most {PREFIX_MAX} printable ASCII characters, no spaces, not starting with '#'",
)
