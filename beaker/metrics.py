"""Cache metrics: the :class:`Recorder` protocol, :class:`NullRecorder` (metrics off: nothing
is recorded, and ``compose`` builds the front that counts no hits, so a hit pays nothing),
:class:`Counters` (what ``cache.stats()`` reports) and the :class:`Stats` snapshot.

A cache asks its recorder once, when it is built, for the :class:`Tally` of its namespace
(:meth:`Recorder.tally`) and for one callable per event (:meth:`Recorder.event`,
:meth:`Recorder.timed`): a recorder does no lookup per call.

* Reads (the hot path) are counted in the :class:`Tally`, two plain ``int`` fields the cache
  increments itself: ``hits`` and ``misses``, whether :meth:`~beaker.caching.Cache.get`, the
  first read of ``get_or_create`` or a memoized call found a fresh value (a ``get_many``
  counts each key).

The other events, rare next to reads, go to the callables:

* ``stale``: an expired (or softly invalidated) value served by ``get_or_create`` while another
  worker recreates it.
* ``create`` (timed): a creator run by ``get_or_create``, with its seconds.
* ``lock_wait`` (timed): a wait for the dogpile lock, with its seconds.
* ``store_error``: the store's server was unavailable.
* ``near_hit``, ``near_invalidation``: the near tier (:class:`~beaker.stores.NearCache`)
  answered a read / dropped entries on an invalidation message.

This module imports only the standard library and ``attrs``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Final, Literal, NamedTuple, Protocol, runtime_checkable

import attrs

Event = Literal["stale", "store_error", "near_hit", "near_invalidation"]
TimedEvent = Literal["create", "lock_wait"]

EVENTS: Final[tuple[Event, ...]] = (
    "stale",
    "store_error",
    "near_hit",
    "near_invalidation",
)
TIMED_EVENTS: Final[tuple[TimedEvent, ...]] = ("create", "lock_wait")


@attrs.frozen
class Stats:
    """A snapshot of a cache's counters (all zero while metrics are off).

    Attributes:
        hits, misses: reads by ``get`` that found a fresh value / did not.
        stale_served: stale values served by ``get_or_create`` during a recreation.
        creator_runs, creator_seconds: creators run by ``get_or_create`` and their total
            wall-clock seconds.
        lock_waits, lock_wait_seconds: dogpile lock acquisitions and the seconds spent in them.
        store_errors: operations that found the store's server unavailable.
        near_hits, near_invalidations: reads answered by the near tier; entries it dropped on
            an invalidation message (a flush counts its entries).
    """

    hits: int = 0
    misses: int = 0
    stale_served: int = 0
    creator_runs: int = 0
    creator_seconds: float = 0.0
    lock_waits: int = 0
    lock_wait_seconds: float = 0.0
    store_errors: int = 0
    near_hits: int = 0
    near_invalidations: int = 0


@attrs.define
class Tally:
    """The reads of a cache counted as they happen: plain ``int`` fields that a metered cache
    increments (``tally.hits += 1``), with no lock and no call, on every read.

    Under the GIL the interpreter does not switch threads between reading and writing such a
    field, so increments from many threads add up exactly on CPython. On a free-threaded
    build (no GIL) two threads may read the same count and one increment is lost: the counts
    are then statistics that can come out a little low under contention, never a crash or a
    corrupt value (an ``int`` field is swapped whole).

    Attributes:
        hits, misses: reads that found a fresh value / did not.
    """

    hits: int = 0
    misses: int = 0


@runtime_checkable
class Recorder(Protocol):
    """Where a cache's events go (see the module's docstring for the events)."""

    @property
    def enabled(self) -> bool:
        """``False`` for :class:`NullRecorder`: ``compose`` then builds the plain front,
        whose reads call no recorder (``True``: the
        :class:`~beaker.cache_core.Metered` one)."""

    def tally(self, namespace: str, store: str) -> Tally:
        """The :class:`Tally` that the caches of ``namespace`` on a store of kind ``store``
        (its class name) increment on every read; asked once per cache, when it is built."""

    def event(self, name: Event, namespace: str, store: str) -> Callable[[], object]:
        """The callable that records one ``name`` event of ``namespace`` on a store of kind
        ``store`` (its class name); called with no argument, from any thread."""

    def timed(self, name: TimedEvent, namespace: str, store: str) -> Callable[[float], object]:
        """As :meth:`event`, for an event lasting ``seconds`` (the callable's argument)."""

    def stats(self) -> Stats:
        """The counters so far (:class:`Stats`)."""


def _nothing(*args: object) -> None:
    return None


@attrs.frozen
class NullRecorder:
    """Metrics off (the default): every event is dropped and :meth:`stats` is all zeros."""

    enabled: bool = attrs.field(default=False, init=False)

    def tally(self, namespace: str, store: str) -> Tally:
        return Tally()  # never read: a plain cache does not count its reads

    def event(self, name: Event, namespace: str, store: str) -> Callable[[], object]:
        return _nothing

    def timed(self, name: TimedEvent, namespace: str, store: str) -> Callable[[float], object]:
        return _nothing

    def stats(self) -> Stats:
        return Stats()


def _count_of(counter: itertools.count[int]) -> int:
    """How many times ``next`` was called on ``counter`` (started at 0)."""
    return int(repr(counter)[len("count(") : -1])


@attrs.frozen
class _Timer:
    """Count and total seconds of one timed event, under a lock."""

    totals: list[float] = attrs.field(factory=lambda: [0, 0.0])
    mutex: threading.Lock = attrs.field(factory=threading.Lock)

    def __call__(self, seconds: float) -> None:
        with self.mutex:
            self.totals[0] += 1
            self.totals[1] += seconds


@attrs.frozen
class Counters:
    """In-process counters: what ``cache.stats()`` returns, for every namespace of a cache
    together (``compose(..., metrics=True)``; caches derived with ``namespace()`` or
    ``memoize`` share them).

    Reads go to one shared :class:`Tally` (plain ``int`` increments; see there for threads);
    the other events are ``itertools.count`` objects (one C call each); times (creator runs,
    lock waits) are summed under a lock. A snapshot (:meth:`stats`) may be a few events
    behind a concurrent writer, never wrong after the writers stopped.
    """

    enabled: bool = attrs.field(default=True, init=False)
    _reads: Tally = attrs.field(init=False, factory=Tally, eq=False, repr=False)
    _counts: dict[str, itertools.count[int]] = attrs.field(
        init=False,
        factory=lambda: {name: itertools.count() for name in EVENTS},
        eq=False,
        repr=False,
    )
    _timers: dict[str, _Timer] = attrs.field(
        init=False, factory=lambda: {name: _Timer() for name in TIMED_EVENTS}, eq=False, repr=False
    )

    def tally(self, namespace: str, store: str) -> Tally:
        return self._reads

    def event(self, name: Event, namespace: str, store: str) -> Callable[[], object]:
        return self._counts[name].__next__

    def timed(self, name: TimedEvent, namespace: str, store: str) -> Callable[[float], object]:
        return self._timers[name]

    def stats(self) -> Stats:
        count = {name: _count_of(counter) for name, counter in self._counts.items()}
        create, wait = self._timers["create"], self._timers["lock_wait"]
        with create.mutex:
            runs, run_seconds = create.totals
        with wait.mutex:
            waits, wait_seconds = wait.totals
        return Stats(
            hits=self._reads.hits,
            misses=self._reads.misses,
            stale_served=count["stale"],
            creator_runs=int(runs),
            creator_seconds=run_seconds,
            lock_waits=int(waits),
            lock_wait_seconds=wait_seconds,
            store_errors=count["store_error"],
            near_hits=count["near_hit"],
            near_invalidations=count["near_invalidation"],
        )


class Calls(NamedTuple):
    """A cache's event callables for one namespace, asked of its recorder once (see
    :func:`calls_of`)."""

    stale: Callable[[], object]
    store_error: Callable[[], object]
    create: Callable[[float], object]
    lock_wait: Callable[[float], object]


def calls_of(recorder: Recorder, namespace: str, store: str) -> Calls:
    """The event callables of ``recorder`` for ``namespace`` on a store of kind ``store``."""
    event, timed = recorder.event, recorder.timed
    return Calls(
        event("stale", namespace, store),
        event("store_error", namespace, store),
        timed("create", namespace, store),
        timed("lock_wait", namespace, store),
    )


def recorder_of(metrics: bool | Recorder) -> Recorder:
    """``compose``'s ``metrics`` argument as a recorder: ``False`` :class:`NullRecorder`,
    ``True`` fresh :class:`Counters`, a :class:`Recorder` itself."""
    if metrics is True:
        return Counters()
    if metrics is False:
        return NullRecorder()
    return metrics
