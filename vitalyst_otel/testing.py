"""A pytest plugin (registered with ``pytest11``) that captures spans, metrics and logs in memory,
for the tests of services that use vitalyst_otel::

    def test_create_node(otel_capture, client):
        client.post("/nodes", json={...})
        span = otel_capture.span("POST /nodes")
        assert span.attributes["http.response.status_code"] == 201
        assert otel_capture.metric_total("http.server.request.duration", **{"http.route": "/nodes"}) == 1
        assert otel_capture.logs(message="node created")

The first use configures vitalyst_otel for the test process with nothing leaving it (exporters
``none``) and in-memory sinks attached synchronously; each test starts with empty sinks. Metrics
are reported as the change since the test started (counters and histograms), or the current value
(gauges and up-down counters). Everything passes through the same redaction as real exports.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics import Counter, Histogram, ObservableCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_DELTA = AggregationTemporality.DELTA


class Capture:
    def __init__(self) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.log_exporter = InMemoryLogRecordExporter()
        self.metric_reader = InMemoryMetricReader(
            preferred_temporality={Counter: _DELTA, Histogram: _DELTA, ObservableCounter: _DELTA})
        self._lock = threading.Lock()
        self._points: dict[tuple[str, frozenset], Any] = {}

    # --- spans
    @property
    def spans(self) -> list:
        return list(self.span_exporter.get_finished_spans())

    def span(self, name: str):
        """The one finished span called ``name`` (fails if there is none or several)."""
        found = [s for s in self.spans if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, found {len(found)}: {[s.name for s in self.spans]}"
        return found[0]

    # --- logs
    def logs(self, message: str | None = None, **attributes: Any) -> list:
        """Finished log records (SDK ReadableLogRecord), optionally filtered by body and attributes."""
        records = []
        for item in self.log_exporter.get_finished_logs():
            record = getattr(item, "log_record", item)
            if message is not None and record.body != message:
                continue
            attrs = record.attributes or {}
            if all(attrs.get(k) == v for k, v in attributes.items()):
                records.append(record)
        return records

    # --- metrics
    def _collect(self) -> None:
        data = self.metric_reader.get_metrics_data()
        if data is None:
            return
        with self._lock:
            for resource_metrics in data.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        delta = getattr(metric.data, "aggregation_temporality", None) == _DELTA
                        for point in metric.data.data_points:
                            key = (metric.name, frozenset((point.attributes or {}).items()))
                            self._points[key] = _merge(self._points.get(key), point) if delta else _value(point)

    def metrics(self) -> dict[str, list[tuple[dict, Any]]]:
        """Every metric seen since the test started: name -> [(attributes, value)], where value is
        a number, or for histograms a dict with count, sum and bucket_counts."""
        self._collect()
        out: dict[str, list] = {}
        with self._lock:
            for (name, attrs), value in self._points.items():
                out.setdefault(name, []).append((dict(attrs), value))
        return out

    def metric_points(self, name: str, **attributes: Any) -> list[tuple[dict, Any]]:
        wanted = {k.replace("__", "."): v for k, v in attributes.items()}
        return [(attrs, value) for attrs, value in self.metrics().get(name, [])
                if all(attrs.get(k) == v for k, v in wanted.items())]

    def metric_total(self, name: str, **attributes: Any) -> float:
        """Sum over matching points: the value of sums and gauges, the count of histograms."""
        total = 0.0
        for _attrs, value in self.metric_points(name, **attributes):
            total += value["count"] if isinstance(value, dict) else value
        return total

    def clear(self) -> None:
        self.span_exporter.clear()
        self.log_exporter.clear()
        self.metric_reader.get_metrics_data()  # drop what was recorded before
        with self._lock:
            self._points.clear()


def _value(point) -> Any:
    if hasattr(point, "bucket_counts"):
        return {"count": point.count, "sum": point.sum, "bucket_counts": list(point.bucket_counts),
                "explicit_bounds": list(getattr(point, "explicit_bounds", []))}
    return point.value


def _merge(previous: Any, point) -> Any:
    current = _value(point)
    if previous is None:
        return current
    if isinstance(current, dict):
        return {"count": previous["count"] + current["count"], "sum": previous["sum"] + current["sum"],
                "bucket_counts": [a + b for a, b in zip(previous["bucket_counts"], current["bucket_counts"])],
                "explicit_bounds": current["explicit_bounds"]}
    return previous + current


def capture_telemetry(**overrides: Any) -> Capture:
    """Configure vitalyst_otel for this process with in-memory sinks (once) and return them."""
    from vitalyst_otel.setup.configure import configure
    from vitalyst_otel.setup.lifecycle import lifecycle

    with lifecycle.lock:
        if lifecycle.capture is not None:
            return lifecycle.capture
        if lifecycle.handle is not None:
            raise RuntimeError(
                "vitalyst_otel was configured before the otel_capture fixture was first used; "
                "call vitalyst_otel.testing.capture_telemetry() first (e.g. in conftest.py).")
        lifecycle.capture = Capture()
        configure(**{"traces_exporter": "none", "metrics_exporter": "none", "logs_exporter": "none",
                     "traces_sampler": "always_on", **overrides})
        return lifecycle.capture


@pytest.fixture
def otel_capture() -> Iterator[Capture]:
    """Spans, metrics and log records produced during the test, in memory."""
    capture = capture_telemetry()
    capture.clear()
    yield capture
