"""Beaker's ``beaker.ext.*`` namespace managers, containers and synchronizers over our
stores and locks (the shims ``beaker/ext/*.py`` re-export them by module).

Each manager takes Beaker's arguments for its type and is the backend a ``Cache`` of that
type and options uses. ``ext:mongodb`` and ``ext:google`` are not provided: their managers
import, and building one raises :class:`~beaker.compat.exceptions.InvalidCacheBackendError`.

Imports the compat container, synchronization, backends and config modules.
"""

from __future__ import annotations

from typing import Any

from beaker.compat.config import CACHE_TYPES
from beaker.compat.container import NamespaceManager, StoreNamespaceManager, container_of
from beaker.compat.exceptions import InvalidCacheBackendError
from beaker.compat.synchronization import LockSynchronizer
from beaker.stores import registry


class MemcachedNamespaceManager(StoreNamespaceManager):
    """``ext:memcached``: ``url`` is ``host:port[;host:port]``; ``memcache_module`` is
    accepted and ignored (the client is pymemcache)."""

    beaker_type = "ext:memcached"

    def __init__(self, namespace: str, url: Any = None, **options: Any) -> None:
        super().__init__(namespace, url=url, **options)


class PyLibMCNamespaceManager(MemcachedNamespaceManager):
    """Beaker's pylibmc flavour of ``ext:memcached``: the same store here."""


class RedisNamespaceManager(StoreNamespaceManager):
    """``ext:redis``: ``url`` is a ``redis://`` URL (or a ready client); ``timeout`` is
    accepted (entries expire with their ``expiretime``)."""

    beaker_type = "ext:redis"

    def __init__(self, namespace: str, url: Any = None, timeout: Any = None, **options: Any):
        super().__init__(namespace, url=url, **options)


class RedisClusterNamespaceManager(StoreNamespaceManager):
    """``ext:rediscluster``: ``urls`` is comma-separated ``redis://`` node URLs (or a ready
    ``RedisCluster``)."""

    beaker_type = "ext:rediscluster"

    def __init__(self, namespace: str, urls: Any = None, timeout: Any = None, **options: Any):
        super().__init__(namespace, url=urls, **options)


class DatabaseNamespaceManager(StoreNamespaceManager):
    """``ext:database``: ``url`` a SQLAlchemy URL (``sa_opts`` its ``sa.*`` engine options),
    ``table_name`` the table (ours: ``beaker_entries``)."""

    beaker_type = "ext:database"

    def __init__(
        self, namespace: str, url: Any = None, sa_opts: Any = None, **options: Any
    ) -> None:
        super().__init__(namespace, url=url, **(sa_opts or {}), **options)


class SqlaNamespaceManager(StoreNamespaceManager):
    """``ext:sqla``: ``bind`` a ready Engine, ``table`` whose name is used."""

    beaker_type = "ext:sqla"

    def __init__(self, namespace: str, bind: Any = None, table: Any = None, **options: Any):
        super().__init__(namespace, bind=bind, table=table, **options)


class _NotProvided(NamespaceManager):
    backend = ""

    def __init__(self, namespace: str, *args: Any, **kwargs: Any) -> None:
        raise InvalidCacheBackendError(
            f"the {self.backend!r} backend is not provided by this package; use one of "
            f"{', '.join(CACHE_TYPES)}"
        )


class MongoNamespaceManager(_NotProvided):
    """``ext:mongodb``: not provided."""

    backend = "ext:mongodb"


class GoogleNamespaceManager(_NotProvided):
    """``ext:google``: not provided."""

    backend = "ext:google"


MemcachedContainer = container_of("MemcachedContainer", MemcachedNamespaceManager, __name__)
DatabaseContainer = container_of("DatabaseContainer", DatabaseNamespaceManager, __name__)
SqlaContainer = container_of("SqlaContainer", SqlaNamespaceManager, __name__)
GoogleContainer = container_of("GoogleContainer", GoogleNamespaceManager, __name__)


class RedisSynchronizer(LockSynchronizer):
    """A synchronizer on our :class:`~beaker.locks.RedisLock` at ``url`` (a URL or a ready
    client), on the connection pool every ``ext:redis`` backend of that ``url`` shares."""

    def __init__(self, identifier: str, url: Any) -> None:
        super().__init__(identifier, registry.shared("redis", url=url).lock)


class RedisClusterSynchronizer(LockSynchronizer):
    """A synchronizer on our :class:`~beaker.locks.RedisClusterLock` at ``urls``, sharing
    the cluster's connection as :class:`RedisSynchronizer` does."""

    def __init__(self, identifier: str, urls: Any, nodes: Any = None, **kwargs: Any) -> None:
        super().__init__(identifier, registry.shared("rediscluster", url=urls).lock)


def make_cache_table(
    metadata: Any, table_name: str = "beaker_cache", schema_name: Any = None
) -> Any:
    """Declare our cache table (one row per key) in ``metadata`` under ``table_name``, for
    ``ext:sqla`` (Beaker's function; its one-row-per-namespace layout is not ours)."""
    from beaker.stores.sqlalchemy import make_cache_table as declare

    return declare(metadata, table_name)
