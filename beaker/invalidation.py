"""Namespace and tag invalidation for a cache composed with ``invalidation=True``: how a read
judges an entry by its stamps, and what an invalidation writes (see
:mod:`beaker.stores.stamps` for the tokens and what each store pays).

:class:`Invalidation` is one namespace's view of its store's stamps: :meth:`~Invalidation.get`
and :meth:`~Invalidation.get_stale` are the cache's store reads (the entry checked against the
current tokens, its stamps removed), :meth:`~Invalidation.get_many` the batch read,
:meth:`~Invalidation.stamps_for` the stamps a write records, :meth:`~Invalidation.invalidate`
and :meth:`~Invalidation.invalidate_tags` the invalidations. :class:`AsyncInvalidation` is the
same over an :class:`~beaker.stores.stamps.AsyncStampStore`, awaited: the judgments
(:meth:`~Invalidation.checked`, :meth:`~Invalidation.names_for`, ...) are shared, only the
store calls differ.

Imports only :mod:`beaker.entry` and :mod:`beaker.stores`; never caching, sessions or compat.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from beaker.entry import Entry
from beaker.stores.stamps import (
    Stamps,
    generation_names,
    new_token,
    split,
    tag_name,
)

log = logging.getLogger("beaker.cache")


class Stale(Entry):
    """An entry whose namespace was invalidated softly since it was written: served by
    ``get_or_create`` while one worker recreates it, a miss for ``get``."""

    __slots__ = ()


@attrs.frozen
class Invalidation:
    """The stamps of one namespace on one store.

    Args:
        stamps: the store's :class:`~beaker.stores.stamps.StampStore` (the store itself, or
            :class:`~beaker.stores.stamps.GenericStamps` around it).
        namespace: the namespace (``str``).
    """

    stamps: Any  # a StampStore; an AsyncStampStore in AsyncInvalidation
    namespace: str
    _names: tuple[str, str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_names", generation_names(self.namespace))

    # -- judgments (no I/O) ------------------------------------------------------------------------

    def checked(
        self, key: str, entry: Entry | None, current: Mapping[str, str], soft_is_stale: bool
    ) -> Entry | None:
        """``entry`` (read with the ``current`` tokens) if no invalidation since its write
        concerns it, its stamps removed; softly invalidated, a :class:`Stale` entry when
        ``soft_is_stale`` else ``None``."""
        if entry is None:
            return None
        recorded, payload = split(entry.value)
        if recorded is None:
            log.warning(
                "cache entry %r in namespace %r has no stamps (written without invalidation): "
                "a miss",
                key,
                self.namespace,
            )
            return None
        soft, hard = self._names
        if current.get(hard) != recorded.hard:
            return None
        for tag, token in recorded.tags:
            if current.get(tag_name(tag)) != token:
                return None
        entry = entry._replace(value=payload)
        if current.get(soft) != recorded.soft:
            return Stale(*entry) if soft_is_stale else None
        return entry

    def checked_many(
        self, found: Mapping[str, Entry], current: Mapping[str, str]
    ) -> dict[str, Entry]:
        """The entries of ``found`` that :meth:`checked` keeps (softly invalidated ones are
        misses)."""
        kept = {}
        for key, entry in found.items():
            valid = self.checked(key, entry, current, False)
            if valid is not None:
                kept[key] = valid
        return kept

    def names_for(self, tags: Iterable[str]) -> tuple[tuple[str, ...], list[str]]:
        """The distinct ``tags`` of a write and the token names it records."""
        tags = tuple(dict.fromkeys(tags))
        return tags, [*self._names, *map(tag_name, tags)]

    @staticmethod
    def completed(names: Iterable[str], current: dict[str, str]) -> dict[str, str]:
        """New tokens for the ``names`` that have none in ``current``, added to it: what a
        writer must store before it records them."""
        missing = {name: new_token() for name in names if name not in current}
        current.update(missing)
        return missing

    def recorded(self, tags: tuple[str, ...], current: Mapping[str, str]) -> Stamps:
        """The stamps of a write with ``tags`` under the ``current`` tokens."""
        soft, hard = self._names
        return Stamps(
            current[soft], current[hard], tuple((tag, current[tag_name(tag)]) for tag in tags)
        )

    def bump(self, hard: bool) -> dict[str, str]:
        """The token a namespace invalidation writes."""
        return {self._names[1 if hard else 0]: new_token()}

    @staticmethod
    def bump_tags(tags: Iterable[str]) -> dict[str, str]:
        """The tokens a tag invalidation writes."""
        return {tag_name(tag): new_token() for tag in tags}

    # -- the store calls ---------------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Entry | None:
        """The entry of ``key`` if no invalidation since its write concerns it (``namespace``
        is this one's: the signature of a store's ``get``)."""
        entry, current = self.stamps.get_stamped(self.namespace, key)
        return self.checked(key, entry, current, False)

    def get_stale(self, namespace: str, key: str) -> Entry | None:
        """As :meth:`get`, but an entry invalidated softly is returned as :class:`Stale`."""
        entry, current = self.stamps.get_stamped(self.namespace, key)
        return self.checked(key, entry, current, True)

    def get_many(self, keys: Iterable[str]) -> dict[str, Entry]:
        """``{key: entry}`` of the ``keys`` found and valid (one round trip on Redis)."""
        found, current = self.stamps.get_many_stamped(self.namespace, keys)
        return self.checked_many(found, current)

    def stamps_for(self, tags: Iterable[str]) -> Stamps:
        """The stamps a write with ``tags`` records now: the current tokens, any missing one
        created first (one batch read; one batch write when some are missing)."""
        tags, names = self.names_for(tags)
        current = self.stamps.get_stamps(names)
        if missing := self.completed(names, current):
            self.stamps.set_stamps(missing)
        return self.recorded(tags, current)

    def invalidate(self, hard: bool) -> None:
        """Every entry of the namespace becomes a miss (``hard``) or stale: one write."""
        self.stamps.set_stamps(self.bump(hard))

    def invalidate_tags(self, tags: Iterable[str]) -> None:
        """Every entry carrying one of ``tags``, in any namespace, becomes a miss: one write."""
        tokens = self.bump_tags(tags)
        if tokens:
            self.stamps.set_stamps(tokens)


@attrs.frozen
class AsyncInvalidation(Invalidation):
    """:class:`Invalidation` over an :class:`~beaker.stores.stamps.AsyncStampStore`: the
    same judgments, each store call awaited (so each method is a coroutine)."""

    async def get(self, namespace: str, key: str) -> Entry | None:  # type: ignore[override]
        entry, current = await self.stamps.get_stamped(self.namespace, key)
        return self.checked(key, entry, current, False)

    async def get_stale(self, namespace: str, key: str) -> Entry | None:  # type: ignore[override]
        entry, current = await self.stamps.get_stamped(self.namespace, key)
        return self.checked(key, entry, current, True)

    async def get_many(self, keys: Iterable[str]) -> dict[str, Entry]:  # type: ignore[override]
        found, current = await self.stamps.get_many_stamped(self.namespace, keys)
        return self.checked_many(found, current)

    async def stamps_for(self, tags: Iterable[str]) -> Stamps:  # type: ignore[override]
        tags, names = self.names_for(tags)
        current = await self.stamps.get_stamps(names)
        if missing := self.completed(names, current):
            await self.stamps.set_stamps(missing)
        return self.recorded(tags, current)

    async def invalidate(self, hard: bool) -> None:  # type: ignore[override]
        await self.stamps.set_stamps(self.bump(hard))

    async def invalidate_tags(self, tags: Iterable[str]) -> None:  # type: ignore[override]
        tokens = self.bump_tags(tags)
        if tokens:
            await self.stamps.set_stamps(tokens)
