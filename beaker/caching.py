"""The composed cache: :class:`Cache` and :func:`compose`.

A cache is a frozen bundle of parts — a store, a lock, an expiry policy, a key strategy and a
serializer chain — plus the namespace it works in. Everything per-call is plain attribute
access; choices that depend only on configuration are made once in ``__attrs_post_init__``.

This module may import stores, locks, policies and serializers; never sessions or compat.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Literal, ParamSpec, Protocol, TypeVar

import attrs

from beaker.entry import MISSING, Entry
from beaker.errors import (
    ComponentTypeError,
    ConfigError,
    DeserializationError,
    LockTimeout,
    SerializationError,
    StoreUnavailable,
)
from beaker.locks.base import Lock
from beaker.locks.thread import ThreadLock
from beaker.policies.expiry import TTL, ExpiryPolicy, NoExpiry
from beaker.policies.keys import ArgsKey, KeyStrategy, PlainKey, function_namespace
from beaker.serializers.base import BytesCodec, Sealed, Serializer
from beaker.serializers.pickle import PickleSerializer
from beaker.stores.base import Store

log = logging.getLogger("beaker.cache")

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

StoreErrorMode = Literal["raise", "compute"]


def _conforms(protocol: type, expected: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, protocol):
            raise ComponentTypeError(attribute.name, value, expected)

    return check


def _optional_seconds(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(attribute.name, value, "a number of seconds >= 0, or None")


def _optional_time(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(
            attribute.name, value, "seconds since the epoch (a finite number), or None"
        )


def _seconds(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(attribute.name, value, "a number of seconds >= 0")


class Memoized(Protocol[P, R_co]):
    """A function wrapped by :meth:`Cache.memoize`."""

    cache: Cache

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> None: ...

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str: ...


@attrs.frozen
class Cache:
    """A cache composed of immutable parts, working in one namespace.

    Build it with :func:`compose`; derive variants with :meth:`namespace` or :meth:`evolve`.

    Args:
        store: where entries live (:class:`~beaker.stores.base.Store`).
        lock: dogpile lock for :meth:`get_or_create` (:class:`~beaker.locks.base.Lock`).
        expiry: when written entries stop being fresh (:class:`~beaker.policies.ExpiryPolicy`).
        key: turns a caller's key into the stored key (:class:`~beaker.policies.KeyStrategy`).
        serializer: ``None`` keeps objects as they are in stores that hold objects and pickles
            for the others; or any :class:`~beaker.serializers.Serializer`.
        name: the namespace (``str``).
        clock: seconds since the epoch (``() -> float``); inject a fake one in tests.
        lock_timeout: seconds :meth:`get_or_create` waits for another worker's creator before
            raising :class:`~beaker.errors.LockTimeout`; ``None`` waits forever.
        stale_while_revalidate: seconds after expiry during which an expired value is still
            served to callers of :meth:`get_or_create` while one worker recreates it.
        on_store_error: ``"raise"`` propagates :class:`~beaker.errors.StoreUnavailable`;
            ``"compute"`` logs it, treats reads as misses and skips writes, so a cache outage
            does not become a site outage.
        fresh_after: entries written before this time (seconds since the epoch) are stale,
            whatever their expiry (Beaker's ``starttime``); ``None`` for no such bound.

    Raises:
        ComponentTypeError: a part does not implement its protocol.
        ConfigError: a number or mode is out of range.
    """

    store: Store = attrs.field(validator=_conforms(Store, "a Store (get/set/delete/clear/keys)"))
    lock: Lock = attrs.field(
        factory=ThreadLock, validator=_conforms(Lock, "a Lock (scope and acquire(name))")
    )
    expiry: ExpiryPolicy = attrs.field(
        factory=NoExpiry, validator=_conforms(ExpiryPolicy, "an ExpiryPolicy (e.g. TTL(60))")
    )
    key: KeyStrategy = attrs.field(
        factory=PlainKey, validator=_conforms(KeyStrategy, "a KeyStrategy (namespace, key) -> str")
    )
    serializer: Serializer | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(_conforms(Serializer, "a Serializer (dumps/loads)")),
    )
    name: str = attrs.field(default="default", validator=attrs.validators.instance_of(str))
    clock: Callable[[], float] = attrs.field(
        default=time.time, validator=attrs.validators.is_callable()
    )
    lock_timeout: float | None = attrs.field(default=None, validator=_optional_seconds)
    stale_while_revalidate: float = attrs.field(default=0.0, validator=_seconds)
    on_store_error: StoreErrorMode = attrs.field(
        default="raise", validator=attrs.validators.in_(("raise", "compute"))
    )
    fresh_after: float | None = attrs.field(default=None, validator=_optional_time)

    # Derived once from the configuration above; never part of equality or repr.
    _codec: Serializer | None = attrs.field(init=False, eq=False, repr=False)
    _plain_key: bool = attrs.field(init=False, eq=False, repr=False)
    _key_limit: int = attrs.field(init=False, eq=False, repr=False)
    _store_get: Callable[[str, str], Entry | None] = attrs.field(init=False, eq=False, repr=False)
    _not_before: float = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        codec = self.serializer
        if codec is None and not type(self.store).holds_objects:
            codec = PickleSerializer()
        object.__setattr__(self, "_codec", codec)
        object.__setattr__(self, "_plain_key", type(self.key) is PlainKey)
        # Keys up to this length the strategy promises to return unchanged: not called for them.
        unchanged = getattr(self.key, "unchanged_up_to", None)
        object.__setattr__(self, "_key_limit", -1 if unchanged is None else unchanged(self.name))
        object.__setattr__(self, "_store_get", self.store.get)
        not_before = -math.inf if self.fresh_after is None else self.fresh_after
        object.__setattr__(self, "_not_before", not_before)

    # -- reading ---------------------------------------------------------------------------

    def _outage(self, error: StoreUnavailable, key: str, consequence: str) -> None:
        """Re-raise ``error``, or in ``on_store_error="compute"`` mode log it and go on."""
        if self.on_store_error == "raise":
            raise error
        log.warning("cache store unavailable (%s); %r %s", error, key, consequence)

    def _read(self, key: str) -> Entry | None:
        try:
            return self._store_get(self.name, key)
        except StoreUnavailable as error:
            self._outage(error, key, "treated as a miss")
            return None

    def _decode(self, key: str, entry: Entry) -> Any:
        codec = self._codec
        if codec is None:
            return entry.value
        try:
            return codec.loads(entry.value)
        except DeserializationError as exc:
            log.warning(
                "cache entry %r in namespace %r is unreadable (%s): a miss", key, self.name, exc
            )
            return MISSING

    def _lookup(self, key: str) -> tuple[Any, bool]:
        """``(value, fresh)`` for a stored key: ``(value, True)`` when fresh, ``(value,
        False)`` when expired but inside the stale-while-revalidate window, ``(MISSING,
        False)`` for a miss, an expired or an unreadable entry."""
        entry = self._read(key)
        if entry is None or entry[1] < self._not_before:
            return MISSING, False
        expires_at = entry[2]
        fresh = True
        if expires_at is not None:
            now = self.clock()
            if now >= expires_at:
                return MISSING, False
            fresh = now < expires_at - self.stale_while_revalidate
        value = self._decode(key, entry)
        return value, fresh and value is not MISSING

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
        if entry is None or entry[1] < self._not_before:
            return default
        expires_at = entry[2]
        if expires_at is not None and self.clock() >= expires_at - self.stale_while_revalidate:
            return default
        if self._codec is None:
            return entry[0]
        value = self._decode(key, entry)
        return default if value is MISSING else value

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not MISSING

    def entry(self, key: str) -> Entry | None:
        """The entry stored under ``key`` with its value decoded, fresh or not (``None`` when
        there is none or it is unreadable): for callers that judge freshness themselves, such
        as Beaker's namespace managers.

        Raises:
            StoreUnavailable: the store's server is down and ``on_store_error="raise"``.
        """
        if not self._plain_key and len(key) > self._key_limit:
            key = self.key(self.name, key)
        entry = self._read(key)
        if entry is None:
            return None
        value = self._decode(key, entry)
        return None if value is MISSING else entry._replace(value=value)

    def keys(self) -> list[str]:
        """The stored keys of this namespace, fresh or not (as the store names them)."""
        return list(self.store.keys(self.name))

    # -- writing ---------------------------------------------------------------------------

    def _write(self, key: str, value: Any, ttl: float | None) -> None:
        now = self.clock()
        expires_at = self.expiry.expires_at(now, ttl)
        if expires_at is not None and self.stale_while_revalidate:
            expires_at += self.stale_while_revalidate  # keep the entry through its stale window
        payload = value
        if self._codec is not None:
            try:
                payload = self._codec.dumps(value)
            except SerializationError as exc:
                raise SerializationError(exc.reason, key=key) from exc
        try:
            self.store.set(self.name, key, Entry(payload, now, expires_at))
        except StoreUnavailable as error:
            self._outage(error, key, "not written")

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``.

        Args:
            key: the key (``str``).
            value: any value the serializer accepts (any object for a memory store).
            ttl: seconds this entry stays fresh, overriding the expiry policy.

        Raises:
            SerializationError: the serializer cannot encode ``value``; names the key.
            StoreUnavailable: the store's server is down and ``on_store_error="raise"``.
        """
        if not self._plain_key and len(key) > self._key_limit:
            key = self.key(self.name, key)
        self._write(key, value, ttl)

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        if not self._plain_key and len(key) > self._key_limit:
            key = self.key(self.name, key)
        try:
            self.store.delete(self.name, key)
        except StoreUnavailable as error:
            self._outage(error, key, "not deleted")

    def clear(self) -> None:
        """Remove every entry of this cache's namespace (and of no other)."""
        self.store.clear(self.name)

    # -- dogpile-protected creation -----------------------------------------------------------

    def get_or_create(self, key: str, creator: Callable[[], Any], ttl: float | None = None) -> Any:
        """Return the fresh value under ``key``, or make it with ``creator()`` and store it.

        For one key, one creator runs at a time within the lock's scope; the other callers wait
        and read its value (the dogpile lock). With ``stale_while_revalidate`` set, callers
        arriving while a worker recreates an expired value get the expired value at once.

        Args:
            key: the key (``str``).
            creator: makes the value (``() -> value``); its exceptions propagate, nothing is
                stored.
            ttl: seconds the created value stays fresh, overriding the expiry policy.

        Raises:
            LockTimeout: ``lock_timeout`` passed while another worker was creating.
            SerializationError: the created value cannot be encoded.
        """
        if not self._plain_key and len(key) > self._key_limit:
            key = self.key(self.name, key)
        value, fresh = self._lookup(key)
        if fresh:
            return value
        lock_name = f"{len(self.name)}:{self.name}:{key}"
        try:
            if value is not MISSING:  # expired, but inside the stale window
                try:
                    lease = self.lock.acquire(lock_name, timeout=0)
                except LockTimeout:
                    return value  # another worker is recreating it
            else:
                lease = self.lock.acquire(lock_name, timeout=self.lock_timeout)
        except StoreUnavailable as error:  # a distributed lock's server is down too
            self._outage(error, key, "created without the dogpile lock")
            value = creator()
            self._write(key, value, ttl)
            return value
        with lease:
            value, fresh = self._lookup(key)  # the worker before us may have made it
            if fresh:
                return value
            value = creator()
            self._write(key, value, ttl)
            return value

    # -- derivation ----------------------------------------------------------------------------

    def namespace(self, name: str) -> Cache:
        """The same cache working in namespace ``name`` (sharing the store and lock)."""
        return attrs.evolve(self, name=name)

    def evolve(self, **changes: Any) -> Cache:
        """A copy with ``changes`` applied (any constructor argument), validated again."""
        return attrs.evolve(self, **changes)

    def memoize(
        self, *key_parts: Any, namespace: str | None = None, ttl: float | None = None
    ) -> Callable[[Callable[P, R]], Memoized[P, R]]:
        """Decorate a function so its results are cached per call arguments.

        The key is Beaker's decorator key (see :func:`beaker.policies.args_key`): ``key_parts``
        then the call's arguments, ``str()``-ed and joined by spaces, a first ``self``/``cls``
        skipped, keyword arguments bound to the signature.

        Args:
            key_parts: values put in front of every key (``str()``-ed).
            namespace: the namespace; defaults to Beaker's ``"<source file>|<function name>"``.
            ttl: seconds results stay fresh, overriding the expiry policy.

        Returns:
            A decorator. The wrapper has ``invalidate(*args, **kwargs)`` (drops the entry of
            those arguments), ``key(*args, **kwargs)`` and ``cache`` (the namespaced cache).
        """

        def decorate(func: Callable[P, R]) -> Memoized[P, R]:
            cache = self.namespace(namespace or function_namespace(func))
            wrapper = memoized(func, itertools.repeat(cache).__next__, key_parts, ttl)
            wrapper.cache = cache
            return wrapper

        return decorate


def memoized(
    func: Callable[P, R],
    current: Callable[[], Cache | None],
    key_parts: tuple[Any, ...] = (),
    ttl: float | None = None,
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

    Returns:
        The wrapper, with ``key(*args, **kwargs)`` and ``invalidate(*args, **kwargs)``.
    """
    make_key = ArgsKey.of(func, key_parts)
    # The common call (positional arguments, no self) formats its key inline.
    formats = make_key.formats if not make_key.call.skip_first else ()

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        cache = current()
        if cache is None:
            return func(*args, **kwargs)
        if kwargs or len(args) >= len(formats):
            key = make_key(args, kwargs)
        else:
            key = formats[len(args)] % args
        value = cache.get(key)
        if value is MISSING:
            value = cache.get_or_create(key, functools.partial(func, *args, **kwargs), ttl)
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


def compose(
    store: Store,
    *,
    lock: Lock | None = None,
    expiry: ExpiryPolicy | None = None,
    ttl: float | None = None,
    key: KeyStrategy | None = None,
    serializer: Serializer | None = None,
    signer: BytesCodec | None = None,
    namespace: str = "default",
    clock: Callable[[], float] = time.time,
    lock_timeout: float | None = None,
    stale_while_revalidate: float = 0.0,
    on_store_error: StoreErrorMode = "raise",
) -> Cache:
    """Build a :class:`Cache` from parts. Every part but the store has a default.

    Defaults: ``lock=ThreadLock()`` (dogpile protection among threads), ``expiry=NoExpiry()``
    (or ``TTL(ttl)`` when ``ttl`` seconds are given), ``key=PlainKey()``, ``serializer=None``
    (objects by reference in a memory store, pickle elsewhere), no signer, namespace
    ``"default"``, ``clock=time.time``.

    Args:
        store: a :class:`~beaker.stores.base.Store`.
        lock: a :class:`~beaker.locks.base.Lock`.
        expiry: an :class:`~beaker.policies.ExpiryPolicy`; not together with ``ttl``.
        ttl: shorthand for ``expiry=TTL(ttl)``, seconds.
        key: a :class:`~beaker.policies.KeyStrategy`, e.g. ``HashedKey(250)``.
        serializer: a :class:`~beaker.serializers.Serializer`.
        signer: a :class:`~beaker.serializers.BytesCodec` (HMAC signer or AEAD encrypter)
            wrapped around the serializer's bytes; requires a byte store or a serializer.
        namespace, clock, lock_timeout, stale_while_revalidate, on_store_error: as
            :class:`Cache`.

    Raises:
        ComponentTypeError: a part does not implement its protocol.
        ConfigError: conflicting or out-of-range options.
    """
    if expiry is not None and ttl is not None:
        raise ConfigError("ttl", ttl, "either ttl or expiry, not both")
    if ttl is not None:
        expiry = TTL(ttl)
    if signer is not None:
        if not isinstance(signer, BytesCodec):
            raise ComponentTypeError("signer", signer, "a BytesCodec (encode/decode)")
        serializer = Sealed(serializer or PickleSerializer(), signer)
    return Cache(
        store=store,
        lock=ThreadLock() if lock is None else lock,
        expiry=NoExpiry() if expiry is None else expiry,
        key=PlainKey() if key is None else key,
        serializer=serializer,
        name=namespace,
        clock=clock,
        lock_timeout=lock_timeout,
        stale_while_revalidate=stale_while_revalidate,
        on_store_error=on_store_error,
    )
