"""The composed cache: :class:`Cache` and :func:`compose`.

A cache is a frozen bundle of parts — a store, a lock, an expiry policy, a key strategy and a
serializer chain — plus the namespace it works in. Its rules live in
:class:`~beaker.cache_core.CacheCore`, shared with the asyncio front
(:class:`~beaker.async_caching.AsyncCache`); this module adds the sync I/O. Everything per-call
is plain attribute access; choices that depend only on configuration are made once in
``__attrs_post_init__``.

This module may import stores, locks, policies and serializers; never sessions or compat.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, Protocol, TypeVar

import attrs

from beaker.cache_core import (
    CacheCore,
    FrontKinds,
    Metered,
    StoreErrorMode,
    build,
    check_ttl,
    memo_of,
)
from beaker.entry import MISSING, Entry, Missing
from beaker.errors import LockTimeout, StoreUnavailable
from beaker.invalidation import Invalidation
from beaker.locks.base import Lock, is_async_lock
from beaker.locks.thread import ThreadLock
from beaker.policies.keys import ArgsKey, function_namespace
from beaker.stores.base import Store, batch_of, is_async_store
from beaker.stores.stamps import Stamps, stamps_of

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from beaker.cache_core import MemoOptions, Options, Predicate

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

__all__ = ["Cache", "Memoized", "MeteredCache", "StoreErrorMode", "compose", "memoized"]


class Memoized(Protocol[P, R_co]):
    """A function wrapped by :meth:`Cache.memoize`."""

    cache: Cache

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> None: ...

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str: ...


@attrs.frozen
class Cache(CacheCore[Store, Lock]):
    """A cache composed of immutable parts, working in one namespace.

    Build it with :func:`compose`; derive variants with :meth:`namespace` or :meth:`evolve`.
    Arguments as :class:`~beaker.cache_core.CacheCore`, with a
    :class:`~beaker.stores.base.Store` and a :class:`~beaker.locks.base.Lock` (default
    :class:`~beaker.locks.ThreadLock`).

    Raises:
        ComponentTypeError: a part does not implement its protocol (an async store or lock
            belongs to :func:`beaker.compose_async`).
        ConfigError: a number or mode is out of range.
    """

    parts: ClassVar[dict[str, tuple[Callable[[Any], bool], str]]] = {
        "store": (
            lambda value: isinstance(value, Store) and not is_async_store(value),
            "a Store (get/set/delete/clear/keys; async stores go to compose_async)",
        ),
        "lock": (
            lambda value: isinstance(value, Lock) and not is_async_lock(value),
            "a Lock (scope and acquire(name); async locks go to compose_async)",
        ),
    }

    kinds: ClassVar[FrontKinds] = FrontKinds(ThreadLock, Invalidation, stamps_of)

    # -- reading ---------------------------------------------------------------------------

    def _read(self, key: str) -> Entry | None:
        try:
            return self._store_read(self.name, key)  # type: ignore[no-any-return]
        except StoreUnavailable as error:
            self._outage(error, key, "treated as a miss")
            return None

    def get(self, key: str, default: Any = MISSING) -> Any:
        """Return the fresh value under ``key``, or ``default`` (:data:`~beaker.MISSING`) on a
        miss. Expired and unreadable entries are misses.

        Raises:
            StoreUnavailable: the store's server is down and ``on_store_error="raise"``.
        """
        # The hot path: everything below is precomputed attribute access (see post-init).
        if not self._plain_key and len(key) > self._key_limit:
            key = self.key(self.name, key)
        try:
            entry = self._store_get(self.name, key)
        except StoreUnavailable as error:
            self._outage(error, key, "treated as a miss")
            return default
        return self._fresh_value(key, entry, default)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not MISSING

    def entry(self, key: str) -> Entry | None:
        """The entry stored under ``key`` with its value decoded, fresh or not (``None`` when
        there is none or it is unreadable): for callers that judge freshness themselves, such
        as Beaker's namespace managers.

        Raises:
            StoreUnavailable: the store's server is down and ``on_store_error="raise"``.
        """
        key = self._store_key(key)
        entry = self._read(key)
        if entry is None:
            return None
        value = self._decode(key, entry)
        return None if value is MISSING else entry._replace(value=value)

    def keys(self) -> list[str]:
        """The stored keys of this namespace, fresh or not (as the store names them)."""
        return list(self.store.keys(self.name))

    # -- writing ---------------------------------------------------------------------------

    def _stamps(self, key: str, tags: Iterable[str]) -> Stamps | None | Missing:
        """The stamps a write records now (``None`` without ``invalidation``), or
        :data:`MISSING` when the store is down under ``on_store_error="compute"``.

        Raises:
            ConfigError: ``tags`` without ``invalidation``.
        """
        if self._invalidation is None:
            self._unstamped(tags)
            return None
        try:
            return self._invalidation.stamps_for(tags)
        except StoreUnavailable as error:
            self._outage(error, key, "not written")
            return MISSING

    def _write(self, key: str, entry: Entry) -> None:
        """Store ``entry`` (an :meth:`_entry`) under the stored ``key``."""
        try:
            self.store.set(self.name, key, entry)
        except StoreUnavailable as error:
            self._outage(error, key, "not written")

    def set(self, key: str, value: Any, ttl: float | None = None, tags: Iterable[str] = ()) -> None:
        """Store ``value`` under ``key``.

        Args:
            key: the key (``str``).
            value: any value the serializer accepts (any object for a memory store).
            ttl: seconds this entry stays fresh, overriding the expiry policy.
            tags: names (``str``) that :meth:`invalidate_tags` can invalidate this entry by,
                in every process; needs ``invalidation=True``.

        Raises:
            ConfigError: ``tags`` on a cache without ``invalidation``.
            SerializationError: the serializer cannot encode ``value``; names the key.
            StoreUnavailable: the store's server is down and ``on_store_error="raise"``.
        """
        # The common write (a plain key, no invalidation, no tags) makes two calls: the
        # record's and the store's (_write's work inline).
        if not self._plain_key and len(key) > self._key_limit:
            key = self.key(self.name, key)
        if self._invalidation is None and not tags:
            entry = self._entry(key, value, ttl)
        else:
            stamps = self._stamps(key, tags)
            if stamps is MISSING:
                return
            entry = self._entry(key, value, ttl, stamps)
        try:
            self.store.set(self.name, key, entry)
        except StoreUnavailable as error:
            self._outage(error, key, "not written")

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        key = self._store_key(key)
        try:
            self.store.delete(self.name, key)
        except StoreUnavailable as error:
            self._outage(error, key, "not deleted")

    def clear(self) -> None:
        """Remove every entry of this cache's namespace (and of no other)."""
        self.store.clear(self.name)

    # -- many keys -----------------------------------------------------------------------------

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The fresh values of ``keys``, as ``{key: value}`` (misses left out), read in one
        request where the store batches (see :class:`~beaker.stores.base.BatchStore`).

        Raises:
            StoreUnavailable: the store's server is down and ``on_store_error="raise"``.
        """
        stored = {self._store_key(key): key for key in keys}
        try:
            if self._invalidation is None:
                found = batch_of(self.store).get_many(self.name, stored)
            else:  # the entries and their tokens together (one round trip on Redis)
                found = self._invalidation.get_many(stored)
        except StoreUnavailable as error:
            self._outage(error, f"{len(stored)} keys", "treated as misses")
            return {}
        return self._values_of(stored, found)

    def set_many(
        self, values: Mapping[str, Any], ttl: float | None = None, tags: Iterable[str] = ()
    ) -> None:
        """Store every ``{key: value}``, in one request where the store batches.

        Args:
            values: ``{key: value}``, as :meth:`set` takes them.
            ttl: seconds these entries stay fresh, overriding the expiry policy.
            tags: as :meth:`set`, for every entry.

        Raises:
            ConfigError: ``tags`` on a cache without ``invalidation``.
            SerializationError: a value cannot be encoded (nothing is written); names the key.
            StoreUnavailable: the store's server is down and ``on_store_error="raise"``.
        """
        stamps = self._stamps(f"{len(values)} keys", tags)
        if stamps is MISSING:
            return
        entries = self._entries_of(values, ttl, stamps)
        try:
            batch_of(self.store).set_many(self.name, entries)
        except StoreUnavailable as error:
            self._outage(error, f"{len(entries)} keys", "not written")

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove ``keys`` (absent ones are not an error), in one request where the store
        batches."""
        stored = [self._store_key(key) for key in keys]
        try:
            batch_of(self.store).delete_many(self.name, stored)
        except StoreUnavailable as error:
            self._outage(error, f"{len(stored)} keys", "not deleted")

    # -- invalidation ----------------------------------------------------------------------------

    def invalidate(self, hard: bool = True) -> None:
        """Invalidate every entry of this namespace, in every process sharing the store, with
        one store operation (a new generation token; no entry is read or deleted). Needs
        ``invalidation=True``.

        Args:
            hard: ``True``: the entries become misses. ``False``: they become stale:
                ``get`` misses them, ``get_or_create`` serves them while one worker recreates
                each (as inside the stale-while-revalidate window).

        Raises:
            ConfigError: the cache was composed without ``invalidation=True``.
            StoreUnavailable: the store's server is down (whatever ``on_store_error``: an
                invalidation that did not happen must not pass silently).
        """
        self._invalidation_for("invalidation", False).invalidate(hard)

    def invalidate_tags(self, *tags: str) -> None:
        """Make every entry written with one of ``tags`` (in any namespace of the store) a
        miss, in every process, with one store operation whatever the number of entries.

        Raises:
            ConfigError: the cache was composed without ``invalidation=True``.
            StoreUnavailable: the store's server is down.
        """
        self._invalidation_for("invalidation", False).invalidate_tags(tags)

    # -- dogpile-protected creation -----------------------------------------------------------

    def _create(
        self,
        key: str,
        creator: Callable[[], Any],
        ttl: float | None,
        should_cache: Predicate,
        tags: Iterable[str],
    ) -> Any:
        # The stamps before the creator: what it reads is that recent.
        stamps = None if self._invalidation is None and not tags else self._stamps(key, tags)
        if self._timed:
            start = time.perf_counter()
            value = creator()
            delta = time.perf_counter() - start
            self._calls.create(delta)
        else:
            value, delta = creator(), 0.0
        if stamps is not MISSING and (should_cache is None or should_cache(value)):
            self._write(key, self._entry(key, value, ttl, stamps, delta))
        return value

    def get_or_create(
        self,
        key: str,
        creator: Callable[[], Any],
        ttl: float | None = None,
        should_cache: Predicate = None,
        tags: Iterable[str] = (),
    ) -> Any:
        """Return the fresh value under ``key``, or make it with ``creator()`` and store it.

        For one key, one creator runs at a time within the lock's scope; the other callers wait
        and read its value (the dogpile lock). With ``stale_while_revalidate`` set, callers
        arriving while a worker recreates an expired value get the expired value at once.

        Args:
            key: the key (``str``).
            creator: makes the value (``() -> value``); its exceptions propagate, nothing is
                stored.
            ttl: seconds the created value stays fresh, overriding the expiry policy.
            should_cache: ``(value) -> bool``; a created value for which it is false is
                returned but not stored (``None``: every value is stored).
            tags: as :meth:`set`, for the created value.

        Raises:
            LockTimeout: ``lock_timeout`` passed while another worker was creating.
            SerializationError: the created value cannot be encoded.
        """
        key = self._store_key(key)
        first = self._read(key)
        value, fresh = self._first_judge(key, first)
        if fresh:
            return value
        return self._recreate(key, first, value, creator, ttl, should_cache, tags)

    def _recreate(
        self,
        key: str,
        first: Entry | None,
        value: Any,
        creator: Callable[[], Any],
        ttl: float | None,
        should_cache: Predicate = None,
        tags: Iterable[str] = (),
    ) -> Any:
        """The rest of :meth:`get_or_create` once a first read of the stored ``key`` found no
        fresh value (``value``: the expired value inside the stale window, or ``MISSING``):
        the dogpile lock, one more read under it, and ``creator`` if still needed."""
        # Inline on every miss: the lock's name and wait, the timing only when recorded.
        start = time.perf_counter() if self._timed else 0.0
        try:
            lease = self.lock.acquire(
                self._lock_prefix + key, timeout=self.lock_timeout if value is MISSING else 0
            )
        except LockTimeout as error:
            return self._timed_out(error, start, value)
        except StoreUnavailable as error:  # a distributed lock's server is down too
            self._outage(error, key, "created without the dogpile lock")
            return self._create(key, creator, ttl, should_cache, tags)
        try:
            if self._timed:
                self._calls.lock_wait(time.perf_counter() - start)
            made = self._made_by_another(key, first, self._read(key))
            if made is not MISSING:
                return made
            return self._create(key, creator, ttl, should_cache, tags)
        finally:  # the lease's release without its context manager's two calls
            lease.release()

    # -- decoration ----------------------------------------------------------------------------

    def memoize(
        self, *key_parts: Any, **options: Unpack[MemoOptions]
    ) -> Callable[[Callable[P, R]], Memoized[P, R]]:
        """Decorate a function so its results are cached per call arguments.

        The key is Beaker's decorator key (see :func:`beaker.policies.args_key`): ``key_parts``
        then the call's arguments, ``str()``-ed and joined by spaces, a first ``self``/``cls``
        skipped, keyword arguments bound to the signature.

        Args:
            key_parts: values put in front of every key (``str()``-ed).
            options: keyword arguments (:class:`~beaker.cache_core.MemoOptions`), each
                optional:

                * ``namespace``: the namespace; defaults to Beaker's ``"<source
                  file>|<function name>"``.
                * ``ttl``: seconds results stay fresh, overriding the expiry policy.
                * ``ignore``: names of parameters left out of the key (e.g.
                  ``("request",)``; as proposed in Beaker PR #221).
                * ``should_cache``: ``(result) -> bool``; results for which it is false are
                  returned but not stored (e.g. ``lambda result: result is not None``).
                * ``tags``: tags of every result (see :meth:`set`); needs
                  ``invalidation=True``.

        Returns:
            A decorator. The wrapper has ``invalidate(*args, **kwargs)`` (drops the entry of
            those arguments), ``key(*args, **kwargs)`` and ``cache`` (the namespaced cache).

        Raises:
            ConfigError: ``ttl`` is not ``None`` or a number of seconds >= 0.
            ConfigError: (from the decorator) ``ignore`` names a parameter the function does
                not have.
            TypeError: an unknown option.
        """
        memo = memo_of(options)

        def decorate(func: Callable[P, R]) -> Memoized[P, R]:
            cache = self.namespace(memo.namespace or function_namespace(func))
            wrapper = memoized(
                func,
                itertools.repeat(cache).__next__,
                key_parts,
                memo.ttl,
                ignore=memo.ignore,
                should_cache=memo.should_cache,
                tags=memo.tags,
            )
            wrapper.cache = cache
            return wrapper

        return decorate


@attrs.frozen
class MeteredCache(Metered[Store, Lock], Cache):
    """A :class:`Cache` that also counts hits and misses (see
    :class:`~beaker.cache_core.Metered`): what ``compose(..., metrics=...)`` builds."""


def memoized(
    func: Callable[P, R],
    current: Callable[[], Cache | None],
    key_parts: tuple[Any, ...] = (),
    ttl: float | None = None,
    *,
    ignore: Iterable[str] = (),
    should_cache: Predicate = None,
    tags: Iterable[str] = (),
) -> Memoized[P, R]:
    """Wrap ``func`` so its results are cached in the cache ``current()`` returns at each call
    (``None``: call ``func`` straight through), with Beaker's decorator keys (see
    :meth:`Cache.memoize`). The engine behind :meth:`Cache.memoize` and Beaker's decorators,
    whose region may be configured, replaced or disabled after decoration.

    Args:
        func: the function (not yet bound).
        current: ``() -> Cache | None``, already in the function's namespace; cheap (it runs
            on every call).
        key_parts: values put in front of every key (``str()``-ed).
        ttl: seconds results stay fresh, overriding the expiry policy.
        ignore, should_cache, tags: as :meth:`Cache.memoize`.

    Returns:
        The wrapper, with ``key(*args, **kwargs)`` and ``invalidate(*args, **kwargs)``.

    Raises:
        ConfigError: ``ttl`` is not ``None`` or a number of seconds >= 0; ``ignore`` names a
            parameter ``func`` does not have.
    """
    check_ttl(ttl)
    make_key = ArgsKey.of(func, key_parts, ignore)
    tags = tuple(tags)
    # The common call (positional arguments, no self, nothing ignored) formats its key inline.
    formats = make_key.inline_formats
    inline = len(formats)

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        cache = current()
        if cache is None:
            return func(*args, **kwargs)
        count = len(args)
        if kwargs or count >= inline:
            key = make_key(args, kwargs)
        else:
            key = formats[count] % args
        # One read here; a miss reads once more, under the dogpile lock (never a third time).
        if len(key) > cache._key_limit and not cache._plain_key:
            key = cache.key(cache.name, key)
        try:  # Cache._read, inline: one call less on every hit
            entry = cache._store_read(cache.name, key)
        except StoreUnavailable as error:
            cache._outage(error, key, "treated as a miss")
            entry = None
        if not cache._plain_hits:
            value, fresh = cache._first_judge(key, entry)
        elif entry is None:  # the common miss, without _judge's call either
            value, fresh = MISSING, False
        else:  # the common hit
            expires_at = entry[2]
            if expires_at is None or cache.clock() < expires_at:
                return entry[0]  # type: ignore[no-any-return]
            value, fresh = cache._first_judge(key, entry)
        if not fresh:
            call = functools.partial(func, *args, **kwargs)
            value = cache._recreate(key, entry, value, call, ttl, should_cache, tags)
        return value  # type: ignore[no-any-return]

    def key(*args: P.args, **kwargs: P.kwargs) -> str:
        return make_key(args, kwargs)

    def invalidate(*args: P.args, **kwargs: P.kwargs) -> None:
        cache = current()
        if cache is not None:
            cache.delete(make_key(args, kwargs))

    wrapper.key = key  # type: ignore[attr-defined]
    wrapper.invalidate = invalidate  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def compose(store: Store, **options: Unpack[Options]) -> Cache:
    """Build a :class:`Cache` from parts. Every part but the store has a default.

    Args:
        store: a :class:`~beaker.stores.base.Store`.
        options: keyword arguments (:class:`~beaker.cache_core.Options`), each optional:

            * ``lock``: a :class:`~beaker.locks.base.Lock` (default
              :class:`~beaker.locks.ThreadLock`: dogpile protection among threads).
            * ``expiry``: an :class:`~beaker.policies.ExpiryPolicy` (default
              :class:`~beaker.policies.NoExpiry`); not together with ``ttl``.
            * ``ttl``: shorthand for ``expiry=TTL(ttl)``, seconds.
            * ``key``: a :class:`~beaker.policies.KeyStrategy`, e.g. ``HashedKey(250)``
              (default :class:`~beaker.policies.PlainKey`).
            * ``serializer``: a :class:`~beaker.serializers.Serializer` (default ``None``:
              objects by reference in a memory store, pickle elsewhere).
            * ``signer``: a :class:`~beaker.serializers.BytesCodec` (HMAC signer or AEAD
              encrypter) wrapped around the serializer's bytes.
            * ``namespace`` (default ``"default"``), ``clock`` (default ``time.time``),
              ``lock_timeout``, ``stale_while_revalidate``, ``on_store_error``,
              ``invalidation``: as :class:`~beaker.cache_core.CacheCore`.
            * ``metrics``: ``False`` (the default: nothing is recorded, at no cost on a
              hit), ``True`` for in-process :class:`~beaker.metrics.Counters`
              (``cache.stats()``), or any :class:`~beaker.metrics.Recorder`.
            * ``near``: a :class:`~beaker.stores.NearCache`: an in-process tier in front of
              ``store`` (kept coherent by Redis's invalidation messages on a ``RedisStore``
              or ``RedisClusterStore``, for ``NearCache.ttl`` seconds elsewhere); ``None``
              (the default) for none.

    Raises:
        ComponentTypeError: a part does not implement its protocol.
        ConfigError: conflicting or out-of-range options.
        TypeError: an unknown option.
    """
    return build(Cache, MeteredCache, store, options)
