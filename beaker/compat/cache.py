"""Beaker's caching API (``beaker.cache``): :class:`Cache`, :class:`CacheManager`,
:data:`cache_regions`, :func:`cache_region`, :func:`region_invalidate` and :data:`clsmap`.

A translation onto the native :class:`beaker.caching.Cache`: options parsed once into
:class:`~beaker.compat.config.CacheOptions`, the backend from :mod:`beaker.compat.backends`,
``get(createfunc=)`` is ``get_or_create``, ``starttime`` is ``fresh_after``, the decorators
are :func:`beaker.caching.memoized` with the :class:`~beaker.policies.HashedKey` of the
region's ``key_length`` (Beaker's keys exactly). As Beaker's, the API is process-global:
:data:`cache_regions` is a module-level dict, and caches of one namespace share storage.

Imports :mod:`beaker.caching`, :mod:`beaker.policies` and the other compat modules; never
sessions.
"""

from __future__ import annotations

import functools
import itertools
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from beaker.caching import Cache as CoreCache
from beaker.caching import compose, memoized
from beaker.compat.backends import NamespaceManagerStore, backend, close_all, clsmap
from beaker.compat.config import DEFAULT_KEY_LENGTH, CacheOptions, cache_options
from beaker.compat.exceptions import BeakerException, RegionNotConfigured
from beaker.entry import MISSING
from beaker.policies.expiry import TTL, NoExpiry
from beaker.policies.keys import HashedKey, function_namespace, joined

__all__ = [
    "Cache",
    "CacheManager",
    "cache_managers",
    "cache_region",
    "cache_regions",
    "clsmap",
    "region_decorate",
    "region_invalidate",
]

#: ``Cache`` objects built from option dictionaries, by namespace and parsed options
#: (Beaker's memo of the same name; clearing it only drops the objects, not the data).
cache_managers: dict[tuple[str, CacheOptions], Cache] = {}


def _as_key(key: Any) -> str:
    """Stores take ``str`` keys; Beaker also accepted bytes and other objects."""
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return key.decode("utf-8", "surrogateescape")
    return str(key)


_KEYWORDS = frozenset({"createfunc", "expiretime", "expire", "starttime"})


def _ttl(kw: Mapping[str, Any], default: int | None) -> int | None:
    for name in ("expiretime", "expire"):  # ``expire`` as the Cache constructor spells it
        if name in kw:
            value = kw[name]
            return None if value is None else cache_options({"expire": value}, "").expire
    return default


class Cache:
    """A cache namespace with Beaker's interface (``beaker.cache.Cache``).

    Args:
        namespace: the namespace (``str``).
        type: backend type name (``"memory"``, ``"file"``, ``"dbm"``, ``"ext:redis"`` …, or
            a third-party backend's name).
        expiretime: seconds values stay fresh (``int``; Beaker's legacy name of ``expire``).
        starttime: values stored before this time (seconds since the epoch) are stale.
        expire: seconds values stay fresh (``int``); ``None`` = until removed.
        **nsargs: backend options: ``data_dir``, ``lock_dir``, ``url`` …

    Raises:
        ConfigError: a bad option (:class:`~beaker.compat.exceptions.UnknownBackendType` for
            an unknown type, :class:`~beaker.compat.exceptions.MissingOption` for a missing
            ``url``/``data_dir``).
    """

    __slots__ = (
        "_core",
        "_get",
        "_hashed",
        "_set",
        "expiretime",
        "namespace",
        "namespace_name",
        "nsargs",
        "options",
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
        options = cache_options({**nsargs, "type": type, "expire": expiretime or expire})
        parts = backend(options)
        core = compose(
            parts.store,
            lock=parts.lock,
            expiry=TTL(options.expire) if options.expire else NoExpiry(),
            namespace=namespace,
        )
        self._core: CoreCache = core if starttime is None else core.evolve(fresh_after=starttime)
        self._get: Callable[[str], Any] = self._core.get
        # ``put`` without keywords: the expiry policy already gives ``expire``; 0 is stale at once
        self._set: Callable[[str, Any], None] = (
            functools.partial(self._core.set, ttl=0) if options.expire == 0 else self._core.set
        )
        self._hashed: dict[int, CoreCache] = {}
        self.options = options
        self.namespace_name = namespace
        self.namespace: Any = (
            parts.store.manager(namespace)
            if isinstance(parts.store, NamespaceManagerStore)
            else clsmap[options.type or "memory"].over(core)  # type: ignore[attr-defined]
        )
        self.type = type
        self.expiretime: int | None = options.expire
        self.starttime = starttime
        self.nsargs = nsargs

    @classmethod
    def _get_cache(cls, namespace: str, kw: Mapping[str, Any]) -> Cache:
        """The shared ``Cache`` of ``namespace`` for options ``kw`` (built once per value)."""
        options = cache_options(kw)
        cache = cache_managers.get((namespace, options))
        if cache is None:
            cache = cache_managers.setdefault((namespace, options), cls(namespace, **kw))
        return cache

    def _decorating(self, key_length: int | None) -> CoreCache:
        """This cache with Beaker's decorator keys: SHA-1 of those over ``key_length``."""
        limit = key_length or DEFAULT_KEY_LENGTH
        core = self._hashed.get(limit)
        if core is None:
            core = self._hashed.setdefault(limit, self._core.evolve(key=HashedKey(limit)))
        return core

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
        if not kw:
            value = self._get(key if type(key) is str else _as_key(key))
        else:
            core, createfunc = self._variant(kw), kw.get("createfunc")
            if createfunc is not None:
                return core.get_or_create(_as_key(key), createfunc, _ttl(kw, self.expiretime))
            value = core.get(_as_key(key))
        if value is MISSING:
            raise KeyError(key)
        return value

    get_value = get

    def _variant(self, kw: dict[str, Any]) -> CoreCache:
        if "type" in kw:
            return self._legacy(kw)._core
        unknown = set(kw) - _KEYWORDS
        if unknown:  # Beaker raised TypeError here too
            raise TypeError(
                f"unexpected keyword argument(s) {', '.join(sorted(unknown))}; expected "
                "createfunc, expiretime (or expire) and starttime"
            )
        if "starttime" in kw:
            return self._core.evolve(fresh_after=kw["starttime"])
        return self._core

    def __getitem__(self, key: Any) -> Any:
        return self.get(key)

    def __contains__(self, key: Any) -> bool:
        """Whether a fresh value is stored under ``key`` (Beaker's ``has_current_value``)."""
        return self._get(_as_key(key)) is not MISSING

    def has_key(self, key: Any) -> bool:
        """Same as ``key in cache``."""
        return key in self

    # -- writing ----------------------------------------------------------------------------

    def put(self, key: Any, value: Any, **kw: Any) -> None:
        """Store ``value`` under ``key``; ``expiretime`` (seconds) overrides the cache's."""
        if not kw:
            return self._set(key if type(key) is str else _as_key(key), value)
        self._variant(kw).set(_as_key(key), value, _ttl(kw, self.expiretime))
        return None

    set_value = put

    def __setitem__(self, key: Any, value: Any) -> None:
        self.put(key, value)

    def remove_value(self, key: Any, **kw: Any) -> None:
        """Remove ``key`` (fresh or expired); a missing key is not an error."""
        core = self._variant(kw) if kw else self._core
        core.delete(_as_key(key))

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
            stacklevel=4,
        )
        options = {**self.nsargs}
        for name in list(kw):
            if name not in ("createfunc", "expiretime", "starttime"):
                options[name] = kw.pop(name)
        kw.setdefault("expiretime", self.expiretime)
        return Cache(self.namespace_name, **options)


# -- decorators --------------------------------------------------------------------------------


class _Resolved(dict):  # type: ignore[type-arg]
    """The caches :func:`cache_region` functions use now, by decoration (``None``: the region
    is disabled): resolved from :data:`cache_regions` at the first call and again after any
    change to it, which clears this memo. Keyed by ``int`` (cheaper to hash than the
    ``(region, namespace)`` pair, which :data:`_decorations` holds)."""

    def __init__(self) -> None:
        super().__init__()
        self.changes = 0  # how many times cache_regions changed
        self.mutex = threading.Lock()

    def forget(self) -> None:
        """Drop every resolved cache (``cache_regions`` changed)."""
        with self.mutex:
            self.changes += 1
            self.clear()

    def __missing__(self, decoration: int) -> CoreCache | None:
        seen = self.changes
        region, namespace = _decorations[decoration]
        options = cache_regions.get(region)
        if options is None:
            known = ", ".join(cache_regions) or "none"
            raise RegionNotConfigured(
                "region", region, f"a configured cache region (known: {known})"
            )
        parsed = cache_options(options)
        cache = None
        if parsed.enabled is not False:
            cache = Cache._get_cache(namespace, options)._decorating(parsed.key_length)
        with self.mutex:
            if self.changes == seen:  # not resolved from options replaced meanwhile
                self[decoration] = cache
        return cache


_resolved = _Resolved()
#: Decoration number -> its ``(region, namespace)``.
_decorations: dict[int, tuple[str, str]] = {}
_numbers = itertools.count()


class _Regions(dict):  # type: ignore[type-arg]
    """The type of :data:`cache_regions`: a ``dict`` whose every change clears the resolved
    region caches, so that a :func:`cache_region` hit costs one C-level lookup for them."""


def _clearing(name: str) -> Callable[..., Any]:
    change = getattr(dict, name)

    def changed(self: _Regions, *args: Any, **kwargs: Any) -> Any:
        try:
            return change(self, *args, **kwargs)
        finally:
            _resolved.forget()

    changed.__name__ = changed.__qualname__ = name
    return changed


for _name in (
    "__setitem__",
    "__delitem__",
    "__ior__",
    "clear",
    "pop",
    "popitem",
    "setdefault",
    "update",
):
    setattr(_Regions, _name, _clearing(_name))

#: Region name -> that region's options (``type``, ``expire``, ``data_dir`` …), as Beaker's
#: module-level dictionary. ``CacheManager(cache_regions=...)`` and frameworks such as
#: pyramid_beaker fill it in; :func:`cache_region` reads it at call time.
cache_regions: dict[str, dict[str, Any]] = _Regions()


def _region(region: str, namespace: str) -> Callable[[], CoreCache | None]:
    """The cache a :func:`cache_region` function uses now: looked up in :data:`cache_regions`
    at the first call and again whenever it changes; ``None`` when disabled."""
    decoration = next(_numbers)
    _decorations[decoration] = (region, namespace)
    return functools.partial(_resolved.__getitem__, decoration)


def _managed(
    manager: CacheManager, options: dict[str, Any], namespace: str
) -> Callable[[], CoreCache]:
    """The cache a :meth:`CacheManager.cache` function uses: built at its first call."""
    cache: CoreCache | None = None

    def current() -> CoreCache:
        nonlocal cache
        if cache is None:
            kwargs = dict(options)
            key_length = cache_options({"key_length": kwargs.pop("key_length", None)}).key_length
            cache = manager.get_cache(namespace, **kwargs)._decorating(key_length)
        return cache

    return current


def _decorate(
    deco_args: tuple[Any, ...],
    make: Callable[[str], Callable[[], CoreCache | None]],
    region: str | None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        namespace = function_namespace(func)
        cached = memoized(func, make(namespace), deco_args)
        cached._arg_namespace = namespace  # type: ignore[attr-defined]
        if region is not None:
            cached._arg_region = region  # type: ignore[attr-defined]
        return cached

    return decorate


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
    return _decorate(args, functools.partial(_region, region), region)


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
    options = cache_regions.get(region)
    if options is None:
        raise RegionNotConfigured("region", region, "a configured cache region")
    cache = Cache._get_cache(namespace, options)
    cache._decorating(cache.options.key_length).delete(joined(args))


class CacheManager:
    """Beaker's ``CacheManager``: default options for caches, regions and decorators.

    Args:
        **kwargs: cache options, as returned by
            :func:`~beaker.compat.config.parse_cache_config_options`; ``cache_regions``
            (region name -> options) is merged into the module-level :data:`cache_regions`.

    Raises:
        ConfigError: a bad option, or one the backend type needs that is missing (checked
            here, not at first use; directories and servers are touched lazily).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.regions: dict[str, dict[str, Any]] = kwargs.pop("cache_regions", {})
        backend(cache_options(kwargs))
        for name, options in self.regions.items():
            parsed = cache_options(options, f"{name}.")
            if parsed.enabled is not False:
                backend(parsed)
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
        return _decorate(args, functools.partial(_managed, self, kwargs), None)

    def invalidate(self, func: Any, *args: Any, **kwargs: Any) -> None:
        """Remove the value a :meth:`cache`-decorated ``func`` cached for ``args`` (the
        decorator's arguments then the call's); pass the same ``type`` etc. as the
        decorator."""
        key_length = kwargs.pop("key_length", None)
        cache = self.get_cache(func._arg_namespace, **kwargs)
        region = getattr(func, "_arg_region", None)
        if region is not None:
            key_length = cache_regions[region].get("key_length")
        limit = cache_options({"key_length": key_length}).key_length
        cache._decorating(limit).delete(joined(args))


def _reset_for_tests() -> None:
    """Forget every region, cached ``Cache`` object and memory entry (test isolation)."""
    cache_regions.clear()
    cache_managers.clear()
    close_all()
