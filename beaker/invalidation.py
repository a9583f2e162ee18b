"""Namespace and tag invalidation for a cache composed with ``invalidation=True``: how a read
judges an entry by its stamps, and what an invalidation writes (see
:mod:`beaker.stores.stamps` for the tokens and what each store pays).

:class:`Invalidation` is one namespace's view of its store's stamps: :meth:`~Invalidation.get`
and :meth:`~Invalidation.get_stale` are the cache's store reads (the entry checked against the
current tokens, its stamps removed), :meth:`~Invalidation.stamps_for` the stamps a write
records, :meth:`~Invalidation.invalidate` and :meth:`~Invalidation.invalidate_tags` the
invalidations.

Imports only :mod:`beaker.entry` and :mod:`beaker.stores`; never caching, sessions or compat.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import attrs

from beaker.entry import Entry
from beaker.stores.stamps import (
    Stamps,
    StampStore,
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

    stamps: StampStore
    namespace: str
    _names: tuple[str, str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_names", generation_names(self.namespace))

    # -- reads -----------------------------------------------------------------------------------

    def _checked(self, key: str, soft_is_stale: bool) -> Entry | None:
        entry, current = self.stamps.get_stamped(self.namespace, key)
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

    def get(self, namespace: str, key: str) -> Entry | None:
        """The entry of ``key`` if no invalidation since its write concerns it (``namespace``
        is this one's: the signature of a store's ``get``)."""
        return self._checked(key, False)

    def get_stale(self, namespace: str, key: str) -> Entry | None:
        """As :meth:`get`, but an entry invalidated softly is returned as :class:`Stale`."""
        return self._checked(key, True)

    # -- writes ----------------------------------------------------------------------------------

    def stamps_for(self, tags: Iterable[str]) -> Stamps:
        """The stamps a write with ``tags`` records now: the current tokens, any missing one
        created first (one batch read; one batch write when some are missing)."""
        tags = tuple(dict.fromkeys(tags))
        soft, hard = self._names
        names = [soft, hard, *map(tag_name, tags)]
        current = self.stamps.get_stamps(names)
        missing = {name: new_token() for name in names if name not in current}
        if missing:
            self.stamps.set_stamps(missing)
            current.update(missing)
        return Stamps(
            current[soft], current[hard], tuple((tag, current[tag_name(tag)]) for tag in tags)
        )

    def invalidate(self, hard: bool) -> None:
        """Every entry of the namespace becomes a miss (``hard``) or stale: one write."""
        self.stamps.set_stamps({self._names[1 if hard else 0]: new_token()})

    def invalidate_tags(self, tags: Iterable[str]) -> None:
        """Every entry carrying one of ``tags``, in any namespace, becomes a miss: one write."""
        tokens = {tag_name(tag): new_token() for tag in tags}
        if tokens:
            self.stamps.set_stamps(tokens)
