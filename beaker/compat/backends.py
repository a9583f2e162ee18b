"""Beaker's backend type names translated onto :mod:`beaker.stores.registry`, and
third-party Beaker backends (``NamespaceManager`` classes) adapted into native stores.

=====================  ======================================================================
Beaker type            native backend (see :mod:`beaker.stores.registry`)
=====================  ======================================================================
``memory``             ``memory``: one MemoryStore for the whole process, as Beaker's
``file``, ``dbm``      ``file`` / ``dbm`` in ``<data_dir>/beaker_file`` / ``beaker_dbm`` (or
                       ``file_dir`` / ``dbm_dir``), locks in ``lock_dir`` or
                       ``<data_dir>/beaker_lock``
``ext:redis``          ``redis`` (``url`` a URL or a ready client)
``ext:rediscluster``   ``rediscluster`` (``url`` or Beaker's ``urls``)
``ext:memcached``      ``memcached`` (``url`` = ``host:port;host:port``)
``ext:database``       ``sqlalchemy`` (``url`` and Beaker's ``sa.*`` engine options), table
                       ``beaker_entries`` unless ``table_name`` says otherwise
``ext:sqla``           ``sqlalchemy`` over a ready ``bind`` Engine (``table``'s name is used)
anything else          a ``beaker.backends`` entry point (or ``clsmap[name] = cls``): the
                       ``NamespaceManager`` class behind :class:`NamespaceManagerStore`, with
                       our FileLock (``lock_dir``/``data_dir`` given) or ThreadLock for dogpile
                       protection
=====================  ======================================================================

A backend is built once per distinct :class:`~beaker.compat.config.CacheOptions` (front-end
options such as ``expire`` left out) and shared, as Beaker shares a namespace's storage.

Imports the registry, the locks and :mod:`beaker.compat.config`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Final

import attrs

from beaker.compat.config import CacheOptions, clsmap
from beaker.compat.exceptions import InvalidCacheBackendError, MissingOption
from beaker.entry import Entry
from beaker.errors import ConfigError, LockTimeout
from beaker.locks.base import Lease, LeaseBase, Lock, Scope
from beaker.locks.thread import ThreadLock
from beaker.stores import registry
from beaker.stores.registry import Backend

__all__ = ["Backend", "NamespaceManagerStore", "backend", "close_all", "clsmap"]

log = logging.getLogger("beaker.compat")

#: Sub-directories of ``data_dir`` used by the ``file`` and ``dbm`` types and their locks.
FILE_SUBDIR: Final = "beaker_file"
DBM_SUBDIR: Final = "beaker_dbm"
LOCK_SUBDIR: Final = "beaker_lock"
#: Default table of ``ext:database``/``ext:sqla``: not Beaker's ``beaker_cache``, whose
#: one-row-per-namespace layout differs, so both can live in one database while migrating.
DATABASE_TABLE: Final = "beaker_entries"


def _under_data_dir(options: CacheOptions, subdir: str) -> str | None:
    return None if options.data_dir is None else os.path.join(options.data_dir, subdir)


def _lock_dir(options: CacheOptions) -> str | None:
    return options.lock_dir or _under_data_dir(options, LOCK_SUBDIR)


def _directory(subdir: str, own: str) -> Callable[[CacheOptions], dict[str, Any]]:
    def translate(options: CacheOptions) -> dict[str, Any]:
        data_dir = options.extra(own) or _under_data_dir(options, subdir)
        return {"data_dir": data_dir, "lock_dir": _lock_dir(options)}

    return translate


def _server(options: CacheOptions) -> dict[str, Any]:
    return {"url": options.url}  # a URL, or a ready client (the registry takes both)


def _memcached(options: CacheOptions) -> dict[str, Any]:
    if options.memcache_module not in (None, "auto"):
        log.info("memcache_module=%r ignored: the client is pymemcache", options.memcache_module)
    return {"servers": options.url}


def _database(options: CacheOptions) -> dict[str, Any]:
    engine = options.extra("bind")  # ext:sqla: a ready Engine instead of a URL
    if engine is None and options.type == "ext:sqla":
        raise MissingOption(options.option("bind"), None, "a SQLAlchemy Engine for 'ext:sqla'")
    table = options.extra("table")
    return {
        "url": options.url,
        "engine": engine,
        "engine_options": {
            name[3:]: value for name, value in options.backend_options if name[:3] == "sa."
        },
        "table_name": options.extra(
            "table_name", table.name if table is not None else DATABASE_TABLE
        ),
        "lock_dir": _lock_dir(options),
    }


#: The registry's option names -> Beaker's, for errors.
_BEAKER_NAME: Final = {
    "url": "url",
    "servers": "url",
    "data_dir": "data_dir",
    "lock_dir": "data_dir",
}

#: Beaker type name -> (native type name, translation of the options into its arguments).
_TRANSLATIONS: Final[dict[str, tuple[str, Callable[[CacheOptions], dict[str, Any]]]]] = {
    "file": ("file", _directory(FILE_SUBDIR, "file_dir")),
    "dbm": ("dbm", _directory(DBM_SUBDIR, "dbm_dir")),
    "ext:redis": ("redis", _server),
    "ext:rediscluster": ("rediscluster", _server),
    "ext:memcached": ("memcached", _memcached),
    "ext:database": ("sqlalchemy", _database),
    "ext:sqla": ("sqlalchemy", _database),
}


@attrs.frozen
class NamespaceManagerStore:
    """A native :class:`~beaker.stores.base.Store` over Beaker ``NamespaceManager`` objects
    (a third-party backend): one manager per namespace, holding Beaker's ``(storedtime,
    expiretime, value)`` tuples under Beaker's byte keys, inside the manager's read/write
    locks as Beaker's ``Value`` does.

    Args:
        managers: ``(namespace) -> NamespaceManager``, called once per namespace (e.g. the
            manager class with the backend's options bound).
    """

    holds_objects: ClassVar[bool] = True

    managers: Callable[[str], Any]
    _built: dict[str, Any] = attrs.field(init=False, factory=dict, eq=False, repr=False)

    def manager(self, namespace: str) -> Any:
        """The namespace's manager (built at first use)."""
        found = self._built.get(namespace)
        if found is None:
            found = self._built.setdefault(namespace, self.managers(namespace))
        return found

    def get(self, namespace: str, key: str) -> Entry | None:
        name = _bytes(key)
        with _holding(self.manager(namespace), write=False) as manager:
            try:
                if name not in manager:
                    return None
                stored, expire, value = manager[name]
            except (KeyError, TypeError, ValueError):  # gone meanwhile, or not Beaker's tuple
                return None
        return Entry(value, stored, None if expire is None else stored + expire)

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        expire = entry.ttl()
        with _holding(self.manager(namespace), write=True) as manager:
            manager.set_value(_bytes(key), (entry.stored_at, expire, entry.value), expire)

    def delete(self, namespace: str, key: str) -> None:
        name = _bytes(key)
        with (
            _holding(self.manager(namespace), write=True) as manager,
            contextlib.suppress(KeyError),
        ):
            if name in manager:
                del manager[name]

    def clear(self, namespace: str) -> None:
        self.manager(namespace).remove()

    def keys(self, namespace: str) -> Iterator[str]:
        with _holding(self.manager(namespace), write=False) as manager:
            names = list(manager.keys())
        return iter(_text(name) for name in names)

    def close(self) -> None:
        """Forget the managers (their own resources are theirs)."""
        self._built.clear()


@contextlib.contextmanager
def _holding(manager: Any, write: bool) -> Iterator[Any]:
    """``manager`` inside its write (or read) lock, as Beaker's ``Value`` holds it."""
    (manager.acquire_write_lock if write else manager.acquire_read_lock)()
    try:
        yield manager
    finally:
        (manager.release_write_lock if write else manager.release_read_lock)()


def _bytes(key: str) -> bytes:
    return key.encode("ascii", "backslashreplace")  # the keys Beaker's Cache hands managers


def _text(key: Any) -> str:
    return key.decode("ascii", "backslashreplace") if isinstance(key, bytes) else str(key)


class _SynchronizerLease(LeaseBase):
    __slots__ = ("_synchronizer",)

    def __init__(self, synchronizer: Any) -> None:
        self._synchronizer = synchronizer

    def release(self) -> None:
        self._synchronizer.release()


@attrs.frozen
class ManagerLock:
    """The dogpile lock of a :class:`NamespaceManagerStore`: each manager's own
    ``get_creation_lock(key)``, or ``fallback`` (one of our locks) when the manager has none
    (``NotImplementedError`` or a ``null_synchronizer``). A manager's lock cannot time out:
    ``timeout=0`` tries once, any other timeout waits.

    Args:
        managers: ``(namespace) -> NamespaceManager`` (a store's :meth:`~NamespaceManagerStore.manager`).
        fallback: a :class:`~beaker.locks.base.Lock`.
    """

    scope: ClassVar[Scope] = "thread"

    managers: Callable[[str], Any]
    fallback: Lock

    def acquire(self, name: str, timeout: float | None = None) -> Lease:
        size, _, rest = name.partition(":")  # the cache names locks "<len>:<namespace>:<key>"
        namespace, key = rest[: int(size)], rest[int(size) + 1 :]
        try:
            synchronizer = self.managers(namespace).get_creation_lock(_bytes(key))
        except NotImplementedError:
            synchronizer = None
        if synchronizer is None or type(synchronizer).__name__ == "null_synchronizer":
            return self.fallback.acquire(name, timeout)
        if timeout == 0:
            if not synchronizer.acquire(False):
                raise LockTimeout(name, 0)
        else:
            synchronizer.acquire(True)
        return _SynchronizerLease(synchronizer)


def _third_party(manager: type, options: CacheOptions) -> Backend:
    nsargs = {
        name: getattr(options, name)
        for name in ("data_dir", "lock_dir", "url", "enabled", "key_length", "memcache_module")
        if getattr(options, name) is not None
    }
    nsargs.update(options.backend_options)
    store = NamespaceManagerStore(functools.partial(manager, **nsargs))
    lock_dir = _lock_dir(options)
    fallback = registry.backend_type("file").lock(lock_dir=lock_dir) if lock_dir else ThreadLock()
    return Backend(store, ManagerLock(store.manager, fallback))


_built: dict[Any, Backend] = {}
_mutex = threading.Lock()


def _identity(options: CacheOptions) -> Any:
    if (options.type or "memory") == "memory":
        return "memory"  # one process-wide MemoryStore, as Beaker's memory namespaces
    return attrs.evolve(options, expire=None, enabled=None, key_length=None, regions=None)


def _build(options: CacheOptions) -> Backend:
    type_name = options.type or "memory"
    if type_name == "memory":
        return registry.backend("memory")
    manager = clsmap.get(type_name)
    if manager is None:
        raise ConfigError(options.option("type"), type_name, "a known cache type")
    translation = _TRANSLATIONS.get(type_name)
    if translation is None or not hasattr(manager, "beaker_type"):  # not one of ours
        return _third_party(manager, options)
    native, translate = translation
    try:
        return registry.backend(native, **translate(options))
    except ConfigError as exc:
        if exc.value is not None or exc.option not in _BEAKER_NAME:
            raise
        # a required option absent: named as the application spelled it, Beaker's class
        name = _BEAKER_NAME[exc.option]
        expected = f"{exc.expected} (cache type {options.type!r})"
        raise MissingOption(options.option(name), None, expected) from None
    except ImportError as exc:
        raise InvalidCacheBackendError(
            f"cache type {type_name!r} cannot be used: {exc}; install the client library "
            "it needs (the 'redis', 'memcached' or 'sqlalchemy' extra)"
        ) from exc


def backend(options: CacheOptions) -> Backend:
    """The shared backend (store and lock) for ``options``: built at the first call for
    each distinct configuration, then the same one. Thread-safe.

    Raises:
        MissingOption: the type needs ``url``, ``data_dir`` or ``bind`` and it is absent
            (named as the application spelled it).
        InvalidCacheBackendError: the type's client library is not installed.
        ConfigError: the store or lock refused its arguments.
    """
    identity = _identity(options)
    found = _built.get(identity)
    if found is None:
        with _mutex:
            found = _built.get(identity)
            if found is None:
                found = _built[identity] = _build(options)
    return found


def close_all() -> None:
    """Close every built backend (pools, handles) and forget them (test isolation)."""
    with _mutex:
        built = list(_built.values())
        _built.clear()
    for each in built:
        each.close()
