"""Beaker's backend type names mapped to our stores and locks.

=====================  ===========================================  ==========================
type                   store                                        dogpile lock
=====================  ===========================================  ==========================
``memory``             :class:`~beaker.stores.MemoryStore`          ThreadLock
``file``               :class:`~beaker.stores.FileStore`            FileLock (``lock_dir``)
``dbm``                :class:`~beaker.stores.DBMStore`             FileLock (``lock_dir``)
``ext:redis``          :class:`~beaker.stores.RedisStore`           RedisLock
``ext:rediscluster``   :class:`~beaker.stores.RedisClusterStore`    RedisClusterLock
``ext:memcached``      :class:`~beaker.stores.MemcachedStore`       MemcachedLock
``ext:database``       :class:`~beaker.stores.SQLAlchemyStore`      FileLock / ThreadLock
``ext:sqla``           :class:`~beaker.stores.SQLAlchemyStore`      FileLock / ThreadLock
=====================  ===========================================  ==========================

``ext:database`` takes ``url`` (and Beaker's ``sa.*`` engine options), ``ext:sqla`` a ready
``bind`` Engine (and ``table``, whose name is used); both use the table ``beaker_entries``
unless ``table_name`` says otherwise. Their dogpile lock is a FileLock when ``lock_dir`` or
``data_dir`` is given, else a ThreadLock.

``file`` and ``dbm`` keep their data in ``<data_dir>/beaker_file`` and
``<data_dir>/beaker_dbm`` (so they can share a ``data_dir`` with each other and with files
Beaker left there) and their locks in ``lock_dir``, or ``<data_dir>/beaker_lock`` when no
``lock_dir`` is given. Network stores are imported only when their type is first used, so
their client libraries stay optional.

A :class:`BackendRegistry` builds each backend once per distinct configuration and shares it,
as Beaker shares a namespace's storage between all ``Cache`` objects of a process: two caches
of type ``memory`` with the same namespace see the same entries.

Imports stores, locks, :mod:`beaker.caching` and :mod:`beaker.compat.config`; never sessions.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from beaker.caching import Cache as CoreCache
from beaker.caching import compose
from beaker.compat.config import CacheOptions
from beaker.compat.exceptions import InvalidCacheBackendError, MissingOption
from beaker.locks.base import Lock
from beaker.locks.thread import ThreadLock
from beaker.stores.base import Store
from beaker.stores.memory import MemoryStore

__all__ = ["Backend", "BackendRegistry"]

log = logging.getLogger("beaker.compat")

#: Sub-directories of ``data_dir`` used by the ``file`` and ``dbm`` types and their locks.
FILE_SUBDIR: Final = "beaker_file"
DBM_SUBDIR: Final = "beaker_dbm"
LOCK_SUBDIR: Final = "beaker_lock"
#: Default table of ``ext:database``/``ext:sqla``: not Beaker's ``beaker_cache``, whose
#: one-row-per-namespace layout differs, so both can live in one database while migrating.
DATABASE_TABLE: Final = "beaker_entries"


@attrs.frozen
class Backend:
    """A store and its dogpile lock, built for one backend configuration.

    Attributes:
        type: the Beaker type name (``str``).
        store: the :class:`~beaker.stores.base.Store`.
        lock: the :class:`~beaker.locks.base.Lock` used by ``get_or_create``.
    """

    type: str
    store: Store
    lock: Lock

    def cache(self, namespace: str) -> CoreCache:
        """A composed cache over this backend working in ``namespace``."""
        return compose(self.store, lock=self.lock, namespace=namespace)


def _load(module: str, name: str, type_name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise InvalidCacheBackendError(
            f"cache type {type_name!r} needs {module}.{name}, which cannot be imported ({exc}); "
            "install the client library it needs (the 'redis', 'memcached' or 'sqlalchemy' extra)"
        ) from exc


def _require(options: CacheOptions, name: str, type_name: str, what: str) -> Any:
    value = getattr(options, name)
    if value is None:
        raise MissingOption(name, None, f"{what} for cache type {type_name!r}")
    return value


def _lock_dir(options: CacheOptions) -> str:
    if options.lock_dir is not None:
        return options.lock_dir
    return os.path.join(_require(options, "data_dir", "file", "a directory"), LOCK_SUBDIR)


def _file_lock(options: CacheOptions) -> Lock:
    return _load("beaker.locks.file", "FileLock", "file")(_lock_dir(options))  # type: ignore[no-any-return]


def _build_file(options: CacheOptions, extras: Mapping[str, Any]) -> Backend:
    data_dir = extras.get("file_dir") or os.path.join(
        _require(options, "data_dir", "file", "a data directory (data_dir)"), FILE_SUBDIR
    )
    store = _load("beaker.stores.file", "FileStore", "file")(data_dir)
    return Backend("file", store, _file_lock(options))


def _build_dbm(options: CacheOptions, extras: Mapping[str, Any]) -> Backend:
    data_dir = extras.get("dbm_dir") or os.path.join(
        _require(options, "data_dir", "dbm", "a data directory (data_dir)"), DBM_SUBDIR
    )
    store = _load("beaker.stores.dbm", "DBMStore", "dbm")(data_dir)
    return Backend("dbm", store, _file_lock(options))


def _build_redis(options: CacheOptions, extras: Mapping[str, Any]) -> Backend:
    url = _require(options, "url", "ext:redis", "a redis:// URL")
    where = {"url": url} if isinstance(url, str) else {"client": url}  # a ready client
    store = _load("beaker.stores.redis", "RedisStore", "ext:redis")(**where)
    lock = _load("beaker.locks.redis", "RedisLock", "ext:redis")(**where)
    return Backend("ext:redis", store, lock)


def _build_redis_cluster(options: CacheOptions, extras: Mapping[str, Any]) -> Backend:
    url = _require(options, "url", "ext:rediscluster", "a redis:// URL of a cluster node")
    where = {"url": url} if isinstance(url, str) else {"client": url}
    store = _load("beaker.stores.redis", "RedisClusterStore", "ext:rediscluster")(**where)
    lock = _load("beaker.locks.redis", "RedisClusterLock", "ext:rediscluster")(**where)
    return Backend("ext:rediscluster", store, lock)


def _build_memcached(options: CacheOptions, extras: Mapping[str, Any]) -> Backend:
    if options.memcache_module not in (None, "auto"):
        log.info(
            "memcache_module=%r ignored: the memcached client is pymemcache",
            options.memcache_module,
        )
    url = _require(options, "url", "ext:memcached", "'host:port' (';'-separated for several)")
    servers = ";".join(part.strip() for part in str(url).split(";") if part.strip())
    store = _load("beaker.stores.memcached", "MemcachedStore", "ext:memcached")(servers=servers)
    lock = _load("beaker.locks.memcached", "MemcachedLock", "ext:memcached")(servers=servers)
    return Backend("ext:memcached", store, lock)


def _build_database(options: CacheOptions, extras: Mapping[str, Any]) -> Backend:
    type_name = "ext:database"
    table_name = extras.get("table_name", DATABASE_TABLE)
    bind = extras.get("bind")  # ext:sqla style: an Engine instead of a URL
    url = None if bind is not None else _require(options, "url", type_name, "a SQLAlchemy URL")
    store_class = _load("beaker.stores.sqlalchemy", "SQLAlchemyStore", type_name)
    sa_options = {key: value for key, value in extras.items() if key.startswith("sa.")}
    if bind is None and sa_options:  # Beaker's sa.* options configure the engine
        import sqlalchemy

        bind = sqlalchemy.engine_from_config({**sa_options, "sa.url": url}, prefix="sa.")
    if bind is not None:
        store = store_class(engine=bind, table_name=table_name)
    else:
        store = store_class(url=url, table_name=table_name)
    has_dir = options.lock_dir is not None or options.data_dir is not None
    return Backend(type_name, store, _file_lock(options) if has_dir else ThreadLock())


def _build_sqla(options: CacheOptions, extras: Mapping[str, Any]) -> Backend:
    table = extras.get("table")
    if table is not None and "table_name" not in extras:
        extras = {**extras, "table_name": table.name}
    if extras.get("bind") is None and options.url is None:
        raise MissingOption("bind", None, "a SQLAlchemy Engine (bind) for cache type 'ext:sqla'")
    backend = _build_database(options, extras)
    return attrs.evolve(backend, type="ext:sqla")


_BUILDERS: Final[dict[str, Callable[[CacheOptions, Mapping[str, Any]], Backend]]] = {
    "file": _build_file,
    "dbm": _build_dbm,
    "ext:redis": _build_redis,
    "ext:rediscluster": _build_redis_cluster,
    "ext:memcached": _build_memcached,
    "ext:database": _build_database,
    "ext:sqla": _build_sqla,
}

# Extra (non-CacheOptions) options that change which storage a backend uses.
_STORAGE_EXTRAS: Final = (
    "file_dir",
    "dbm_dir",
    "table_name",
    "table",
    "bind",
    "sa.pool_recycle",
    "sa.pool_size",
    "sa.echo",
    "sa.max_overflow",
)


class _Built:
    """The registry's mutable part: built backends and the mutex guarding their creation."""

    __slots__ = ("backends", "mutex")

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.backends: dict[tuple[Any, ...], Backend] = {}


@attrs.frozen
class BackendRegistry:
    """Builds a :class:`Backend` per distinct backend configuration, once, and shares it.

    All ``memory`` caches share one :class:`~beaker.stores.MemoryStore` and one
    :class:`~beaker.locks.ThreadLock`; file-like and network backends are shared per
    (type, directories, URL). Thread-safe.

    Args:
        memory: the store behind every ``memory`` cache (``MemoryStore``).
    """

    memory: MemoryStore = attrs.field(factory=MemoryStore)
    _thread_lock: ThreadLock = attrs.field(init=False, factory=ThreadLock, eq=False, repr=False)
    _built: _Built = attrs.field(init=False, factory=_Built, eq=False, repr=False)

    def backend(self, options: CacheOptions, extras: Mapping[str, Any] = {}) -> Backend:
        """The backend for ``options`` (``type`` ``None`` means ``memory``).

        Args:
            options: coerced cache options.
            extras: other options given with them (``file_dir``, ``table_name``, ``bind`` …).

        Raises:
            MissingOption: the type needs ``url`` or ``data_dir`` and it is absent.
            InvalidCacheBackendError: the type's store cannot be imported.
            ConfigError: the store or lock refused its arguments.
        """
        type_name = options.type or "memory"
        if type_name == "memory":
            return Backend("memory", self.memory, self._thread_lock)
        identity = (
            type_name,
            options.data_dir,
            options.lock_dir,
            options.url if isinstance(options.url, (str, type(None))) else id(options.url),
            tuple(
                id(extras.get(name)) if name in ("bind", "table") else extras.get(name)
                for name in _STORAGE_EXTRAS
            ),
        )
        built = self._built
        backend = built.backends.get(identity)
        if backend is None:
            with built.mutex:
                backend = built.backends.get(identity)
                if backend is None:
                    backend = _BUILDERS[type_name](options, extras)
                    built.backends[identity] = backend
        return backend

    def close(self) -> None:
        """Close every built store and lock (their pools and handles) and forget them."""
        with self._built.mutex:
            backends = list(self._built.backends.values())
            self._built.backends.clear()
        for backend in backends:
            backend.store.close()
            close_lock = getattr(backend.lock, "close", None)
            if close_lock is not None:
                close_lock()
