"""The decisions of a cache, shared by its two fronts: the sync :class:`~beaker.caching.Cache`
and the asyncio :class:`~beaker.async_caching.AsyncCache`.

:class:`CacheCore` holds a cache's configuration (store, lock, expiry, key strategy, serializer
chain, namespace, clock, lock timeout, stale window, outage mode) and every rule that needs no
I/O: how a caller's key becomes the stored key, whether a stored entry is fresh, stale (inside
the stale-while-revalidate window) or dead, how a value becomes a record and when that record
expires, the dogpile lock's name, and what a store outage means. A front adds only the I/O:
calling the store and the lock, plainly or with ``await``. Keys, records and lock names are
therefore identical across the fronts, so sync and async processes share entries.

:func:`resolve_parts` is the argument handling of :func:`~beaker.caching.compose` and
:func:`~beaker.async_caching.compose_async`.

This module may import the store and lock protocols, policies and serializers; never
sessions or compat.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Generic, Literal, TypeVar

import attrs

from beaker.entry import MISSING, Entry
from beaker.errors import (
    ComponentTypeError,
    ConfigError,
    DeserializationError,
    SerializationError,
    StoreUnavailable,
)
from beaker.policies.expiry import TTL, ExpiryPolicy, NoExpiry
from beaker.policies.keys import ArgsKey, KeyStrategy, PlainKey, function_namespace
from beaker.serializers.base import BytesCodec, Sealed, Serializer
from beaker.serializers.pickle import PickleSerializer
from beaker.validators import (
    MAX_WAIT,
    conforms,
    instance_of,
    is_callable,
    one_of,
    optional,
    seconds,
)

log = logging.getLogger("beaker.cache")

StoreErrorMode = Literal["raise", "compute"]
#: ``should_cache``: ``(value) -> bool`` (false: the created value is not stored), or ``None``.
Predicate = Callable[[Any], bool] | None

S = TypeVar("S")  # a front's store type
L = TypeVar("L")  # a front's lock type
C = TypeVar("C", bound="CacheCore[Any, Any]")


def _front_part(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """The store or lock suits the front (``parts``: its check and wording per field)."""
    accepts, expected = type(instance).parts[attribute.name]
    if not accepts(value):
        raise ComponentTypeError(attribute.name, value, expected)


def _default_lock(instance: Any) -> Any:
    return type(instance).default_lock()


#: Seconds a caller may wait for a lock: finite, at most :data:`~beaker.validators.MAX_WAIT`.
_LOCK_WAIT = seconds(maximum=MAX_WAIT, optional=True)
#: A finite lifetime or window in seconds (a per-call ``ttl`` of 0 is Beaker's expiretime=0).
_SECONDS = seconds()
#: A moment in seconds since the epoch, from 0 to :data:`~beaker.validators.MAX_SECONDS`.
_MOMENT = seconds(optional=True)


def check_ttl(ttl: float | None) -> None:
    """Refuse a per-call ``ttl`` that is not ``None`` or a finite number of seconds >= 0 (0: an
    entry stale at once, as Beaker's ``expiretime=0``).

    Raises:
        ConfigError: any other value; the option is ``"ttl"``.
    """
    if ttl is not None:
        _SECONDS.check("ttl", ttl)


@attrs.frozen
class CacheCore(Generic[S, L]):
    """A cache's configuration and its I/O-free rules; subclassed by each front.

    Args:
        store: where entries live (the front's store protocol).
        lock: dogpile lock for ``get_or_create`` (the front's lock protocol; default
            :meth:`default_lock`).
        expiry: when written entries stop being fresh (:class:`~beaker.policies.ExpiryPolicy`).
        key: turns a caller's key into the stored key (:class:`~beaker.policies.KeyStrategy`).
        serializer: ``None`` keeps objects as they are in stores that hold objects and pickles
            for the others; or any :class:`~beaker.serializers.Serializer`.
        name: the namespace (``str``).
        clock: seconds since the epoch (``() -> float``); inject a fake one in tests.
        lock_timeout: seconds ``get_or_create`` waits for another worker's creator before
            raising :class:`~beaker.errors.LockTimeout`; ``None`` waits forever.
        stale_while_revalidate: seconds after expiry during which an expired value is still
            served to callers of ``get_or_create`` while one worker recreates it.
        on_store_error: ``"raise"`` propagates :class:`~beaker.errors.StoreUnavailable`;
            ``"compute"`` logs it, treats reads as misses and skips writes, so a cache outage
            does not become a site outage.
        fresh_after: entries written before this time (seconds since the epoch) are stale,
            whatever their expiry (Beaker's ``starttime``); ``None`` for no such bound.

    Raises:
        ComponentTypeError: a part does not implement its protocol.
        ConfigError: a number or mode is out of range.
    """

    #: Per front: field name -> (accepts(value) -> bool, what is expected, in words).
    parts: ClassVar[dict[str, tuple[Callable[[Any], bool], str]]]

    store: S = attrs.field(validator=_front_part)
    lock: L = attrs.field(
        default=attrs.Factory(_default_lock, takes_self=True), validator=_front_part
    )
    expiry: ExpiryPolicy = attrs.field(
        factory=NoExpiry, validator=conforms(ExpiryPolicy, "an ExpiryPolicy (e.g. TTL(60))")
    )
    key: KeyStrategy = attrs.field(
        factory=PlainKey, validator=conforms(KeyStrategy, "a KeyStrategy (namespace, key) -> str")
    )
    serializer: Serializer | None = attrs.field(
        default=None, validator=optional(conforms(Serializer, "a Serializer (dumps/loads)"))
    )
    name: str = attrs.field(default="default", validator=instance_of(str, "a str"))
    clock: Callable[[], float] = attrs.field(
        default=time.time, validator=is_callable("a clock () -> seconds since the epoch")
    )
    lock_timeout: float | None = attrs.field(default=None, validator=_LOCK_WAIT)
    stale_while_revalidate: float = attrs.field(default=0.0, validator=_SECONDS)
    on_store_error: StoreErrorMode = attrs.field(
        default="raise", validator=one_of(("raise", "compute"))
    )
    fresh_after: float | None = attrs.field(default=None, validator=_MOMENT)

    # Derived once from the configuration above; never part of equality or repr.
    _codec: Serializer | None = attrs.field(init=False, eq=False, repr=False)
    _plain_key: bool = attrs.field(init=False, eq=False, repr=False)
    _key_limit: int = attrs.field(init=False, eq=False, repr=False)
    _store_get: Any = attrs.field(init=False, eq=False, repr=False)
    _not_before: float = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        codec = self.serializer
        if codec is None and not self.store.holds_objects:  # type: ignore[attr-defined]
            codec = PickleSerializer()
        object.__setattr__(self, "_codec", codec)
        object.__setattr__(self, "_plain_key", type(self.key) is PlainKey)
        # Keys up to this length the strategy promises to return unchanged: not called for them.
        unchanged = getattr(self.key, "unchanged_up_to", None)
        object.__setattr__(self, "_key_limit", -1 if unchanged is None else unchanged(self.name))
        object.__setattr__(self, "_store_get", self.store.get)  # type: ignore[attr-defined]
        not_before = -math.inf if self.fresh_after is None else self.fresh_after
        object.__setattr__(self, "_not_before", not_before)

    @classmethod
    def default_lock(cls) -> L:
        """The lock a front uses when none is given."""
        raise NotImplementedError  # pragma: no cover - each front has one

    # -- keys and names ------------------------------------------------------------------------

    def _store_key(self, key: str) -> str:
        """The key the store sees for a caller's ``key`` (the key strategy applied)."""
        if self._plain_key or len(key) <= self._key_limit:
            return key
        return self.key(self.name, key)

    def _lock_name(self, key: str) -> str:
        """The dogpile lock's name for a stored ``key``: ``"{len}:{namespace}:{key}"``, so no
        namespace's names can collide with another's."""
        return f"{len(self.name)}:{self.name}:{key}"

    # -- reading -------------------------------------------------------------------------------

    def _outage(self, error: StoreUnavailable, key: str, consequence: str) -> None:
        """Re-raise ``error``, or in ``on_store_error="compute"`` mode log it and go on."""
        if self.on_store_error == "raise":
            raise error
        log.warning("cache store unavailable (%s); %r %s", error, key, consequence)

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

    def _accept(self, key: str, entry: Entry, default: Any) -> Any:
        """What ``get`` returns for a stored entry: its value while fresh, else ``default``
        (expired, inside the stale window, written before ``fresh_after``, or unreadable)."""
        if entry[1] < self._not_before:
            return default
        expires_at = entry[2]
        if expires_at is not None and self.clock() >= expires_at - self.stale_while_revalidate:
            return default
        if self._codec is None:
            return entry[0]
        value = self._decode(key, entry)
        return default if value is MISSING else value

    def _judge(self, key: str, entry: Entry | None) -> tuple[Any, bool]:
        """What ``get_or_create`` makes of a read: ``(value, True)`` when fresh, ``(value,
        False)`` when expired but inside the stale-while-revalidate window, ``(MISSING,
        False)`` for a miss, an expired or an unreadable entry, or one written before
        ``fresh_after``."""
        if entry is None or entry[1] < self._not_before:
            return MISSING, False
        expires_at = entry[2]
        fresh = True
        if expires_at is not None:
            now = self.clock()
            if now >= expires_at:
                return MISSING, False
            fresh = now < expires_at - self.stale_while_revalidate
        if self._codec is None:
            return entry[0], fresh
        value = self._decode(key, entry)
        return value, fresh and value is not MISSING

    def _lock_wait(self, stale: Any) -> float | None:
        """How long ``get_or_create`` waits for the lock: not at all when it has a ``stale``
        value to serve meanwhile (another worker is recreating it), else ``lock_timeout``."""
        return self.lock_timeout if stale is MISSING else 0

    # -- writing -------------------------------------------------------------------------------

    def _entry(self, key: str, value: Any, ttl: float | None) -> Entry:
        """The record to store for ``value``: encoded by the serializer chain, stamped with the
        clock, expiring per the policy (or ``ttl`` seconds) plus the stale window.

        Raises:
            SerializationError: the serializer cannot encode ``value``; names the key.
        """
        check_ttl(ttl)
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
        return Entry(payload, now, expires_at)

    # -- derivation ----------------------------------------------------------------------------

    def namespace(self: C, name: str) -> C:
        """The same cache working in namespace ``name`` (sharing the store and lock)."""
        return attrs.evolve(self, name=name)

    def evolve(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (any constructor argument), validated again."""
        return attrs.evolve(self, **changes)

    def _memo_parts(
        self: C,
        func: Callable[..., Any],
        key_parts: tuple[Any, ...],
        namespace: str | None,
        ignore: Iterable[str] = (),
    ) -> tuple[C, ArgsKey, tuple[str, ...]]:
        """For ``memoize``: the namespaced cache, the call's key maker (Beaker's decorator
        key, the parameters named in ``ignore`` left out) and the ``%``-formats of the common
        call (see :attr:`~beaker.policies.ArgsKey.inline_formats`), for building those keys
        inline.

        Raises:
            ConfigError: ``ignore`` names a parameter ``func`` does not have.
        """
        make_key = ArgsKey.of(func, key_parts, ignore)
        cache = self.namespace(namespace or function_namespace(func))
        return cache, make_key, make_key.inline_formats


def attach_memo(
    wrapper: Any, func: Callable[..., Any], cache: Any, make_key: ArgsKey, invalidate: Any
) -> Any:
    """Finish a memoized ``wrapper``: ``func``'s name and docstring, ``cache``, ``key(*args,
    **kwargs)`` and ``invalidate``."""
    functools.update_wrapper(wrapper, func)

    def key(*args: Any, **kwargs: Any) -> str:
        return make_key(args, kwargs)

    wrapper.cache = cache
    wrapper.key = key
    wrapper.invalidate = invalidate
    return wrapper


def resolve_parts(
    expiry: ExpiryPolicy | None,
    ttl: float | None,
    key: KeyStrategy | None,
    serializer: Serializer | None,
    signer: BytesCodec | None,
) -> dict[str, Any]:
    """The expiry, key and serializer arguments of a cache front from ``compose``'s options.

    Raises:
        ComponentTypeError: ``signer`` is not a :class:`~beaker.serializers.BytesCodec`.
        ConfigError: both ``ttl`` and ``expiry``.
    """
    if expiry is not None and ttl is not None:
        raise ConfigError("ttl", ttl, "either ttl or expiry, not both")
    if ttl is not None:
        expiry = TTL(ttl)
    if signer is not None:
        if not isinstance(signer, BytesCodec):
            raise ComponentTypeError("signer", signer, "a BytesCodec (encode/decode)")
        serializer = Sealed(serializer or PickleSerializer(), signer)
    return {
        "expiry": NoExpiry() if expiry is None else expiry,
        "key": PlainKey() if key is None else key,
        "serializer": serializer,
    }
