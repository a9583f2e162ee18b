"""Stamps: the version tokens that make namespace and tag invalidation O(1) and visible to every
process sharing a store.

Each namespace has two generation tokens (``soft`` and ``hard``) and each tag one token, kept in
the store. An entry written by a cache composed with ``invalidation=True`` records the tokens
current when it was written (:class:`Stamps`); a read compares them with the current ones:
another ``hard`` token or another token of one of its tags makes the entry a miss, another
``soft`` token makes it stale. Invalidating is writing new tokens: one store operation
whatever the number of entries, and no entry is touched.

A token is a random string, written blindly (never read-modify-write), so racing invalidations
cannot lose each other. A writer creates the tokens it needs before it records them, so a
token that disappears (memcached evicting it) invalidates what recorded it instead of reviving
older entries.

How the stamps travel:

* in a byte record, the value starts with :func:`pack_stamps`'s header (``BKs1``, then
  length-prefixed tokens and tag names, so a Redis script can read the tag names);
* in a store that holds objects, the value is a :class:`Stamped` pair.

:class:`StampStore` is what a store offers for them: :class:`~beaker.stores.RedisStore` reads
the entry (or a batch of entries), its namespace's tokens and its tags' tokens in one Lua
script (one round trip); :class:`GenericStamps` gives any other store the same methods, tokens
kept as entries of the namespace :data:`STAMPS` (the entry or the batch, then one
``get_many`` of the tokens: two round trips). :class:`AsyncStampStore` and
:class:`AsyncGenericStamps` are their asyncio twins.

Imports only :mod:`beaker.entry`, :mod:`beaker.errors` and :mod:`beaker.stores.base`.
"""

from __future__ import annotations

import inspect
import secrets
import struct
from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple, Protocol, runtime_checkable

import attrs

from beaker.entry import Entry
from beaker.stores.base import AsyncStore, Store, async_batch_of, batch_of

#: The namespace in which :class:`GenericStamps` keeps tokens.
STAMPS: Final = "__beaker_stamps__"
#: The first bytes of a byte value that carries stamps.
MAGIC: Final = b"BKs1"
_U16: Final = struct.Struct("!H")


class Stamps(NamedTuple):
    """The tokens an entry was written under.

    Attributes:
        soft: the namespace's soft generation token.
        hard: the namespace's hard generation token.
        tags: ``((tag, token), ...)`` of the entry's tags.
    """

    soft: str
    hard: str
    tags: tuple[tuple[str, str], ...] = ()


class Stamped(NamedTuple):
    """A value with its stamps, as a store that holds objects keeps it."""

    stamps: Stamps
    value: Any


def generation_names(namespace: str) -> tuple[str, str]:
    """The token names of ``namespace``'s soft and hard generations."""
    space = f"{len(namespace)}:{namespace}"
    return f"soft:{space}", f"hard:{space}"


def tag_name(tag: str) -> str:
    """The token name of ``tag`` (tags are shared by every namespace of a store)."""
    return f"tag:{tag}"


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_hex(8)


def _field(text: str) -> bytes:
    data = text.encode("utf-8")
    return _U16.pack(len(data)) + data


def pack_stamps(stamps: Stamps, payload: bytes) -> bytes:
    """``payload`` behind the header of ``stamps`` (see the module's docstring).

    Raises:
        ValueError: a token or tag is longer than 65,535 UTF-8 bytes, or more than 65,535 tags.
    """
    parts = [MAGIC, _field(stamps.soft), _field(stamps.hard), _U16.pack(len(stamps.tags))]
    for tag, token in stamps.tags:
        parts += [_field(tag), _field(token)]
    parts.append(payload)
    return b"".join(parts)


def _read_field(data: bytes, at: int) -> tuple[str, int]:
    (length,) = _U16.unpack_from(data, at)
    end = at + 2 + length
    if end > len(data):
        raise ValueError("truncated stamps")
    return data[at + 2 : end].decode("utf-8"), end


def split(value: Any) -> tuple[Stamps | None, Any]:
    """The stamps and the payload of a stored value; ``(None, value)`` when it has none (it
    was written without ``invalidation``) or its header is unreadable."""
    if isinstance(value, Stamped):
        return value.stamps, value.value
    if not isinstance(value, bytes) or not value.startswith(MAGIC):
        return None, value
    try:
        soft, at = _read_field(value, len(MAGIC))
        hard, at = _read_field(value, at)
        (count,) = _U16.unpack_from(value, at)
        at += 2
        tags = []
        for _ in range(count):
            tag, at = _read_field(value, at)
            token, at = _read_field(value, at)
            tags.append((tag, token))
    except (ValueError, struct.error, UnicodeDecodeError):
        return None, value
    return Stamps(soft, hard, tuple(tags)), value[at:]


def stamp_value(stamps: Stamps, payload: Any, holds_objects: bool) -> Any:
    """``payload`` carrying ``stamps`` in the form a store keeps (see the module's docstring)."""
    return Stamped(stamps, payload) if holds_objects else pack_stamps(stamps, payload)


@runtime_checkable
class StampStore(Protocol):
    """What a cache with ``invalidation`` needs of its store, beside the :class:`Store`
    methods. Token names come from :func:`generation_names` and :func:`tag_name`."""

    def get_stamped(self, namespace: str, key: str) -> tuple[Entry | None, dict[str, str]]:
        """The entry, and the current tokens of ``namespace``'s generations and of the tags
        the entry records (absent tokens left out).

        Raises:
            StoreUnavailable: the server cannot be reached.
        """

    def get_many_stamped(
        self, namespace: str, keys: Iterable[str]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        """``{key: entry}`` of the ``keys`` found, and the current tokens of ``namespace``'s
        generations and of every tag those entries record (absent tokens left out).

        Raises:
            StoreUnavailable: the server cannot be reached.
        """

    def get_stamps(self, names: Iterable[str]) -> dict[str, str]:
        """The current tokens of ``names`` (absent ones left out)."""

    def set_stamps(self, tokens: Mapping[str, str]) -> None:
        """Write ``{name: token}`` in one store operation (this is an invalidation)."""


@runtime_checkable
class AsyncStampStore(Protocol):
    """The asyncio twin of :class:`StampStore`: the same methods, awaited."""

    async def get_stamped(self, namespace: str, key: str) -> tuple[Entry | None, dict[str, str]]:
        """As :meth:`StampStore.get_stamped`."""

    async def get_many_stamped(
        self, namespace: str, keys: Iterable[str]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        """As :meth:`StampStore.get_many_stamped`."""

    async def get_stamps(self, names: Iterable[str]) -> dict[str, str]:
        """As :meth:`StampStore.get_stamps`."""

    async def set_stamps(self, tokens: Mapping[str, str]) -> None:
        """As :meth:`StampStore.set_stamps`."""


def recorded_names(namespace: str, entries: Iterable[Entry | None]) -> list[str]:
    """The token names a read of ``entries`` in ``namespace`` must compare: the namespace's
    generations, then each tag the entries record, once."""
    names = dict.fromkeys(generation_names(namespace))
    for entry in entries:
        if entry is not None:
            stamps, _ = split(entry.value)
            if stamps is not None:
                names.update(dict.fromkeys(tag_name(tag) for tag, _ in stamps.tags))
    return list(names)


def _tokens(found: Mapping[str, Entry]) -> dict[str, str]:
    """Tokens as :class:`GenericStamps` reads them back (``{name: entry}`` of namespace
    :data:`STAMPS`)."""
    return {
        name: value.decode() if isinstance(value, bytes) else str(value)
        for name, (value, *_) in found.items()
    }


def _token_entries(tokens: Mapping[str, str], holds_objects: bool) -> dict[str, Entry]:
    """Tokens as :class:`GenericStamps` writes them (entries of namespace :data:`STAMPS`)."""
    return {
        name: Entry(token if holds_objects else token.encode(), 0.0)
        for name, token in tokens.items()
    }


@attrs.frozen
class GenericStamps:
    """:class:`StampStore` over any store: tokens are entries of namespace :data:`STAMPS`
    (read with one ``get_many``, written with one ``set_many``). A read costs the entry's
    read (or the batch's) plus one batch read of its tokens."""

    store: Store

    def get_stamped(self, namespace: str, key: str) -> tuple[Entry | None, dict[str, str]]:
        entry = self.store.get(namespace, key)
        return entry, self.get_stamps(recorded_names(namespace, [entry]))

    def get_many_stamped(
        self, namespace: str, keys: Iterable[str]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        found = batch_of(self.store).get_many(namespace, keys)
        return found, self.get_stamps(recorded_names(namespace, found.values()))

    def get_stamps(self, names: Iterable[str]) -> dict[str, str]:
        return _tokens(batch_of(self.store).get_many(STAMPS, names))

    def set_stamps(self, tokens: Mapping[str, str]) -> None:
        entries = _token_entries(tokens, self.store.holds_objects)
        batch_of(self.store).set_many(STAMPS, entries)


@attrs.frozen
class AsyncGenericStamps:
    """:class:`AsyncStampStore` over any async store, as :class:`GenericStamps` (the same
    tokens in the same namespace, so sync and async processes share them)."""

    store: AsyncStore

    async def get_stamped(self, namespace: str, key: str) -> tuple[Entry | None, dict[str, str]]:
        entry = await self.store.get(namespace, key)
        return entry, await self.get_stamps(recorded_names(namespace, [entry]))

    async def get_many_stamped(
        self, namespace: str, keys: Iterable[str]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        found = await async_batch_of(self.store).get_many(namespace, keys)
        return found, await self.get_stamps(recorded_names(namespace, found.values()))

    async def get_stamps(self, names: Iterable[str]) -> dict[str, str]:
        return _tokens(await async_batch_of(self.store).get_many(STAMPS, names))

    async def set_stamps(self, tokens: Mapping[str, str]) -> None:
        entries = _token_entries(tokens, self.store.holds_objects)
        await async_batch_of(self.store).set_many(STAMPS, entries)


def stamps_of(store: Store) -> StampStore:
    """``store`` itself when it reads stamps natively, else :class:`GenericStamps` over it."""
    if isinstance(store, StampStore):
        return store
    return GenericStamps(store)


def async_stamps_of(store: AsyncStore) -> AsyncStampStore:
    """``store`` itself when it reads stamps natively (its ``get_stamped`` a coroutine
    function), else :class:`AsyncGenericStamps` over it."""
    if isinstance(store, AsyncStampStore) and inspect.iscoroutinefunction(store.get_stamped):
        return store
    return AsyncGenericStamps(store)
