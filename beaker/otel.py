"""Cache metrics and spans for OpenTelemetry (the ``otel`` extra): :class:`OtelRecorder`, a
:class:`~beaker.metrics.Recorder` for ``compose(..., metrics=OtelRecorder())``.

Instruments (attributes: ``cache.namespace``, ``cache.store`` (the store's class name) and
``cache.outcome`` (the event's name): a handful of values each):

* ``beaker.cache.events``, a counter of every event (hits, misses, stale values served,
  creator runs, lock waits, store errors, near-tier hits and invalidations);
* ``beaker.cache.duration``, a histogram in seconds of creator runs and lock waits;
* a span ``beaker.cache.create`` per creator run, from its start to its end.

The recorder also keeps in-process :class:`~beaker.metrics.Counters`, so ``cache.stats()``
works as with ``metrics=True``. Imports ``opentelemetry`` (api only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
from opentelemetry import metrics, trace

from beaker.metrics import Counters, Event, Stats, TimedEvent


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

    def __attrs_post_init__(self) -> None:
        events = self.meter.create_counter(
            "beaker.cache.events", unit="{event}", description="cache events by outcome"
        )
        durations = self.meter.create_histogram(
            "beaker.cache.duration", unit="s", description="creator runs and lock waits"
        )
        object.__setattr__(self, "_events", events)
        object.__setattr__(self, "_durations", durations)

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
        return self.counters.stats()
