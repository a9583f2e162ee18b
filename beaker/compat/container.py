"""Beaker's container API (``beaker.container``): the ``NamespaceManager`` family, ``Value``
and the ``Container`` family, as a translation onto the native :class:`beaker.caching.Cache`.

* :class:`NamespaceManager` and :class:`OpenResourceNamespaceManager` are Beaker's base
  classes, for third-party backends to subclass (their contracts, no storage).
* :class:`StoreNamespaceManager` and its subclasses (``MemoryNamespaceManager``,
  ``FileNamespaceManager``, ``DBMNamespaceManager`` and the ``beaker.ext`` ones) are our
  stores seen as Beaker namespace managers: the same backend a ``Cache`` of those options
  uses, entries read and written as Beaker's ``(storedtime, expiretime, value)`` tuples.
* :class:`Value` is one key of a namespace manager, served by the native cache's
  ``get_or_create`` (dogpile-protected by the manager's creation lock, or ours when it has
  none); :class:`Container` subclasses name a manager class, as Beaker's deprecated API.

Imports :mod:`beaker.caching`, the backend registry and the compat config, backends and
synchronization modules.
"""

from __future__ import annotations

import threading
from typing import Any

from beaker.caching import Cache as CoreCache
from beaker.caching import compose
from beaker.compat.backends import backend
from beaker.compat.config import cache_options
from beaker.compat.exceptions import CreationAbortedError
from beaker.compat.synchronization import LockSynchronizer
from beaker.entry import MISSING
from beaker.stores import registry
from beaker.stores.namespace_manager import key_text

__all__ = [
    "Container",
    "ContainerContext",
    "ContainerMeta",
    "CreationAbortedError",
    "DBMContainer",
    "DBMNamespaceManager",
    "DbmContainer",
    "FileContainer",
    "FileNamespaceManager",
    "MemoryContainer",
    "MemoryNamespaceManager",
    "NamespaceManager",
    "OpenResourceNamespaceManager",
    "StoreNamespaceManager",
    "Value",
]


class NamespaceManager:
    """One namespace of key -> value with locking hooks (Beaker's base class). Subclasses
    implement ``__getitem__``, ``__setitem__``, ``__contains__``, ``__delitem__``,
    ``keys()``, ``do_remove()`` and ``get_creation_lock(key)``; the read/write lock methods
    do nothing unless overridden."""

    @classmethod
    def _init_dependencies(cls) -> None:
        """Import the libraries the backend needs (called by ``__init__``)."""

    def __init__(self, namespace: str) -> None:
        self._init_dependencies()
        self.namespace = namespace

    def _unimplemented(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    get_creation_lock = do_remove = keys = _unimplemented
    __getitem__ = __setitem__ = __contains__ = __delitem__ = _unimplemented

    def acquire_write_lock(self, wait: bool = True, replace: bool = False) -> bool:
        return True

    def _nothing(self) -> None:
        pass

    acquire_read_lock = release_read_lock = release_write_lock = _nothing

    def has_key(self, key: Any) -> bool:
        return key in self

    def set_value(self, key: Any, value: Any, expiretime: Any = None) -> None:
        """``self[key] = value``; ``expiretime`` (seconds) is a hint for backends."""
        self[key] = value

    def remove(self) -> None:
        """Remove everything in the namespace."""
        self.do_remove()


class OpenResourceNamespaceManager(NamespaceManager):
    """A manager whose reads and writes open and close a resource (Beaker's base class):
    subclasses implement ``get_access_lock()``, ``do_open(flags, replace)`` and
    ``do_close()``; nested opens by one manager share one open resource."""

    get_access_lock = do_open = do_close = NamespaceManager._unimplemented

    def __init__(self, namespace: str) -> None:
        NamespaceManager.__init__(self, namespace)
        self.access_lock = self.get_access_lock()
        self.openers = 0
        self.mutex = threading.Lock()

    def _opened(self, release: Any, flags: str, replace: bool = False) -> None:
        try:
            self.open(flags, checkcount=True, replace=replace)
        except BaseException:
            release()
            raise

    def _closed(self, release: Any) -> None:
        try:
            self.close(checkcount=True)
        finally:
            release()

    def acquire_read_lock(self) -> None:
        self.access_lock.acquire_read_lock()
        self._opened(self.access_lock.release_read_lock, "r")

    def release_read_lock(self) -> None:
        self._closed(self.access_lock.release_read_lock)

    def acquire_write_lock(self, wait: bool = True, replace: bool = False) -> bool:
        got = self.access_lock.acquire_write_lock(wait)
        if wait or got:
            self._opened(self.access_lock.release_write_lock, "c", replace)
        return bool(got)

    def release_write_lock(self) -> None:
        self._closed(self.access_lock.release_write_lock)

    def open(self, flags: str, checkcount: bool = False, replace: bool = False) -> None:
        with self.mutex:
            if not checkcount or self.openers == 0:
                self.do_open(flags, replace)
            self.openers = self.openers + 1 if checkcount else 1

    def close(self, checkcount: bool = False) -> None:
        with self.mutex:
            if checkcount:
                self.openers -= 1
                if self.openers == 0:
                    self.do_close()
            else:
                if self.openers > 0:
                    self.do_close()
                self.openers = 0

    def remove(self) -> None:
        self.access_lock.acquire_write_lock()
        try:
            self.close(checkcount=False)
            self.do_remove()
        finally:
            self.access_lock.release_write_lock()


class StoreNamespaceManager(NamespaceManager):
    """One of our backends as a Beaker namespace manager: the backend a ``Cache`` of
    ``type = beaker_type`` and these ``options`` uses, so both see the same entries.

    Args:
        namespace: the namespace (``str``).
        **options: the type's Beaker options (``data_dir``, ``url`` …).

    Raises:
        ConfigError: as for a ``Cache`` of these options (``MissingCacheParameter`` for a
            missing ``data_dir``/``url``).
    """

    beaker_type = "memory"

    def __init__(self, namespace: str, **options: Any) -> None:
        NamespaceManager.__init__(self, namespace)
        parts = backend(cache_options({**options, "type": self.beaker_type}))
        self.cache: CoreCache = compose(parts.store, lock=parts.lock, namespace=namespace)

    @classmethod
    def over(cls, cache: CoreCache) -> StoreNamespaceManager:
        """The manager of ``cache``'s namespace and backend (a ``Cache``'s ``namespace``)."""
        manager = cls.__new__(cls)
        NamespaceManager.__init__(manager, cache.name)
        manager.cache = cache
        return manager

    def get_creation_lock(self, key: Any) -> LockSynchronizer:
        return LockSynchronizer(f"{self.namespace}:{key_text(key)}", self.cache.lock)

    def __getitem__(self, key: Any) -> Any:
        entry = self.cache.entry(key_text(key))
        if entry is None:
            raise KeyError(key)
        return (entry.stored_at, entry.ttl(), entry.value)

    def set_value(self, key: Any, value: Any, expiretime: Any = None) -> None:
        """Store a Beaker ``(storedtime, expiretime, value)`` tuple (other values are kept
        as they are, with ``expiretime`` seconds)."""
        if isinstance(value, tuple) and len(value) == 3:
            expiretime, value = value[1], value[2]
        self.cache.set(key_text(key), value, expiretime)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set_value(key, value)

    def __contains__(self, key: Any) -> bool:
        return self.cache.entry(key_text(key)) is not None

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        self.cache.delete(key_text(key))

    def keys(self) -> list[str]:
        return self.cache.keys()

    def do_remove(self) -> None:
        self.cache.clear()


class MemoryNamespaceManager(StoreNamespaceManager):
    """The process's memory store as a namespace manager (Beaker's ``memory`` type)."""

    beaker_type = "memory"


class FileNamespaceManager(StoreNamespaceManager):
    """The ``file`` type's store (``data_dir`` or ``file_dir``, ``lock_dir``)."""

    beaker_type = "file"


class DBMNamespaceManager(StoreNamespaceManager):
    """The ``dbm`` type's store (``data_dir`` or ``dbm_dir``, ``lock_dir``)."""

    beaker_type = "dbm"


def _cache_of(manager: Any) -> CoreCache:
    """The native cache serving ``Value`` objects of ``manager`` (kept on the manager)."""
    if isinstance(manager, StoreNamespaceManager):
        return manager.cache
    cache = getattr(manager, "_beaker_value_cache", None)
    if cache is None:
        parts = registry.backend("namespace_manager", manager=lambda namespace: manager)
        cache = compose(parts.store, lock=parts.lock, namespace=manager.namespace)
        manager._beaker_value_cache = cache
    return cache


class Value:
    """One key of a namespace manager with Beaker's per-key services: expiry
    (``expiretime`` seconds, ``starttime``), creation with ``createfunc`` under the
    manager's creation lock (ours when it has none), the expired value served while another
    worker recreates it.

    Args:
        key: the key (``str`` or ``bytes``).
        namespace: the :class:`NamespaceManager`.
        createfunc: ``() -> value``, for :meth:`get_value` on a miss.
        expiretime: seconds a created or set value stays fresh; ``None`` = forever.
        starttime: values stored before this time are stale.
    """

    __slots__ = ("createfunc", "expire_argument", "key", "namespace", "starttime", "storedtime")

    def __init__(
        self,
        key: Any,
        namespace: Any,
        createfunc: Any = None,
        expiretime: Any = None,
        starttime: Any = None,
    ) -> None:
        self.key, self.namespace, self.createfunc = key, namespace, createfunc
        self.expire_argument, self.starttime, self.storedtime = expiretime, starttime, -1

    def _cache(self) -> CoreCache:
        cache = _cache_of(self.namespace)
        return cache if self.starttime is None else cache.evolve(fresh_after=self.starttime)

    def has_value(self) -> bool:
        """Whether a value is stored, fresh or not."""
        return self._cache().entry(key_text(self.key)) is not None

    def has_current_value(self) -> bool:
        return self._cache().get(key_text(self.key)) is not MISSING

    def can_have_value(self) -> bool:
        return self.has_current_value() or self.createfunc is not None

    def get_value(self) -> Any:
        """The fresh value, or a new one from ``createfunc``.

        Raises:
            KeyError: no fresh value and no ``createfunc``.
        """
        cache, key = self._cache(), key_text(self.key)
        if self.createfunc is None:
            value = cache.get(key)
            if value is MISSING:
                raise KeyError(self.key)
            return value
        return cache.get_or_create(key, self.createfunc, self.expire_argument)

    def set_value(self, value: Any, storedtime: Any = None) -> None:
        self._cache().set(key_text(self.key), value, self.expire_argument)

    def clear_value(self) -> None:
        self._cache().delete(key_text(self.key))
        self.storedtime = -1


#: Container classes -> their namespace manager class (Beaker's registry).
namespace_classes: dict[type, type] = {}
ContainerContext = dict


class ContainerMeta(type):
    """Calling a ``Container`` class gives a :class:`Value` of its ``namespace_class``,
    the manager kept in ``context`` by namespace (Beaker's deprecated API)."""

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> None:
        namespace_classes[cls] = cls.namespace_class  # type: ignore[attr-defined]
        super().__init__(name, bases, namespace)

    def __call__(
        cls,
        key: Any,
        context: dict[str, Any],
        namespace: str,
        createfunc: Any = None,
        expiretime: Any = None,
        starttime: Any = None,
        **kwargs: Any,
    ) -> Value:
        if namespace not in context:
            context[namespace] = namespace_classes[cls](namespace, **kwargs)
        return Value(key, context[namespace], createfunc, expiretime, starttime)


class Container(metaclass=ContainerMeta):
    """Names a namespace manager class in ``namespace_class`` (Beaker's ``Container``)."""

    namespace_class: type = NamespaceManager


def container_of(name: str, manager: type, module: str = __name__) -> Any:
    """A ``Container`` subclass named ``name`` whose ``namespace_class`` is ``manager``."""
    return ContainerMeta(name, (Container,), {"namespace_class": manager, "__module__": module})


FileContainer = container_of("FileContainer", FileNamespaceManager)
MemoryContainer = container_of("MemoryContainer", MemoryNamespaceManager)
DBMContainer = DbmContainer = container_of("DBMContainer", DBMNamespaceManager)
