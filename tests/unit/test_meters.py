import asyncio
import logging

import pytest
from opentelemetry.trace import StatusCode

from vitalyst_otel import meters
from vitalyst_otel.cardinality import OTHER, DeclaredValues, FirstSeen


def test_node_counts_by_declared_type_and_other_for_the_rest(otel_capture, caplog):
    counts = {"concept": 3, "entity": 5, "galaxy": 2, "nebula": 1}
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel"):
        meters.observe_node_counts(lambda: counts)
        points = dict((a["vitalyst.graph.node.type"], v) for a, v in otel_capture.metric_points("vitalyst.graph.node.count"))
    assert points["concept"] == 3 and points["entity"] == 5 and points[OTHER] == 3
    assert "galaxy" not in points and "nebula" not in points
    assert any("'galaxy' is not a declared value" in r.getMessage() for r in caplog.records)


def test_enrichment_context_manager_success_and_failure(otel_capture):
    with meters.track_enrichment(model="m1", node_type="concept"):
        pass
    with pytest.raises(TimeoutError):
        with meters.track_enrichment(model="m1"):
            raise TimeoutError("model slow")
    with meters.track_enrichment() as enrichment:
        enrichment.fail("empty_answer")
    success = otel_capture.metric_points("vitalyst.ai.enrichment.duration", outcome="success")
    failures = otel_capture.metric_points("vitalyst.ai.enrichment.duration", outcome="failure")
    assert [v["count"] for _, v in success] == [1]
    assert sorted(a["error.type"] for a, _ in failures) == ["TimeoutError", "empty_answer"]
    spans = [s for s in otel_capture.spans if s.name == "vitalyst.ai.enrichment"]
    assert len(spans) == 3
    assert spans[0].attributes["vitalyst.ai.model"] == "m1" and spans[0].status.status_code is StatusCode.UNSET
    assert spans[1].status.status_code is StatusCode.ERROR and spans[1].events[0].name == "exception"


def test_enrichment_buckets_fit_seconds_long_model_calls(otel_capture):
    with meters.track_enrichment():
        pass
    ((_, value),) = otel_capture.metric_points("vitalyst.ai.enrichment.duration")
    bounds = value["explicit_bounds"]
    assert bounds == list(meters.ENRICHMENT_BUCKETS)
    assert bounds[0] <= 0.1 and bounds[-1] >= 60  # seconds, not the SDK's millisecond defaults


def test_enrichment_decorator_sync_and_async(otel_capture):
    @meters.track_enrichment(model="sync")
    def sync_call(x):
        return x * 2

    @meters.track_enrichment(model="async")
    async def async_call(x):
        await asyncio.sleep(0.01)
        if x < 0:
            raise ValueError("negative")
        return x

    assert sync_call(2) == 4
    assert asyncio.run(async_call(3)) == 3
    with pytest.raises(ValueError):
        asyncio.run(async_call(-1))
    assert otel_capture.metric_total("vitalyst.ai.enrichment.duration") == 3
    assert otel_capture.metric_total("vitalyst.ai.enrichment.duration", outcome="failure") == 1
    durations = [v["sum"] for a, v in otel_capture.metric_points("vitalyst.ai.enrichment.duration", outcome="success")]
    assert sum(durations) >= 0.01


def test_validation_queue_counters_and_length(otel_capture):
    queue = [1, 2, 3]
    meters.observe_validation_queue(lambda: len(queue))
    meters.validation_enqueued(3)
    meters.validation_processed("valid")
    meters.validation_processed("invalid", 2)
    meters.validation_processed("exploded")
    assert otel_capture.metric_total("vitalyst.validation.enqueued.items") == 3
    processed = {a["outcome"]: v for a, v in otel_capture.metric_points("vitalyst.validation.processed.items")}
    assert processed == {"valid": 1, "invalid": 2, OTHER: 1}
    assert otel_capture.metric_total("vitalyst.validation.queue.length") == 3


def test_declared_values_warn_once_per_value_and_stay_bounded(caplog):
    values = DeclaredValues("colour", ("red",))
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel"):
        results = [values(f"c{i % 30}") for i in range(300)]
    assert set(results) == {OTHER} and values.undeclared == 300
    assert len(caplog.records) == 10  # the first ten distinct values, then only counted
    assert "further undeclared values are only counted" in caplog.records[-1].getMessage()


def test_first_seen_keeps_a_bounded_set():
    bounded = FirstSeen("error.type", limit=3)
    assert [bounded(v) for v in ["a", "b", "c", "d", "a", "e"]] == ["a", "b", "c", OTHER, "a", OTHER]


def test_series_per_instrument_are_capped_by_the_view():
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from vitalyst_otel.export.factory import ExporterFactory
    from vitalyst_otel.metrics import build_meter_provider
    from vitalyst_otel.config import Settings

    settings = Settings.load({"metrics_exporter": "none"}, environ={"VITALYST_METRIC_CARDINALITY_LIMIT": "50"})
    reader = InMemoryMetricReader()
    provider, _ = build_meter_provider(settings, None, ExporterFactory(settings), extra_reader=reader)
    assert isinstance(provider, MeterProvider)
    counter = provider.get_meter("t").create_counter("unbounded")
    for i in range(500):
        counter.add(1, {"user.id": str(i)})
    points = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert len(points) <= 51 and sum(p.value for p in points) == 500  # 50 series + one overflow series
    assert any(p.attributes.get("otel.metric.overflow") for p in points)
    provider.shutdown()
