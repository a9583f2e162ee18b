"""OtelRecorder: cache events reach an OpenTelemetry meter (an in-memory reader of the real
SDK) and creator runs become spans, with low-cardinality attributes."""

from __future__ import annotations

import time

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from beaker import compose
from beaker.otel import OtelRecorder
from beaker.stores import MemoryStore


def test_events_and_spans() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    cache = compose(
        MemoryStore(),
        namespace="pages",
        metrics=OtelRecorder(meter=meter, tracer=provider.get_tracer("test")),
    )
    cache.get_or_create("k", lambda: time.sleep(0.01) or 1)
    cache.get("k")
    cache.get("absent")
    points = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    attributes = dict(point.attributes)
                    assert set(attributes) == {"cache.namespace", "cache.store", "cache.outcome"}
                    assert attributes["cache.namespace"] == "pages"
                    assert attributes["cache.store"] == "MemoryStore"
                    points[(metric.name, attributes["cache.outcome"])] = point
    assert points[("beaker.cache.reads", "hit")].value == 1
    assert points[("beaker.cache.reads", "miss")].value == 2
    assert points[("beaker.cache.events", "create")].value == 1
    assert points[("beaker.cache.duration", "create")].sum >= 0.01
    (span,) = spans.get_finished_spans()
    assert span.name == "beaker.cache.create"
    assert (span.end_time - span.start_time) / 1e9 >= 0.01
    assert cache.stats().hits == 1 and cache.stats().creator_runs == 1
