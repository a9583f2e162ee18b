"""Cache metrics and spans for OpenTelemetry (the ``otel`` extra): :class:`OtelRecorder`, a
:class:`~beaker.metrics.Recorder` for ``compose(..., metrics=OtelRecorder())``.

Instruments (attributes: ``cache.namespace``, ``cache.store`` (the store's class name) and
``cache.outcome`` (the event's name): a handful of values each):

* ``beaker.cache.reads``, an asynchronous (observable) counter of reads, ``cache.outcome``
  ``hit`` or ``miss``: the cache counts them in a :class:`~beaker.metrics.Tally` per namespace
  (plain ``int`` increments, no call on the hit path) that the meter reads when it collects;
* ``beaker.cache.events``, a counter of the other events (stale values served, creator runs,
  lock waits, store errors, near-tier hits and invalidations);
* ``beaker.cache.duration``, a histogram in seconds of creator runs and lock waits;
* a span ``beaker.cache.create`` per creator run, from its start to its end.

The recorder also keeps in-process :class:`~beaker.metrics.Counters` (and sums its tallies),
so ``cache.stats()`` works as with ``metrics=True``. Imports ``opentelemetry`` (api only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
from opentelemetry import metrics, trace

from beaker.metrics import Counters, Event, Stats, Tally, TimedEvent


def _attributes(name: str, namespace: str, store: str) -> dict[str, str]:
    return {"cache.namespace": namespace, "cache.store": store, "cache.outcome": name}


@attrs.frozen
class OtelRecorder:
    """Records a cache's events as OpenTelemetry metrics and spans (see the module's
    docstring).

    Args:
        meter: an ``opentelemetry.metrics.Meter``; default the global provider's
            ``"beaker"`` meter.
        tracer: an ``opentelemetry.trace.Tracer``; default the global provider's ``"beaker"``
            tracer.
    """

    meter: Any = attrs.field(factory=lambda: metrics.get_meter("beaker"))
    tracer: Any = attrs.field(factory=lambda: trace.get_tracer("beaker"))
    enabled: bool = attrs.field(default=True, init=False)
    counters: Counters = attrs.field(factory=Counters, init=False, eq=False, repr=False)
    _events: Any = attrs.field(init=False, eq=False, repr=False)
    _durations: Any = attrs.field(init=False, eq=False, repr=False)
    #: (namespace, store kind) -> the reads of its caches, read by the ``reads`` instrument.
    _tallies: dict[tuple[str, str], Tally] = attrs.field(
        init=False, factory=dict, eq=False, repr=False
    )
    _mutex: threading.Lock = attrs.field(init=False, factory=threading.Lock, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self.meter.create_observable_counter(
            "beaker.cache.reads",
            callbacks=[self._observe_reads],
            unit="{read}",
            description="cache reads by outcome (hit, miss)",
        )
        events = self.meter.create_counter(
            "beaker.cache.events", unit="{event}", description="cache events by outcome"
        )
        durations = self.meter.create_histogram(
            "beaker.cache.duration", unit="s", description="creator runs and lock waits"
        )
        object.__setattr__(self, "_events", events)
        object.__setattr__(self, "_durations", durations)

    def tally(self, namespace: str, store: str) -> Tally:
        with self._mutex:
            return self._tallies.setdefault((namespace, store), Tally())

    def _observe_reads(self, options: Any) -> Iterator[metrics.Observation]:
        """The ``reads`` instrument's callback: each tally's hits and misses so far."""
        with self._mutex:
            tallies = list(self._tallies.items())
        for (namespace, store), tally in tallies:
            yield metrics.Observation(tally.hits, _attributes("hit", namespace, store))
            yield metrics.Observation(tally.misses, _attributes("miss", namespace, store))

    def event(self, name: Event, namespace: str, store: str) -> Callable[[], object]:
        attributes = _attributes(name, namespace, store)
        count, add = self.counters.event(name, namespace, store), self._events.add

        def record() -> None:
            count()
            add(1, attributes)

        return record

    def timed(self, name: TimedEvent, namespace: str, store: str) -> Callable[[float], object]:
        attributes = _attributes(name, namespace, store)
        total, add, histogram = (
            self.counters.timed(name, namespace, store),
            self._events.add,
            self._durations.record,
        )
        tracer = self.tracer if name == "create" else None

        def record(seconds: float) -> None:
            total(seconds)
            add(1, attributes)
            histogram(seconds, attributes)
            if tracer is not None:
                end = time.time_ns()
                span = tracer.start_span(
                    "beaker.cache.create",
                    start_time=end - int(seconds * 1e9),
                    attributes=attributes,
                )
                span.end(end_time=end)

        return record

    def stats(self) -> Stats:
        with self._mutex:
            tallies = list(self._tallies.values())
        return attrs.evolve(
            self.counters.stats(),
            hits=sum(tally.hits for tally in tallies),
            misses=sum(tally.misses for tally in tallies),
        )
