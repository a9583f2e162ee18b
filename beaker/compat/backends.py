"""Beaker's backend type names translated onto :mod:`beaker.stores.registry`.

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
anything else          ``namespace_manager``: a ``beaker.backends`` entry point's (or
                       ``clsmap._clsmap[name] = cls``) ``NamespaceManager`` class with every
                       option (Beaker's ``**nsargs``), our FileLock (``lock_dir`` /
                       ``data_dir``) or ThreadLock when it has no creation lock
=====================  ======================================================================

Imports the registry and :mod:`beaker.compat.config`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, Final

from beaker.compat.config import CacheOptions, clsmap
from beaker.compat.exceptions import InvalidCacheBackendError, MissingOption
from beaker.errors import ConfigError
from beaker.stores import registry
from beaker.stores.namespace_manager import NamespaceManagerStore
from beaker.stores.registry import Backend
from beaker.stores.registry import close_shared as close_all

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
    "memory": ("memory", lambda options: {}),  # one process-wide MemoryStore, as Beaker's
    "file": ("file", _directory(FILE_SUBDIR, "file_dir")),
    "dbm": ("dbm", _directory(DBM_SUBDIR, "dbm_dir")),
    "ext:redis": ("redis", _server),
    "ext:rediscluster": ("rediscluster", _server),
    "ext:memcached": ("memcached", _memcached),
    "ext:database": ("sqlalchemy", _database),
    "ext:sqla": ("sqlalchemy", _database),
}


def _third_party(options: CacheOptions) -> dict[str, Any]:
    nsargs = {
        name: getattr(options, name)
        for name in ("data_dir", "lock_dir", "url", "enabled", "key_length", "memcache_module")
        if getattr(options, name) is not None
    }
    nsargs.update(options.backend_options)
    return {"options": tuple(nsargs.items()), "lock_dir": _lock_dir(options)}


def backend(options: CacheOptions) -> Backend:
    """The shared backend (store and lock) for ``options``: the registry's
    :func:`~beaker.stores.registry.shared` one of their translation (so front-end options
    such as ``expire`` do not matter). Thread-safe.

    Raises:
        MissingOption: the type needs ``url``, ``data_dir`` or ``bind`` and it is absent
            (named as the application spelled it).
        InvalidCacheBackendError: the type's client library is not installed.
        ConfigError: unknown type, or the store or lock refused its arguments.
    """
    type_name = options.type or "memory"
    manager = clsmap.get(type_name)
    if manager is None:
        raise ConfigError(options.option("type"), type_name, "a known cache type")
    translation = _TRANSLATIONS.get(type_name)
    if translation is None or getattr(manager, "beaker_type", None) != type_name:  # not ours
        native, arguments = "namespace_manager", {"manager": manager, **_third_party(options)}
    else:
        native, arguments = translation[0], translation[1](options)
    try:
        return registry.shared(native, **arguments)
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
