"""The decisions of a cache, shared by its two fronts: the sync :class:`~beaker.caching.Cache`
and the asyncio :class:`~beaker.async_caching.AsyncCache`.

:class:`CacheCore` holds a cache's configuration (store, lock, expiry, key strategy, serializer
chain, namespace, clock, lock timeout, stale window, outage mode) and every rule that needs no
I/O: how a caller's key becomes the stored key, whether a stored entry is fresh, stale (inside
the stale-while-revalidate window) or dead, how a value becomes a record and when that record
expires, the dogpile lock's name, and what a store outage means. A front adds only the I/O:
calling the store and the lock, plainly or with ``await``. Keys, records and lock names are
therefore identical across the fronts, so sync and async processes share entries.

:func:`build` is :func:`~beaker.caching.compose` and
:func:`~beaker.async_caching.compose_async` (their keyword arguments: :class:`Options`).

This module may import the store and lock protocols, policies and serializers; never
sessions or compat.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypedDict, TypeVar

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
from beaker.invalidation import Invalidation, Stale
from beaker.metrics import Calls, NullRecorder, Recorder, Stats, Tally, calls_of, recorder_of
from beaker.policies.expiry import TTL, ExpiryPolicy, NoExpiry, XFetch
from beaker.policies.keys import ArgsKey, KeyStrategy, PlainKey, function_namespace
from beaker.serializers.base import BytesCodec, Sealed, Serializer
from beaker.serializers.pickle import PickleSerializer
from beaker.stores.near import NearCache
from beaker.stores.stamps import Stamps, stamp_value
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
    return type(instance).kinds.lock()


class FrontKinds(NamedTuple):
    """What differs between the fronts besides the I/O: the default lock's type (called with
    no arguments), the :class:`~beaker.invalidation.Invalidation` type of
    ``invalidation=True``, and the function finding a store's stamps
    (:func:`~beaker.stores.stamps.stamps_of` or its async twin)."""

    lock: Callable[[], Any]
    invalidation: type[Invalidation]
    stamps: Callable[[Any], Any]


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
            ``kinds.lock()``).
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
        invalidation: keep per-namespace generations and per-tag versions in the store and
            check them at every read, for :meth:`~beaker.caching.Cache.invalidate` and
            ``tags`` (see :mod:`beaker.stores.stamps`; every process sharing the entries must
            set it); ``False`` by default.
        metrics: the :class:`~beaker.metrics.Recorder` of creator runs, lock waits, store
            errors and, on a :class:`Metered` front, hits and misses (see :meth:`stats`);
            default :class:`~beaker.metrics.NullRecorder`.

    Raises:
        ComponentTypeError: a part does not implement its protocol.
        ConfigError: a number or mode is out of range; an enabled ``metrics`` recorder on a
            front that does not count hits (build it with ``compose(..., metrics=...)``).
    """

    #: Per front: field name -> (accepts(value) -> bool, what is expected, in words).
    parts: ClassVar[dict[str, tuple[Callable[[Any], bool], str]]]
    #: Per front: its :class:`FrontKinds`.
    kinds: ClassVar[FrontKinds]
    #: Whether this class counts hits and misses (:class:`Metered`); a plain front does not.
    counts_hits: ClassVar[bool] = False

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
    invalidation: bool = attrs.field(default=False, validator=instance_of(bool, "a bool"))
    metrics: Recorder = attrs.field(
        factory=NullRecorder,
        validator=conforms(Recorder, "a Recorder (beaker.metrics), e.g. Counters()"),
    )

    # Derived once from the configuration above; never part of equality or repr.
    _codec: Serializer | None = attrs.field(init=False, eq=False, repr=False)
    _plain_key: bool = attrs.field(init=False, eq=False, repr=False)
    _key_limit: int = attrs.field(init=False, eq=False, repr=False)
    #: ``(namespace, key) -> Entry | None``: the store's read for ``get`` and for
    #: ``get_or_create`` (which also sees softly invalidated entries, as :class:`Stale`).
    _store_get: Any = attrs.field(init=False, eq=False, repr=False)
    _store_read: Any = attrs.field(init=False, eq=False, repr=False)
    _invalidation: Invalidation | None = attrs.field(init=False, eq=False, repr=False)
    _not_before: float = attrs.field(init=False, eq=False, repr=False)
    _calls: Calls = attrs.field(init=False, eq=False, repr=False)
    #: Where :class:`Metered` counts reads (hits, misses).
    _tally: Tally = attrs.field(init=False, eq=False, repr=False)
    _early: XFetch | None = attrs.field(init=False, eq=False, repr=False)
    #: Whether a read's fresh entry is simply its value (no codec, hit counting,
    #: invalidation, stale window, early recomputation or ``fresh_after``): memoized hits
    #: skip ``_judge``.
    _plain_hits: bool = attrs.field(init=False, eq=False, repr=False)
    #: Whether creators and lock waits are timed: for an enabled recorder, or for the
    #: expiry's early recomputation (which needs a creator's seconds).
    _timed: bool = attrs.field(init=False, eq=False, repr=False)
    #: What :meth:`_lock_name` puts before a key.
    _lock_prefix: str = attrs.field(init=False, eq=False, repr=False)
    #: Seconds a written entry stays fresh when the expiry is a plain :class:`TTL` (written
    #: without calling the policy), else ``None``.
    _lifetime: float | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.metrics.enabled and not self.counts_hits:
            raise ConfigError(
                "metrics", self.metrics, "compose(..., metrics=...): this front counts no hits"
            )
        codec = self.serializer
        if codec is None and not self.store.holds_objects:  # type: ignore[attr-defined]
            codec = PickleSerializer()
        object.__setattr__(self, "_codec", codec)
        object.__setattr__(self, "_plain_key", type(self.key) is PlainKey)
        # Keys up to this length the strategy promises to return unchanged: not called for them.
        unchanged = getattr(self.key, "unchanged_up_to", None)
        object.__setattr__(self, "_key_limit", -1 if unchanged is None else unchanged(self.name))
        get = read = self.store.get  # type: ignore[attr-defined]
        invalidation = None
        if self.invalidation:
            kinds = type(self).kinds
            invalidation = kinds.invalidation(kinds.stamps(self.store), self.name)
            get, read = invalidation.get, invalidation.get_stale
        object.__setattr__(self, "_invalidation", invalidation)
        object.__setattr__(self, "_store_get", get)
        object.__setattr__(self, "_store_read", read)
        not_before = -math.inf if self.fresh_after is None else self.fresh_after
        object.__setattr__(self, "_not_before", not_before)
        kind = type(self.store).__name__
        object.__setattr__(self, "_calls", calls_of(self.metrics, self.name, kind))
        object.__setattr__(self, "_tally", self.metrics.tally(self.name, kind))
        object.__setattr__(self, "_early", getattr(self.expiry, "early", None))
        plain = codec is None and invalidation is None and not self.counts_hits
        plain = plain and not self.stale_while_revalidate and self._early is None
        object.__setattr__(self, "_plain_hits", plain and self.fresh_after is None)
        object.__setattr__(self, "_timed", self.metrics.enabled or self._early is not None)
        object.__setattr__(self, "_lock_prefix", f"{len(self.name)}:{self.name}:")
        lifetime = self.expiry.seconds if type(self.expiry) is TTL else None
        object.__setattr__(self, "_lifetime", lifetime)

    # -- keys and names ------------------------------------------------------------------------

    def _store_key(self, key: str) -> str:
        """The key the store sees for a caller's ``key`` (the key strategy applied)."""
        if self._plain_key or len(key) <= self._key_limit:
            return key
        return self.key(self.name, key)

    def _lock_name(self, key: str) -> str:
        """The dogpile lock's name for a stored ``key``: ``"{len}:{namespace}:{key}"``, so no
        namespace's names can collide with another's."""
        return self._lock_prefix + key

    # -- reading -------------------------------------------------------------------------------

    def _outage(self, error: StoreUnavailable, key: str, consequence: str) -> None:
        """Re-raise ``error``, or in ``on_store_error="compute"`` mode log it and go on."""
        self._calls.store_error()
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

    def _fresh_value(self, key: str, entry: Entry | None, default: Any) -> Any:
        """What ``get`` returns for a read: the entry's value while fresh, else ``default``
        (no entry, expired, inside the stale window, written before ``fresh_after``, or
        unreadable). Counted as a hit or a miss by :class:`Metered`."""
        if entry is None or entry[1] < self._not_before:
            return default
        expires_at = entry[2]
        if expires_at is not None and self.clock() >= expires_at - self.stale_while_revalidate:
            return default
        if self._codec is None:
            return entry[0]
        value = self._decode(key, entry)
        return default if value is MISSING else value

    def _judge(self, key: str, entry: Entry | None, early: bool = True) -> tuple[Any, bool]:
        """What ``get_or_create`` makes of a read: ``(value, True)`` when fresh, ``(value,
        False)`` when expired but inside the stale-while-revalidate window, ``(MISSING,
        False)`` for a miss, an expired or an unreadable entry, or one written before
        ``fresh_after``; a softly invalidated (:class:`~beaker.invalidation.Stale`) entry,
        and with ``early`` one the expiry's :class:`~beaker.policies.XFetch` draws for early
        recomputation, is ``(value, False)``."""
        if entry is None or entry[1] < self._not_before:
            return MISSING, False
        expires_at = entry[2]
        fresh = True
        if expires_at is not None:
            now = self.clock()
            if now >= expires_at:
                return MISSING, False
            fresh_until = expires_at - self.stale_while_revalidate
            fresh = now < fresh_until
            if fresh and early and self._early is not None:
                fresh = not self._early.early(now, fresh_until, entry[3])
        if self._codec is None:
            return entry[0], fresh and type(entry) is not Stale
        value = self._decode(key, entry)
        return value, fresh and value is not MISSING and type(entry) is not Stale

    #: :meth:`_judge` of a first read (``get_or_create``, memoized calls): the same function
    #: here; :class:`Metered` counts it as a hit or a miss (the read under the dogpile lock,
    #: :meth:`_made_by_another`, is not counted again).
    _first_judge = _judge

    def _timed_out(self, error: LockTimeout, waited_since: float, stale: Any) -> Any:
        """After the dogpile lock's wait (from ``waited_since``, a ``perf_counter``) timed
        out: ``stale`` served while another worker recreates it, or ``error`` raised when
        there is no stale value.

        Raises:
            LockTimeout: ``error``, without a stale value.
        """
        if self._timed:
            self._calls.lock_wait(time.perf_counter() - waited_since)
        if stale is MISSING:
            raise error
        self._calls.stale()
        return stale

    def _made_by_another(self, key: str, first: Entry | None, again: Entry | None) -> Any:
        """Under the dogpile lock: the fresh value another worker wrote since the first read
        (``again``: the read under the lock), or ``MISSING`` (the caller creates). Only an
        entry written since the first read (another write time) is judged again; inline,
        as it runs on every miss."""
        if again is not None and (first is None or again[1] != first[1]):
            value, fresh = self._judge(key, again, early=False)
            if fresh:
                return value
        return MISSING

    # -- writing -------------------------------------------------------------------------------

    def _entry(
        self,
        key: str,
        value: Any,
        ttl: float | None,
        stamps: Stamps | None = None,
        delta: float = 0.0,
    ) -> Entry:
        """The record to store for ``value``: encoded by the serializer chain, stamped with the
        clock, expiring per the policy (or ``ttl`` seconds) plus the stale window, carrying
        ``stamps`` (with ``invalidation``) and, when the expiry recomputes early, ``delta``
        (the seconds its creator took).

        Raises:
            SerializationError: the serializer cannot encode ``value``; names the key.
        """
        now = self.clock()
        if ttl is None and self._lifetime is not None:
            expires_at: float | None = now + self._lifetime
        else:
            if ttl is not None:
                check_ttl(ttl)
            expires_at = self.expiry.expires_at(now, ttl)
        if expires_at is not None and self.stale_while_revalidate:
            expires_at += self.stale_while_revalidate  # keep the entry through its stale window
        payload = value
        if self._codec is not None:
            try:
                payload = self._codec.dumps(value)
            except SerializationError as exc:
                raise SerializationError(exc.reason, key=key) from exc
        if stamps is not None:
            payload = stamp_value(stamps, payload, self.store.holds_objects)  # type: ignore[attr-defined]
        # tuple.__new__: the Entry without the NamedTuple's Python-level __new__ (one call
        # less on every write; every field is given).
        delta = delta if self._early is not None else 0.0
        return tuple.__new__(Entry, (payload, now, expires_at, delta))

    def _values_of(self, stored: Mapping[str, str], found: Mapping[str, Entry]) -> dict[str, Any]:
        """What ``get_many`` returns: ``{caller's key: fresh value}`` of the ``found`` entries
        (by stored key; ``stored`` maps stored keys to the caller's), each key judged as by
        ``get``."""
        values = {}
        for key, asked in stored.items():
            value = self._fresh_value(key, found.get(key), MISSING)
            if value is not MISSING:
                values[asked] = value
        return values

    def _entries_of(
        self, values: Mapping[str, Any], ttl: float | None, stamps: Stamps | None = None
    ) -> dict[str, Entry]:
        """The records ``set_many`` writes, by stored key.

        Raises:
            SerializationError: a value cannot be encoded; names the key.
        """
        entries = {}
        for key, value in values.items():
            stored = self._store_key(key)
            entries[stored] = self._entry(stored, value, ttl, stamps)
        return entries

    def _unstamped(self, tags: Iterable[str]) -> None:
        """The stamps of a write without ``invalidation``: none.

        Raises:
            ConfigError: ``tags`` were given.
        """
        if tags:
            self._invalidation_for("tags", tags)

    def _invalidation_for(self, option: str, value: Any) -> Invalidation:
        """The namespace's :class:`~beaker.invalidation.Invalidation`.

        Raises:
            ConfigError: the cache was composed without ``invalidation=True``.
        """
        if self._invalidation is None:
            raise ConfigError(option, value, "a cache composed with invalidation=True")
        return self._invalidation

    # -- metrics -------------------------------------------------------------------------------

    def stats(self) -> Stats:
        """The counters of this cache's recorder (:class:`~beaker.metrics.Stats`; all zeros
        while metrics are off). Caches derived by :meth:`namespace`, :meth:`evolve` or
        ``memoize`` share the recorder, so their events add up here."""
        return self.metrics.stats()

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


#: The plain judgement of a read, which :class:`Metered` counts (a module name: no class
#: attribute lookup per read).
_unmetered_fresh_value = CacheCore._fresh_value


@attrs.frozen
class Metered(CacheCore[S, L]):
    """The counting variant of a front, mixed in before it (``MeteredCache(Metered[Store,
    Lock], Cache)``) and picked by :func:`build` when ``metrics`` is enabled: its reads
    record each hit and miss; nothing else differs. The plain front records none, so with
    metrics off a hit runs exactly the code it ran before metrics existed.

    A read costs one more call and one ``int`` increment on the recorder's
    :class:`~beaker.metrics.Tally` (no lock: see there for threads). Creator runs, lock
    waits and store errors are recorded by every front: they are rare next to hits, and
    their timing (``time.perf_counter``) wraps only the creator and the lock wait, never a
    hit.
    """

    counts_hits: ClassVar[bool] = True

    def _fresh_value(self, key: str, entry: Entry | None, default: Any) -> Any:
        value = _unmetered_fresh_value(self, key, entry, MISSING)
        if value is MISSING:
            self._tally.misses += 1
            return default
        self._tally.hits += 1
        return value

    def _first_judge(self, key: str, entry: Entry | None, early: bool = True) -> tuple[Any, bool]:
        value, fresh = self._judge(key, entry, early)
        if fresh:
            self._tally.hits += 1
        else:
            self._tally.misses += 1
        return value, fresh


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


class MemoOptions(TypedDict, total=False):
    """The keyword arguments of ``memoize`` on both fronts (see
    :meth:`beaker.caching.Cache.memoize`)."""

    namespace: str | None
    ttl: float | None
    ignore: Iterable[str]
    should_cache: Predicate
    tags: Iterable[str]


class Memo(NamedTuple):
    """``memoize``'s :class:`MemoOptions`, checked, with their defaults (:func:`memo_of`)."""

    namespace: str | None = None
    ttl: float | None = None
    ignore: Iterable[str] = ()
    should_cache: Predicate = None
    tags: Iterable[str] = ()  # a tuple once checked


def memo_of(options: MemoOptions) -> Memo:
    """``memoize``'s keyword ``options`` as a :class:`Memo`.

    Raises:
        ConfigError: ``ttl`` is not ``None`` or a number of seconds >= 0.
        TypeError: an unknown option.
    """
    memo = Memo(**options)
    check_ttl(memo.ttl)
    return memo._replace(tags=tuple(memo.tags))


class Options(TypedDict, total=False):
    """The keyword arguments of :func:`~beaker.caching.compose` and
    :func:`~beaker.async_caching.compose_async` (see there)."""

    lock: Any
    expiry: ExpiryPolicy | None
    ttl: float | None
    key: KeyStrategy | None
    serializer: Serializer | None
    signer: BytesCodec | None
    namespace: str
    clock: Callable[[], float]
    lock_timeout: float | None
    stale_while_revalidate: float
    on_store_error: StoreErrorMode
    invalidation: bool
    metrics: bool | Recorder
    near: NearCache | None


def build(front: type[C], metered: type[C], store: Any, options: Options) -> C:
    """The cache of ``front`` (:class:`~beaker.caching.Cache` or
    :class:`~beaker.async_caching.AsyncCache`), or of its counting variant ``metered`` when
    ``metrics`` is enabled, on ``store`` from ``compose``'s ``options``: ``ttl`` as
    ``TTL(ttl)``, ``signer`` around the serializer, ``metrics`` as a recorder,
    ``near`` as a tier in front of ``store`` (which then runs the serializer chain: it keeps
    decoded values), the others as the front's fields.

    Raises:
        ComponentTypeError: a part does not implement its protocol.
        ConfigError: conflicting or out-of-range options.
        TypeError: an unknown option.
    """
    given: dict[str, Any] = dict(options)
    recorder = recorder_of(given.pop("metrics", False))
    expiry, ttl = given.pop("expiry", None), given.pop("ttl", None)
    if expiry is not None and ttl is not None:
        raise ConfigError("ttl", ttl, "either ttl or expiry, not both")
    serializer, signer = given.pop("serializer", None), given.pop("signer", None)
    if signer is not None:
        if not isinstance(signer, BytesCodec):
            raise ComponentTypeError("signer", signer, "a BytesCodec (encode/decode)")
        serializer = Sealed(serializer or PickleSerializer(), signer)
    near = given.pop("near", None)
    if near is not None:
        if not isinstance(near, NearCache):
            raise ComponentTypeError("near", near, "a NearCache (beaker.stores)")
        store = near.over(store, recorder, serializer)
        serializer = None
    key, lock = given.pop("key", None), given.pop("lock", None)
    if isinstance(recorder, Recorder) and recorder.enabled:  # otherwise the field refuses it
        front = metered
    return front(
        store=store,
        lock=front.kinds.lock() if lock is None else lock,
        expiry=TTL(ttl) if ttl is not None else NoExpiry() if expiry is None else expiry,
        key=PlainKey() if key is None else key,
        serializer=serializer,
        name=given.pop("namespace", "default"),
        metrics=recorder,
        **given,
    )
