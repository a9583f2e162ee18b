"""Beaker's caching API (``beaker.cache``): :class:`Cache`, :class:`CacheManager`,
:data:`cache_regions`, :func:`cache_region` and :func:`region_invalidate`.

Each Beaker ``Cache`` is a thin translation onto a composed :class:`beaker.caching.Cache`
(built by :mod:`beaker.compat.backends`): a hit is one store read and nothing else. Decorator
keys are Beaker's exactly — the decorator's arguments, then the call's positional arguments
(a first ``self``/``cls`` left out), then ``name:value`` of keyword arguments, ``str()``-ed and
joined by spaces, replaced by their SHA-1 hex digest when ``len(key) + len(namespace)``
exceeds ``key_length`` — and the namespace is Beaker's ``"<source file>|<function name>"``, so
an application's ``region_invalidate`` calls reach the entries its decorators wrote.

Beaker's API is process-global by design: :data:`cache_regions` is a module-level dict that
applications and frameworks fill in, and caches of one namespace share their storage. That
state lives here, in :data:`cache_regions`, :data:`cache_managers` and one
:class:`~beaker.compat.backends.BackendRegistry`; nothing else in the package is global.

Imports :mod:`beaker.caching`, :mod:`beaker.policies` and the other compat modules; never
sessions.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from beaker.caching import Cache as CoreCache
from beaker.compat.backends import Backend, BackendRegistry
from beaker.compat.config import DEFAULT_KEY_LENGTH, cache_options
from beaker.compat.exceptions import BeakerException, RegionNotConfigured
from beaker.entry import MISSING
from beaker.errors import ConfigError
from beaker.policies.keys import ArgsKey, function_namespace

__all__ = [
    "Cache",
    "CacheManager",
    "cache_managers",
    "cache_region",
    "cache_regions",
    "region_decorate",
    "region_invalidate",
]

#: Region name -> that region's options (``type``, ``expire``, ``data_dir`` …), as Beaker's
#: module-level dictionary. ``CacheManager(cache_regions=...)`` and frameworks such as
#: pyramid_beaker fill it in; :func:`cache_region` reads it at call time.
cache_regions: dict[str, dict[str, Any]] = {}

#: ``Cache`` objects built from option dictionaries, by namespace and options (Beaker's
#: memo of the same name; clearing it only drops the objects, not the cached data).
cache_managers: dict[str, Cache] = {}

_backends = BackendRegistry()


def backend_for(options: Any, extras: Mapping[str, Any] = {}) -> Backend:
    """The shared backend (store and lock) for coerced ``options`` — the one every ``Cache``
    and compat session of this process with the same configuration uses."""
    return _backends.backend(options, extras)


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _as_key(key: Any) -> str:
    """Stores take ``str`` keys; Beaker also accepted bytes and other objects."""
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return key.decode("utf-8", "surrogateescape")
    return str(key)


def _seconds(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return int(value)
    raise ConfigError(name, value, "a whole number of seconds >= 0, or None")


_KEYWORDS = frozenset({"createfunc", "expiretime", "expire", "starttime"})


def _check_keywords(kw: Mapping[str, Any]) -> None:
    unknown = set(kw) - _KEYWORDS
    if unknown:  # Beaker raised TypeError here too
        raise TypeError(
            f"unexpected keyword argument(s) {', '.join(sorted(unknown))}; expected createfunc, "
            "expiretime (or expire) and starttime"
        )


class Cache:
    """A cache namespace with Beaker's interface (``beaker.cache.Cache``).

    Args:
        namespace: the namespace (``str``).
        type: backend type name (``"memory"``, ``"file"``, ``"dbm"``, ``"ext:redis"`` …).
        expiretime: seconds values stay fresh (``int``; Beaker's legacy name of ``expire``).
        starttime: values stored before this time (seconds since the epoch) are stale.
        expire: seconds values stay fresh (``int``); ``None`` = until removed.
        **nsargs: backend options: ``data_dir``, ``lock_dir``, ``url``, ``enabled`` (``False``
            stores nothing: ``get`` with a ``createfunc`` calls it every time) …

    Raises:
        ConfigError: a bad option (:class:`~beaker.compat.exceptions.UnknownBackendType` for
            an unknown type, :class:`~beaker.compat.exceptions.MissingOption` for a missing
            ``url``/``data_dir``).
    """

    __slots__ = (
        "_backend",
        "_core",
        "_get",
        "enabled",
        "expiretime",
        "namespace",
        "namespace_name",
        "nsargs",
        "starttime",
        "type",
    )

    def __init__(
        self,
        namespace: str,
        type: str = "memory",
        expiretime: int | None = None,
        starttime: float | None = None,
        expire: int | None = None,
        **nsargs: Any,
    ) -> None:
        options = cache_options({**nsargs, "type": type, "expire": expire})
        self._backend: Backend = _backends.backend(options, nsargs)
        self._core: CoreCache = self._backend.cache(namespace)
        self._get: Callable[[str], Any] = self._core.get
        self.namespace_name = namespace
        self.namespace = _NamespaceView(self._core)
        self.type = self._backend.type
        self.expiretime = _seconds("expiretime", expiretime) or options.expire
        self.starttime = starttime
        self.enabled = options.enabled is not False
        self.nsargs = nsargs

    @classmethod
    def _get_cache(cls, namespace: str, kw: Mapping[str, Any]) -> Cache:
        """The shared ``Cache`` of ``namespace`` for options ``kw`` (built once)."""
        memo = namespace + str(kw)
        cache = cache_managers.get(memo)
        if cache is None:
            cache = cache_managers.setdefault(memo, cls(namespace, **kw))
        return cache

    def __repr__(self) -> str:
        return f"<beaker Cache {self.namespace_name!r} type={self.type!r}>"

    # -- reading ----------------------------------------------------------------------------

    def get(self, key: Any, **kw: Any) -> Any:
        """Return the fresh value under ``key``.

        Keyword arguments (Beaker's): ``createfunc`` (``() -> value``) makes, stores and
        returns the value on a miss — one creator at a time per key within the backend's
        lock scope, the others wait for it; ``expiretime`` (or ``expire``) overrides the
        cache's expiry for that created value, in seconds; ``starttime`` overrides the
        cache's.

        Raises:
            KeyError: a miss and no ``createfunc``.
            TypeError: an unknown keyword argument.
        """
        if kw:
            return self._get_with(key, kw)
        value = self._get(key if type(key) is str else _as_key(key))
        if value is MISSING:
            if self.starttime is not None or not self.enabled:
                return self._get_with(key, kw)
            raise KeyError(key)
        if self.starttime is not None:
            return self._get_with(key, kw)
        return value

    get_value = get

    def _get_with(self, key: Any, kw: dict[str, Any]) -> Any:
        if "type" in kw:
            return self._legacy(kw).get(key, **kw)
        _check_keywords(kw)
        key = _as_key(key)
        createfunc = kw.get("createfunc")
        expiretime = self._ttl(kw)
        starttime = kw.get("starttime", self.starttime)
        if not self.enabled:
            if createfunc is None:
                raise KeyError(key)
            return createfunc()
        value = self._get(key)
        if value is not MISSING and starttime is not None:
            entry = self._core.store.get(self.namespace_name, key)
            if entry is None or entry.stored_at < starttime:
                self._core.delete(key)
                value = MISSING
        if value is not MISSING:
            return value
        if createfunc is None:
            raise KeyError(key)
        return self._core.get_or_create(key, createfunc, expiretime)

    def __getitem__(self, key: Any) -> Any:
        return self.get(key)

    def __contains__(self, key: Any) -> bool:
        """Whether a fresh value is stored under ``key`` (Beaker's ``has_current_value``)."""
        try:
            self.get(key)
        except KeyError:
            return False
        return True

    def has_key(self, key: Any) -> bool:
        """Same as ``key in cache``."""
        return key in self

    # -- writing ----------------------------------------------------------------------------

    def put(self, key: Any, value: Any, **kw: Any) -> None:
        """Store ``value`` under ``key``; ``expiretime`` (seconds) overrides the cache's."""
        if "type" in kw:
            self._legacy(kw).put(key, value, **kw)
            return
        if kw:
            _check_keywords(kw)
        if not self.enabled:
            return
        ttl = self._ttl(kw) if kw else self.expiretime
        self._core.set(key if type(key) is str else _as_key(key), value, ttl)

    def _ttl(self, kw: dict[str, Any]) -> int | None:
        for name in ("expiretime", "expire"):  # ``expire`` as the Cache constructor spells it
            if name in kw:
                return _seconds(name, kw[name])
        return self.expiretime

    set_value = put

    def __setitem__(self, key: Any, value: Any) -> None:
        self.put(key, value)

    def remove_value(self, key: Any, **kw: Any) -> None:
        """Remove ``key`` (fresh or expired); a missing key is not an error."""
        if "type" in kw:
            self._legacy(kw).remove_value(key)
            return
        self._core.delete(_as_key(key))

    remove = remove_value

    def __delitem__(self, key: Any) -> None:
        self.remove_value(key)

    def clear(self) -> None:
        """Remove every value of this namespace."""
        self._core.clear()

    def _legacy(self, kw: dict[str, Any]) -> Cache:
        warnings.warn(
            "Specifying a 'type' and other namespace configuration with cache.get()/put()/etc. "
            "is deprecated. Specify 'type' and other namespace configuration to "
            "cache_manager.get_cache() and/or the Cache constructor instead.",
            DeprecationWarning,
            stacklevel=3,
        )
        options = {**self.nsargs}
        for name in list(kw):
            if name not in ("createfunc", "expiretime", "starttime"):
                options[name] = kw.pop(name)
        kw.setdefault("expiretime", self.expiretime)
        return Cache(self.namespace_name, **options)


class _NamespaceView:
    """What ``Cache.namespace`` offers of Beaker's NamespaceManager: its name, its keys,
    membership and removal of everything."""

    __slots__ = ("_core", "namespace")

    def __init__(self, core: CoreCache) -> None:
        self._core = core
        self.namespace = core.name

    def keys(self) -> list[str]:
        return list(self._core.store.keys(self.namespace))

    def __contains__(self, key: str) -> bool:
        return self._core.store.get(self.namespace, key) is not None

    has_key = __contains__

    def remove(self) -> None:
        self._core.clear()


# -- decorators --------------------------------------------------------------------------------


class _Resolved:
    """What a decorated function resolved at its first call (or when its region changed)."""

    __slots__ = ("cache", "get", "get_or_create", "limit", "source", "ttl")

    def __init__(self, cache: Cache | None, key_length: Any, namespace: str, source: Any):
        self.source = source  # the region dict (or manager) this was resolved from
        self.cache = cache
        if cache is None or not cache.enabled:
            self.cache = None
            return
        key_length = int(key_length if key_length is not None else DEFAULT_KEY_LENGTH)
        self.limit = key_length - len(namespace)  # hash keys longer than this
        self.get = cache._get
        self.get_or_create = cache._core.get_or_create
        self.ttl = cache.expiretime


def _cache_decorate(
    deco_args: tuple[Any, ...],
    manager: CacheManager | None,
    options: dict[str, Any] | None,
    region: str | None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        namespace = function_namespace(func)
        make_key = ArgsKey.of(func, deco_args)
        formats = () if make_key.call.skip_first else make_key.formats
        state: list[_Resolved | None] = [None]

        def resolve() -> _Resolved:
            if region is not None:
                reg = cache_regions.get(region)
                if reg is None:
                    raise RegionNotConfigured(
                        "region",
                        region,
                        f"a configured cache region (known: {', '.join(cache_regions) or 'none'})",
                    )
                if cache_options(reg).enabled is False:
                    resolved = _Resolved(None, None, namespace, reg)
                else:
                    resolved = _Resolved(
                        Cache._get_cache(namespace, reg), reg.get("key_length"), namespace, reg
                    )
            else:
                assert manager is not None and options is not None
                opts = dict(options)
                key_length = opts.pop("key_length", DEFAULT_KEY_LENGTH)
                resolved = _Resolved(
                    manager.get_cache(namespace, **opts), key_length, namespace, manager
                )
            state[0] = resolved
            return resolved

        @functools.wraps(func)
        def cached(*args: Any, **kwargs: Any) -> Any:
            resolved = state[0]
            if resolved is None or (
                region is not None and cache_regions.get(region) is not resolved.source
            ):
                resolved = resolve()
            if resolved.cache is None:  # disabled: call straight through
                return func(*args, **kwargs)
            if kwargs or len(args) >= len(formats):
                key = make_key(args, kwargs)
            else:
                key = formats[len(args)] % args
            if len(key) > resolved.limit:
                key = _sha1(key)
            value = resolved.get(key)
            if value is MISSING:
                value = resolved.get_or_create(key, lambda: func(*args, **kwargs), resolved.ttl)
            return value

        cached._arg_namespace = namespace  # type: ignore[attr-defined]
        if region is not None:
            cached._arg_region = region  # type: ignore[attr-defined]
        return cached

    return decorate


def _invalidate(cache: Cache, key_length: Any, args: tuple[Any, ...]) -> None:
    key = " ".join(map(str, args))
    if len(key) + len(cache.namespace_name) > int(key_length):
        key = _sha1(key)
    cache.remove_value(key)


def cache_region(region: str, *args: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a function so its results are cached in ``region`` (Beaker's
    ``beaker.cache.cache_region``).

    Usable before the regions are configured: ``region`` is looked up in
    :data:`cache_regions` at call time (and again whenever that entry is replaced). A
    disabled region calls the function every time.

    Args:
        region: the region's name (``str``).
        *args: ``str()``-able values put in front of every key, to tell apart functions of the
            same name in one module.

    Returns:
        A decorator; the wrapped function keeps the namespace and region for
        :func:`region_invalidate`.

    Raises:
        RegionNotConfigured: (at call time) ``region`` is not in :data:`cache_regions`.
    """
    return _cache_decorate(args, None, None, region)


#: Beaker's other name for :func:`cache_region`.
region_decorate = cache_region


def region_invalidate(namespace: Any, region: str | None, *args: Any) -> None:
    """Remove the value a :func:`cache_region` function cached for ``args`` (Beaker's
    ``beaker.cache.region_invalidate``).

    Args:
        namespace: the decorated function (or bound method), or its namespace string.
        region: the region name; ``None`` takes it from the decorated function.
        *args: the decorator's key arguments followed by the call's positional arguments
            (without ``self``/``cls``).

    Raises:
        BeakerException: no region given and none known from ``namespace``.
        RegionNotConfigured: the region is not in :data:`cache_regions`.
    """
    if callable(namespace):
        if not region:
            region = getattr(namespace, "_arg_region", None)
        namespace = namespace._arg_namespace
    if not region:
        raise BeakerException("Region or callable function namespace is required")
    reg = cache_regions.get(region)
    if reg is None:
        raise RegionNotConfigured("region", region, "a configured cache region")
    cache = Cache._get_cache(namespace, reg)
    _invalidate(cache, reg.get("key_length", DEFAULT_KEY_LENGTH), args)


class CacheManager:
    """Beaker's ``CacheManager``: default options for caches, regions and decorators.

    Args:
        **kwargs: cache options, as returned by
            :func:`~beaker.compat.config.parse_cache_config_options`; ``cache_regions``
            (region name -> options) is merged into the module-level :data:`cache_regions`.

    Raises:
        ConfigError: a bad option (checked here, not at first use).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.regions: dict[str, dict[str, Any]] = kwargs.pop("cache_regions", {})
        cache_options(kwargs)
        for options in self.regions.values():
            cache_options(options)
        cache_regions.update(self.regions)

    def get_cache(self, name: str, **kwargs: Any) -> Cache:
        """The cache of namespace ``name`` with the manager's options overridden by
        ``kwargs`` (``type``, ``expire``, ``data_dir`` …)."""
        return Cache._get_cache(name, {**self.kwargs, **kwargs})

    def get_cache_region(self, name: str, region: str) -> Cache:
        """The cache of namespace ``name`` configured as ``region``.

        Raises:
            RegionNotConfigured: this manager has no such region.
        """
        if region not in self.regions:
            raise RegionNotConfigured("region", region, "a region configured on this manager")
        return Cache._get_cache(name, self.regions[region])

    def region(self, region: str, *args: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorate a function to cache its results in ``region`` (see :func:`cache_region`)."""
        return cache_region(region, *args)

    def region_invalidate(self, namespace: Any, region: str | None, *args: Any) -> None:
        """Remove a value cached by a region decorator (see :func:`region_invalidate`)."""
        region_invalidate(namespace, region, *args)

    def cache(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorate a function to cache its results with this manager's options overridden by
        ``kwargs`` (``type``, ``expire``, ``key_length`` …); ``args`` are put in front of every
        key."""
        return _cache_decorate(args, self, kwargs, None)

    def invalidate(self, func: Any, *args: Any, **kwargs: Any) -> None:
        """Remove the value a :meth:`cache`-decorated ``func`` cached for ``args`` (the
        decorator's arguments then the call's); pass the same ``type`` etc. as the
        decorator."""
        key_length = kwargs.pop("key_length", DEFAULT_KEY_LENGTH)
        cache = self.get_cache(func._arg_namespace, **kwargs)
        region = getattr(func, "_arg_region", None)
        if region is not None:
            key_length = cache_regions[region].get("key_length", DEFAULT_KEY_LENGTH)
        _invalidate(cache, key_length, args)


def _reset_for_tests() -> None:
    """Forget every region, cached ``Cache`` object and memory entry (test isolation)."""
    global _backends
    cache_regions.clear()
    cache_managers.clear()
    _backends.close()
    _backends = BackendRegistry()
