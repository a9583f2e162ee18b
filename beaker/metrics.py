"""Cache metrics: the :class:`Recorder` protocol, :class:`NullRecorder` (metrics off: nothing
is recorded, and the cache's hot path does not even call it), :class:`Counters` (what
``cache.stats()`` reports) and the :class:`Stats` snapshot.

A cache asks its recorder once, when it is built, for one callable per event and namespace
(:meth:`Recorder.event`, :meth:`Recorder.timed`) and calls those: a recorder does no lookup per
call. Events:

* ``hit``, ``miss``: whether :meth:`~beaker.caching.Cache.get`, the first read of
  ``get_or_create`` or a memoized call found a fresh value; a ``get_many`` counts each key.
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
from typing import Any, Final, Literal, NamedTuple, Protocol, runtime_checkable

import attrs

Event = Literal["hit", "miss", "stale", "store_error", "near_hit", "near_invalidation"]
TimedEvent = Literal["create", "lock_wait"]

EVENTS: Final[tuple[Event, ...]] = (
    "hit",
    "miss",
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


@runtime_checkable
class Recorder(Protocol):
    """Where a cache's events go (see the module's docstring for the events)."""

    @property
    def enabled(self) -> bool:
        """``False`` for :class:`NullRecorder`: the cache then skips even its counting
        callables on a hit."""

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

    Thread-safe: counts are ``itertools.count`` objects (one C call per event), times are
    summed under a lock. A snapshot (:meth:`stats`) may be a few events behind a concurrent
    writer, never wrong after the writers stopped.
    """

    enabled: bool = attrs.field(default=True, init=False)
    _counts: dict[str, itertools.count[int]] = attrs.field(
        init=False,
        factory=lambda: {name: itertools.count() for name in EVENTS},
        eq=False,
        repr=False,
    )
    _timers: dict[str, _Timer] = attrs.field(
        init=False, factory=lambda: {name: _Timer() for name in TIMED_EVENTS}, eq=False, repr=False
    )

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
            hits=count["hit"],
            misses=count["miss"],
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

    hit: Callable[[], object]
    miss: Callable[[], object]
    stale: Callable[[], object]
    store_error: Callable[[], object]
    create: Callable[[float], object]
    lock_wait: Callable[[float], object]


def calls_of(recorder: Recorder, namespace: str, store: str) -> Calls:
    """The event callables of ``recorder`` for ``namespace`` on a store of kind ``store``."""
    event, timed = recorder.event, recorder.timed
    return Calls(
        event("hit", namespace, store),
        event("miss", namespace, store),
        event("stale", namespace, store),
        event("store_error", namespace, store),
        timed("create", namespace, store),
        timed("lock_wait", namespace, store),
    )


def counted(
    accept: Callable[[str, Any, Any], Any], calls: Calls, missing: object
) -> Callable[[str, Any, Any], Any]:
    """``accept(key, entry, default)`` (a cache's judgement of a stored entry) that also
    records a hit or a miss; ``missing`` is the value ``accept`` returns for a miss."""
    hit, miss = calls.hit, calls.miss

    def accept_counted(key: str, entry: Any, default: Any) -> Any:
        value = accept(key, entry, missing)
        if value is missing:
            miss()
            return default
        hit()
        return value

    return accept_counted


def counted_judge(
    judge: Callable[[str, Any], tuple[Any, bool]], calls: Calls
) -> Callable[[str, Any], tuple[Any, bool]]:
    """``judge(key, entry) -> (value, fresh)`` (a cache's judgement of a first read by
    ``get_or_create`` or a memoized call) that also records a hit (fresh) or a miss."""
    hit, miss = calls.hit, calls.miss

    def judge_counted(key: str, entry: Any) -> tuple[Any, bool]:
        value, fresh = judge(key, entry)
        (hit if fresh else miss)()
        return value, fresh

    return judge_counted


def recorder_of(metrics: bool | Recorder) -> Recorder:
    """``compose``'s ``metrics`` argument as a recorder: ``False`` :class:`NullRecorder`,
    ``True`` fresh :class:`Counters`, a :class:`Recorder` itself."""
    if metrics is True:
        return Counters()
    if metrics is False:
        return NullRecorder()
    return metrics
