"""The composed cache for asyncio: :class:`AsyncCache` and :func:`compose_async`.

The asyncio front on the same core as :class:`~beaker.caching.Cache`
(:class:`~beaker.cache_core.CacheCore`: keys, freshness, stale window, records, expiry, lock
names, outage mode): only the I/O differs, awaited on an
:class:`~beaker.stores.base.AsyncStore` and an :class:`~beaker.locks.base.AsyncLock`. A sync
and an async cache on twin stores (e.g. :class:`~beaker.stores.RedisStore` and
:class:`~beaker.stores.AsyncRedisStore` on one server) read each other's entries.

Like :mod:`beaker.caching`, this module may import stores, locks, policies and serializers
(their async protocols and twins here); never sessions or compat.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, Protocol, TypeVar, cast

import attrs

from beaker.cache_core import CacheCore, FrontKinds, Metered, attach_memo, build, memo_of
from beaker.entry import MISSING, Entry, Missing
from beaker.errors import ComponentTypeError, LockTimeout, StoreUnavailable
from beaker.invalidation import AsyncInvalidation
from beaker.locks.base import AsyncLock, is_async_lock
from beaker.locks.loop import AsyncioLock
from beaker.stores.base import AsyncStore, async_batch_of, is_async_store
from beaker.stores.stamps import Stamps, async_stamps_of

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from beaker.cache_core import MemoOptions, Options, Predicate

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

__all__ = ["AsyncCache", "AsyncMemoized", "MeteredAsyncCache", "compose_async"]


class AsyncMemoized(Protocol[P, R_co]):
    """An ``async def`` function wrapped by :meth:`AsyncCache.memoize`."""

    cache: AsyncCache

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R_co]: ...

    async def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> None: ...

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str: ...


@attrs.frozen
class AsyncCache(CacheCore[AsyncStore, AsyncLock]):
    """The asyncio twin of :class:`~beaker.caching.Cache`: the same arguments, rules and
    methods, each awaited (``await cache.get(key)``).

    Build it with :func:`compose_async`; derive variants with :meth:`namespace` or
    :meth:`evolve`. Arguments as :class:`~beaker.cache_core.CacheCore`, with an
    :class:`~beaker.stores.base.AsyncStore` and an :class:`~beaker.locks.base.AsyncLock`
    (default :class:`~beaker.locks.AsyncioLock`: one creator per key among the tasks of an
    event loop).

    Cancellation: a task cancelled while it waits for the dogpile lock, or while its creator
    runs, leaves the lock free and stores nothing.

    Raises:
        ComponentTypeError: a part does not implement its protocol (a sync store or lock
            belongs to :func:`beaker.compose`).
        ConfigError: a number or mode is out of range.
    """

    parts: ClassVar[dict[str, tuple[Callable[[Any], bool], str]]] = {
        "store": (is_async_store, "an AsyncStore (async get/set/delete/clear/keys)"),
        "lock": (is_async_lock, "an AsyncLock (scope and async acquire(name))"),
    }

    kinds: ClassVar[FrontKinds] = FrontKinds(AsyncioLock, AsyncInvalidation, async_stamps_of)

    # -- reading ---------------------------------------------------------------------------

    async def _read(self, key: str) -> Entry | None:
        try:
            return await self._store_read(self.name, key)  # type: ignore[no-any-return]
        except StoreUnavailable as error:
            self._outage(error, key, "treated as a miss")
            return None

    async def get(self, key: str, default: Any = MISSING) -> Any:
        """As :meth:`beaker.caching.Cache.get` (``default`` on a miss), awaited."""
        if not self._plain_key and len(key) > self._key_limit:
            key = self.key(self.name, key)
        try:
            entry = await self._store_get(self.name, key)
        except StoreUnavailable as error:
            self._outage(error, key, "treated as a miss")
            return default
        return self._fresh_value(key, entry, default)

    async def contains(self, key: str) -> bool:
        """Whether ``key`` has a fresh value (``in`` cannot await)."""
        return await self.get(key) is not MISSING

    # -- writing ---------------------------------------------------------------------------

    async def _stamps(self, key: str, tags: Iterable[str]) -> Stamps | None | Missing:
        """As :meth:`beaker.caching.Cache._stamps`, awaited."""
        if self._invalidation is None:
            self._unstamped(tags)
            return None
        try:
            return await self._async_invalidation().stamps_for(tags)
        except StoreUnavailable as error:
            self._outage(error, key, "not written")
            return MISSING

    async def _write(self, key: str, entry: Entry) -> None:
        """Store ``entry`` (an :meth:`_entry`) under the stored ``key``."""
        try:
            await self.store.set(self.name, key, entry)
        except StoreUnavailable as error:
            self._outage(error, key, "not written")

    async def set(
        self, key: str, value: Any, ttl: float | None = None, tags: Iterable[str] = ()
    ) -> None:
        """Store ``value`` under ``key``; arguments (``tags`` too) and errors as
        :meth:`beaker.caching.Cache.set`."""
        key = self._store_key(key)
        stamps = await self._stamps(key, tags)
        if stamps is not MISSING:
            await self._write(key, self._entry(key, value, ttl, stamps))

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        key = self._store_key(key)
        try:
            await self.store.delete(self.name, key)
        except StoreUnavailable as error:
            self._outage(error, key, "not deleted")

    async def clear(self) -> None:
        """Remove every entry of this cache's namespace (and of no other)."""
        await self.store.clear(self.name)

    # -- many keys -----------------------------------------------------------------------------

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """As :meth:`beaker.caching.Cache.get_many`, awaited (one request where the store
        batches: see :class:`~beaker.stores.base.AsyncBatchStore`)."""
        stored = {self._store_key(key): key for key in keys}
        try:
            if self._invalidation is None:
                found = await async_batch_of(self.store).get_many(self.name, stored)
            else:  # the entries and their tokens together (one round trip on Redis)
                found = await self._async_invalidation().get_many(stored)
        except StoreUnavailable as error:
            self._outage(error, f"{len(stored)} keys", "treated as misses")
            return {}
        return self._values_of(stored, found)

    async def set_many(
        self, values: Mapping[str, Any], ttl: float | None = None, tags: Iterable[str] = ()
    ) -> None:
        """As :meth:`beaker.caching.Cache.set_many`, awaited."""
        stamps = await self._stamps(f"{len(values)} keys", tags)
        if stamps is MISSING:
            return
        entries = self._entries_of(values, ttl, stamps)
        try:
            await async_batch_of(self.store).set_many(self.name, entries)
        except StoreUnavailable as error:
            self._outage(error, f"{len(entries)} keys", "not written")

    async def delete_many(self, keys: Iterable[str]) -> None:
        """As :meth:`beaker.caching.Cache.delete_many`, awaited."""
        stored = [self._store_key(key) for key in keys]
        try:
            await async_batch_of(self.store).delete_many(self.name, stored)
        except StoreUnavailable as error:
            self._outage(error, f"{len(stored)} keys", "not deleted")

    # -- invalidation ----------------------------------------------------------------------------

    def _async_invalidation(self) -> AsyncInvalidation:
        """The namespace's :class:`~beaker.invalidation.AsyncInvalidation`.

        Raises:
            ConfigError: the cache was composed without ``invalidation=True``.
        """
        return cast(AsyncInvalidation, self._invalidation_for("invalidation", False))

    async def invalidate(self, hard: bool = True) -> None:
        """As :meth:`beaker.caching.Cache.invalidate`, awaited: one store operation, seen by
        every process (sync or async) sharing the store."""
        await self._async_invalidation().invalidate(hard)

    async def invalidate_tags(self, *tags: str) -> None:
        """As :meth:`beaker.caching.Cache.invalidate_tags`, awaited."""
        await self._async_invalidation().invalidate_tags(tags)

    # -- dogpile-protected creation -----------------------------------------------------------

    async def _create(
        self,
        key: str,
        creator: Callable[[], Awaitable[Any] | Any],
        ttl: float | None,
        should_cache: Predicate,
        tags: Iterable[str],
    ) -> Any:
        stamps = await self._stamps(key, tags)  # before the creator, as the sync front
        start = time.perf_counter() if self._timed else 0.0
        value = creator()
        if inspect.isawaitable(value):
            value = await value
        delta = 0.0
        if self._timed:
            delta = time.perf_counter() - start
            self._calls.create(delta)
        if stamps is not MISSING and (should_cache is None or should_cache(value)):
            await self._write(key, self._entry(key, value, ttl, stamps, delta))
        return value

    async def get_or_create(
        self,
        key: str,
        creator: Callable[[], Awaitable[Any] | Any],
        ttl: float | None = None,
        should_cache: Predicate = None,
        tags: Iterable[str] = (),
    ) -> Any:
        """Return the fresh value under ``key``, or make it with ``creator()`` and store it.

        As :meth:`beaker.caching.Cache.get_or_create` (the dogpile lock, the stale window,
        ``should_cache``, ``tags``), with ``creator`` an ``async def`` function (or a plain one) of no
        arguments.

        Raises:
            LockTimeout: ``lock_timeout`` passed while another worker was creating.
            SerializationError: the created value cannot be encoded.
        """
        key = self._store_key(key)
        first = await self._read(key)
        value, fresh = self._first_judge(key, first)
        if fresh:
            return value
        return await self._recreate(key, first, value, creator, ttl, should_cache, tags)

    async def _recreate(
        self,
        key: str,
        first: Entry | None,
        value: Any,
        creator: Callable[[], Awaitable[Any] | Any],
        ttl: float | None,
        should_cache: Predicate = None,
        tags: Iterable[str] = (),
    ) -> Any:
        """As :meth:`beaker.caching.Cache._recreate`: the dogpile lock, one more read under
        it, and ``creator`` if still needed, after a first read found no fresh value."""
        start = time.perf_counter() if self._timed else 0.0
        try:
            wait = self.lock_timeout if value is MISSING else 0  # none with a stale value
            lease = await self.lock.acquire(self._lock_name(key), timeout=wait)
        except LockTimeout as error:
            return self._timed_out(error, start, value)
        except StoreUnavailable as error:  # a distributed lock's server is down too
            self._outage(error, key, "created without the dogpile lock")
            return await self._create(key, creator, ttl, should_cache, tags)
        if self._timed:
            self._calls.lock_wait(time.perf_counter() - start)
        async with lease:
            made = self._made_by_another(key, first, await self._read(key))
            if made is not MISSING:
                return made
            return await self._create(key, creator, ttl, should_cache, tags)

    # -- decoration ----------------------------------------------------------------------------

    def memoize(
        self, *key_parts: Any, **options: Unpack[MemoOptions]
    ) -> Callable[[Callable[P, Awaitable[R]]], AsyncMemoized[P, R]]:
        """Decorate an ``async def`` function so its results are cached per call arguments,
        under the same keys and namespace as :meth:`beaker.caching.Cache.memoize` gives a
        function of that name and file (so sync and async twins share entries); the options
        (``namespace``, ``ttl``, ``ignore``, ``should_cache``, ``tags``) as there.

        Returns:
            A decorator. The wrapper is a coroutine function; it has ``await
            invalidate(*args, **kwargs)``, ``key(*args, **kwargs)`` and ``cache``.

        Raises:
            ComponentTypeError: (from the decorator) the function is not ``async def``.
            ConfigError: ``ttl`` is not ``None`` or a number of seconds >= 0.
            ConfigError: (from the decorator) ``ignore`` names a parameter it does not have.
            TypeError: an unknown option.
        """
        memo = memo_of(options)

        def decorate(func: Callable[P, Awaitable[R]]) -> AsyncMemoized[P, R]:
            if not inspect.iscoroutinefunction(func):
                raise ComponentTypeError("func", func, "an async def function")
            cache, make_key, formats = self._memo_parts(func, key_parts, memo.namespace, memo.ignore)

            async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                # The common call's key formatted inline, as the sync engine (memoized) does;
                # one read here, and a miss reads once more, under the dogpile lock.
                inline = not kwargs and len(args) < len(formats)
                key = formats[len(args)] % args if inline else make_key(args, kwargs)
                if not cache._plain_key and len(key) > cache._key_limit:
                    key = cache.key(cache.name, key)
                entry = await cache._read(key)
                value, fresh = cache._first_judge(key, entry)
                if not fresh:
                    call = functools.partial(func, *args, **kwargs)
                    value = await cache._recreate(
                        key, entry, value, call, memo.ttl, memo.should_cache, memo.tags
                    )
                return value  # type: ignore[no-any-return]

            async def invalidate(*args: P.args, **kwargs: P.kwargs) -> None:
                await cache.delete(make_key(args, kwargs))

            return attach_memo(wrapper, func, cache, make_key, invalidate)  # type: ignore[no-any-return]

        return decorate


@attrs.frozen
class MeteredAsyncCache(Metered[AsyncStore, AsyncLock], AsyncCache):
    """A :class:`AsyncCache` that also counts hits and misses (see
    :class:`~beaker.cache_core.Metered`): what ``compose_async(..., metrics=...)`` builds."""


def compose_async(store: AsyncStore, **options: Unpack[Options]) -> AsyncCache:
    """Build an :class:`AsyncCache` from parts: the options and defaults of
    :func:`beaker.compose`, with an :class:`~beaker.stores.base.AsyncStore`, an
    :class:`~beaker.locks.base.AsyncLock` (default :class:`~beaker.locks.AsyncioLock`) and a
    near tier (``near=NearCache(...)``) that is an :class:`~beaker.stores.near.AsyncNearStore`;
    raises what :func:`beaker.compose` raises.
    """
    return build(AsyncCache, MeteredAsyncCache, store, options)
