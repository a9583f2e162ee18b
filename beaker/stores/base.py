"""The :class:`Store` protocol: where entries live, keyed by ``(namespace, key)``.

A store knows nothing of expiry semantics or locking: it keeps what it is given and returns it.
Stores with native TTL (Redis, memcached, SQL cleanup) may use ``entry.ttl()`` so that dead
entries disappear server-side, but freshness is decided by the cache.

Must not import from ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Protocol, runtime_checkable

from beaker.entry import Entry


@runtime_checkable
class Store(Protocol):
    """Keeps :class:`~beaker.entry.Entry` records by ``(namespace, key)``.

    ``namespace`` and ``key`` are ``str``. When :attr:`holds_objects` is false the store only
    accepts entries whose value is ``bytes`` (the cache runs its serializer first); when true
    it keeps any Python object by reference.

    Thread safety: every method may be called from many threads at once. Process safety is
    documented per store. Errors: a server that cannot be reached raises
    :class:`~beaker.errors.StoreUnavailable`; an unreadable record is a miss (``None``) plus a
    logged warning, never an exception.
    """

    holds_objects: ClassVar[bool]

    def get(self, namespace: str, key: str) -> Entry | None:
        """Return the entry, or ``None`` if there is none (expired or not)."""

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        """Write (or overwrite) the entry."""

    def delete(self, namespace: str, key: str) -> None:
        """Remove the entry if present; absent keys are not an error."""

    def clear(self, namespace: str) -> None:
        """Remove every entry of ``namespace`` and no other."""

    def keys(self, namespace: str) -> Iterator[str]:
        """Iterate the keys of ``namespace`` (for cleanup and tests; order unspecified)."""

    def close(self) -> None:
        """Release runtime resources (pools, handles); the store may be used again after."""
