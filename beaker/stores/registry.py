"""The one backend registry: backend type names and URL schemes mapped to store and lock
factories, shared by :func:`beaker.compose` users, the Beaker compat layer (its type names,
third-party ``NamespaceManager`` classes included, translate onto these) and ``python -m
beaker sessions purge``.

=================  ==========================================  ================================
type               store                                       lock (dogpile protection)
=================  ==========================================  ================================
``memory``         ``MemoryStore(max_entries)``                ``ThreadLock()``
``file``           ``FileStore(data_dir)``                     ``FileLock(lock_dir)``
``dbm``            ``DBMStore(data_dir)``                      ``FileLock(lock_dir)``
``redis``          ``RedisStore(url= | client=)``              ``RedisLock`` on the store's
                                                               connection (one pool)
``rediscluster``   ``RedisClusterStore(url= | client=)``       ``RedisClusterLock``, the same
``memcached``      ``MemcachedStore(servers)``                 ``MemcachedLock``, the same
``sqlalchemy``     ``SQLAlchemyStore(url= | engine=, table)``  ``FileLock(lock_dir)``, else
                                                               ``ThreadLock()``
=================  ==========================================  ================================

``namespace_manager``: a :class:`~beaker.stores.namespace_manager.NamespaceManagerStore` over
``manager`` (a Beaker ``NamespaceManager`` class) built with ``options`` (``(name, value)``
pairs), locked by a :class:`~beaker.stores.namespace_manager.ManagerLock`: the manager's
creation lock, else a FileLock in ``lock_dir`` or a ThreadLock, as for sqlalchemy. A name
registered under the ``beaker.backends`` entry point (a third-party package's
``NamespaceManager`` class, as Beaker finds them) is a type too, built the same way from
``options`` and ``lock_dir``. :func:`load_plugins` is the one loader of those entry points:
native lookups raise a failing point's error, Beaker's ``clsmap`` passes Beaker's rules.

URL schemes: ``file:///dir``, ``dbm:///dir``, ``redis://`` / ``rediss://``,
``memcached://host:port[;host:port]``, ``sqlite://`` and ``postgresql[+psycopg]://``. Store
modules are imported only when their type is used, so their client libraries stay optional.
Another backend is one :func:`register` call. :func:`shared` keeps one backend per distinct
configuration for the process (as Beaker shares a namespace's storage).

Must not import from ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
import warnings
from collections.abc import Callable, Collection, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import attrs

from beaker.errors import ConfigError
from beaker.locks.base import Lock
from beaker.locks.thread import ThreadLock
from beaker.stores.base import Store

__all__ = [
    "ENTRY_POINT_GROUP",
    "Backend",
    "BackendType",
    "backend",
    "backend_type",
    "close_shared",
    "frozen_value",
    "load_plugins",
    "manager_type",
    "names",
    "plugins",
    "register",
    "rescan",
    "shared",
    "store_for_url",
]


@attrs.frozen
class Backend:
    """A store and the lock that guards value creation in it.

    Attributes:
        store: the :class:`~beaker.stores.base.Store`.
        lock: the :class:`~beaker.locks.base.Lock` for ``get_or_create``.
    """

    store: Store
    lock: Lock

    def close(self) -> None:
        """Release the store's and the lock's runtime resources (pools, handles)."""
        self.store.close()
        close = getattr(self.lock, "close", None)
        if close is not None:
            close()


@attrs.frozen
class BackendType:
    """How to build one kind of backend.

    Attributes:
        store: ``(**options) -> Store``.
        lock: ``(**options) -> Lock``, given the same options.
        options: the option names the factories take (``frozenset[str]``).
        from_url: ``(url) -> options`` for the type's URL scheme(s), or ``None``.
        shared: the lock is also given ``connection=store.connection``: one connection
            (pool, time budget, circuit breaker) per server for the store and its lock.
    """

    store: Callable[..., Store]
    lock: Callable[..., Lock]
    options: frozenset[str]
    from_url: Callable[[str], dict[str, Any]] | None = None
    shared: bool = False


def _component(module: str, name: str) -> Callable[..., Any]:
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _required(type_name: str, option: str, value: Any, what: str) -> Any:
    if value is None:
        raise ConfigError(option, None, f"{what} for backend type {type_name!r}")
    return value


def _memory_store(max_entries: int | None = None) -> Store:
    return _component("beaker.stores.memory", "MemoryStore")(max_entries)  # type: ignore[no-any-return]


def _thread_lock(**_: Any) -> Lock:
    return ThreadLock()


def _dir_store(type_name: str, module: str, name: str) -> Callable[..., Store]:
    def build(data_dir: str | None = None, lock_dir: str | None = None) -> Store:
        path = _required(type_name, "data_dir", data_dir, "a data directory")
        return _component(module, name)(path)  # type: ignore[no-any-return]

    return build


def _file_lock(type_name: str, optional: bool = False) -> Callable[..., Lock]:
    def build(lock_dir: str | None = None, **_: Any) -> Lock:
        if lock_dir is None and optional:
            return ThreadLock()
        path = _required(type_name, "lock_dir", lock_dir, "a lock directory")
        return _component("beaker.locks.file", "FileLock")(path)  # type: ignore[no-any-return]

    return build


def _server(type_name: str, url: Any, client: Any) -> dict[str, Any]:
    if client is None and url is not None and not isinstance(url, str):
        client = url  # a ready client given as the url (as Beaker's ext:redis takes one)
    if client is not None:
        return {"client": client}
    return {"url": _required(type_name, "url", url, "a redis:// URL")}


def _redis(kind: str, cluster: str) -> tuple[Callable[..., Store], Callable[..., Lock]]:
    def store(url: str | None = None, client: Any = None) -> Store:
        built: Store = _component("beaker.stores.redis", f"Redis{cluster}Store")(
            **_server(kind, url, client)
        )
        return built

    def lock(url: str | None = None, client: Any = None, connection: Any = None) -> Lock:
        where = {"connection": connection} if connection is not None else _server(kind, url, client)
        return _component("beaker.locks.redis", f"Redis{cluster}Lock")(**where)  # type: ignore[no-any-return]

    return store, lock


def _servers(servers: Any) -> str:
    """``host:port[;host:port]``, blanks and empty parts left out."""
    servers = _required("memcached", "servers", servers, "'host:port[;host:port]'")
    return ";".join(part.strip() for part in str(servers).split(";") if part.strip())


def _memcached_store(servers: str | None = None) -> Store:
    return _component("beaker.stores.memcached", "MemcachedStore")(_servers(servers))  # type: ignore[no-any-return]


def _memcached_lock(servers: str | None = None, connection: Any = None) -> Lock:
    lock = _component("beaker.locks.memcached", "MemcachedLock")
    if connection is not None:
        return lock(connection=connection)  # type: ignore[no-any-return]
    return lock(_servers(servers))  # type: ignore[no-any-return]


def _sql_store(
    url: Any = None,
    engine: Any = None,
    table_name: str = "beaker_cache",
    lock_dir: Any = None,
    engine_options: Mapping[str, Any] | None = None,
) -> Store:
    if engine is None:
        _required("sqlalchemy", "url", url, "a SQLAlchemy URL (or an engine)")
    if engine is None and engine_options:  # create_engine() arguments, INI strings coerced
        import sqlalchemy

        config = {f"sa.{name}": value for name, value in {**engine_options, "url": url}.items()}
        engine = sqlalchemy.engine_from_config(config, prefix="sa.")
    where = {"engine": engine} if engine is not None else {"url": url}
    store = _component("beaker.stores.sqlalchemy", "SQLAlchemyStore")
    return store(**where, table_name=table_name)  # type: ignore[no-any-return]


def _manager_store(manager: Callable[..., Any], options: Any = (), lock_dir: Any = None) -> Store:
    kind = _component("beaker.stores.namespace_manager", "NamespaceManagerStore")
    return kind(functools.partial(manager, **dict(options)))  # type: ignore[no-any-return]


def _manager_lock(connection: Any, lock_dir: str | None = None, **_: Any) -> Lock:
    fallback = _file_lock("namespace_manager", optional=True)(lock_dir)
    return _component("beaker.stores.namespace_manager", "ManagerLock")(connection, fallback)  # type: ignore[no-any-return]


def manager_type(manager: Callable[..., Any]) -> BackendType:
    """The backend type of a Beaker ``NamespaceManager`` class: as ``namespace_manager`` with
    ``manager`` fixed (the options are ``options`` and ``lock_dir``)."""
    return BackendType(
        functools.partial(_manager_store, manager),
        _manager_lock,
        frozenset({"options", "lock_dir"}),
        shared=True,
    )


#: The entry-point group third-party packages register ``NamespaceManager`` classes in.
ENTRY_POINT_GROUP: Final = "beaker.backends"
_plugins: tuple[EntryPoint, ...] | None = None


def plugins() -> tuple[EntryPoint, ...]:
    """The installed ``beaker.backends`` entry points (read once; :func:`rescan` reads them
    again)."""
    global _plugins
    if _plugins is None:
        _plugins = tuple(entry_points(group=ENTRY_POINT_GROUP))
    return _plugins


def rescan() -> None:
    """Read the ``beaker.backends`` entry points again at the next use (after installing a
    package)."""
    global _plugins
    _plugins = None


def load_plugins(
    only: str | None = None,
    *,
    taken: Collection[str] = (),
    skip: tuple[type[Exception], ...] = (),
    warn: bool = False,
) -> dict[str, Any]:
    """Load the ``beaker.backends`` entry points, in their order: the one loader of native
    callers (:func:`backend_type`) and of Beaker's ``clsmap``, each passing its rules.

    Args:
        only: load only the points of this name (``None``: all of them).
        taken: names already in use: a point under one of them, or under the name of a point
            loaded before it, clashes.
        skip: exception classes whose points are left out silently (Beaker's rule for its
            ``InvalidCacheBackendError`` and ``SyntaxError``: a backend that cannot work here).
        warn: a point failing otherwise, or clashing, is left out with a ``RuntimeWarning``
            naming it and the error (Beaker's rule); ``False``: the error is raised.

    Returns:
        ``dict`` of point name -> the loaded object (a ``NamespaceManager`` class).

    Raises:
        ConfigError: without ``warn``, a clash.
        Exception: without ``warn``, whatever loading a point raises (ImportError …) and
            ``skip`` does not name.
    """
    loaded: dict[str, Any] = {}
    for point in plugins():
        if only is not None and point.name != only:
            continue
        try:
            manager = point.load()
            if point.name in taken or point.name in loaded:
                raise ConfigError("type", point.name, "an entry point name not already in use")
        except skip:
            continue
        except Exception as exc:
            if not warn:
                raise
            message = f"{ENTRY_POINT_GROUP} entry point {point.name!r} ({point.value}) left out"
            warnings.warn(f"{message}: {exc!r}", RuntimeWarning, stacklevel=2)
            continue
        loaded[point.name] = manager
    return loaded


def _local_path(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError("url", url, "a local path: file:///abs/dir (no host)")
    path = unquote(parts.path)
    if not path:
        raise ConfigError("url", url, "a directory after the scheme, e.g. file:///var/cache")
    if not os.path.isdir(path):
        raise ConfigError("url", url, f"an existing directory ({path} is not one)")
    return {"data_dir": path}


def _memcached_url(url: str) -> dict[str, Any]:
    servers = url.split("://", 1)[1].rstrip("/")
    if not servers:
        raise ConfigError("url", url, "memcached://host:port[;host:port...]")
    return {"servers": servers}


_redis_store, _redis_lock = _redis("redis", "")
_cluster_store, _cluster_lock = _redis("rediscluster", "Cluster")
_DIRS = frozenset({"data_dir", "lock_dir"})
_SERVER = frozenset({"url", "client"})

_TYPES: dict[str, BackendType] = {
    "memory": BackendType(_memory_store, _thread_lock, frozenset({"max_entries"})),
    "file": BackendType(
        _dir_store("file", "beaker.stores.file", "FileStore"),
        _file_lock("file"),
        _DIRS,
        _local_path,
    ),
    "dbm": BackendType(
        _dir_store("dbm", "beaker.stores.dbm", "DBMStore"), _file_lock("dbm"), _DIRS, _local_path
    ),
    "redis": BackendType(_redis_store, _redis_lock, _SERVER, lambda url: {"url": url}, True),
    "rediscluster": BackendType(_cluster_store, _cluster_lock, _SERVER, shared=True),
    "memcached": BackendType(
        _memcached_store, _memcached_lock, frozenset({"servers"}), _memcached_url, True
    ),
    "sqlalchemy": BackendType(
        _sql_store,
        _file_lock("sqlalchemy", optional=True),
        frozenset({"url", "engine", "table_name", "lock_dir", "engine_options"}),
        lambda url: {"url": url},
    ),
    "namespace_manager": BackendType(
        _manager_store, _manager_lock, frozenset({"manager", "options", "lock_dir"}), shared=True
    ),
}

_SCHEMES: dict[str, str] = {
    "file": "file",
    "dbm": "dbm",
    "redis": "redis",
    "rediss": "redis",
    "memcached": "memcached",
    "sqlite": "sqlalchemy",
    "postgresql": "sqlalchemy",
    "postgresql+psycopg": "sqlalchemy",
}


def register(name: str, kind: BackendType, schemes: tuple[str, ...] = ()) -> None:
    """Make ``name`` (and URL ``schemes``) build backends of ``kind``.

    Raises:
        ConfigError: ``name`` is already registered.
    """
    if name in _TYPES:
        raise ConfigError("type", name, "a backend type name not already registered")
    _TYPES[name] = kind
    _SCHEMES.update(dict.fromkeys(schemes, name))


def names() -> tuple[str, ...]:
    """The type names: the registered ones, then the ``beaker.backends`` entry points' (not
    loaded)."""
    return tuple(dict.fromkeys((*_TYPES, *(point.name for point in plugins()))))


def backend_type(name: str) -> BackendType:
    """The :class:`BackendType` registered as ``name``, else the :func:`manager_type` of the
    ``beaker.backends`` entry point ``name`` (loaded by :func:`load_plugins` at each call,
    errors raised: :func:`shared` memoises).

    Raises:
        ConfigError: no such type (the message lists :func:`names`), or two entry points
            named ``name``.
        Exception: whatever loading the entry point raises (ImportError …).
    """
    kind = _TYPES.get(name)
    if kind is not None:
        return kind
    manager = load_plugins(name).get(name)
    if manager is None:
        raise ConfigError("type", name, f"one of {', '.join(names())}")
    return manager_type(manager)


def backend(name: str, **options: Any) -> Backend:
    """Build the store and lock of type ``name`` from ``options`` (see the table above).

    Raises:
        ConfigError: unknown type, or a required option (``data_dir``, ``url`` …) missing.
        ImportError: the type's client library is not installed.
    """
    kind = backend_type(name)
    store = kind.store(**options)
    if kind.shared:
        return Backend(store, kind.lock(**options, connection=store.connection))  # type: ignore[attr-defined]
    return Backend(store, kind.lock(**options))


def frozen_value(value: Any) -> Any:
    """A hashable stand-in for ``value``, equal for equal values: lists and tuples become
    tuples, sets frozensets, dicts ``(dict, frozenset of (key, value))`` pairs, all the way
    down. Dict keys keep their type: ``{1: x}`` and ``{"1": x}`` stay apart.

    Raises:
        TypeError: something else inside is not hashable.
    """
    if isinstance(value, (list, tuple, set, frozenset)):
        items = tuple(frozen_value(item) for item in value)
        return frozenset(items) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, dict):
        return dict, frozenset((key, frozen_value(item)) for key, item in value.items())
    hash(value)
    return value


_shared: dict[Any, Backend] = {}
_shared_mutex = threading.Lock()


def shared(name: str, **options: Any) -> Backend:
    """The process's one backend of type ``name`` and ``options`` (compared by value, see
    :func:`frozen_value`): built by :func:`backend` at the first call, then the same one.
    Thread-safe.

    Raises:
        TypeError: an option value is not hashable (nor a list, set or dict of such).
        ConfigError, ImportError: as :func:`backend`.
    """
    identity = (name, frozen_value(options))
    found = _shared.get(identity)
    if found is None:
        with _shared_mutex:
            found = _shared.get(identity)
            if found is None:
                found = _shared[identity] = backend(name, **options)
    return found


def close_shared() -> None:
    """Close every :func:`shared` backend (pools, handles) and forget them (test isolation)."""
    with _shared_mutex:
        built = list(_shared.values())
        _shared.clear()
    for each in built:
        each.close()


def store_for_url(url: str, schemes: Mapping[str, str] = _SCHEMES) -> Store:
    """The store a URL names (``file:///dir``, ``dbm:///dir``, ``redis://host/0`` …).

    Raises:
        ConfigError: an unknown scheme, or a local directory that does not exist.
    """
    name = schemes.get(urlsplit(url).scheme.lower())
    from_url = None if name is None else _TYPES[name].from_url
    if name is None or from_url is None:
        known = ", ".join(f"{scheme}://" for scheme in sorted(schemes))
        raise ConfigError("store", url, f"a URL starting with one of {known}")
    return _TYPES[name].store(**from_url(url))
