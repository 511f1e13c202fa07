"""The bound histogram records exactly what the SDK's own ``Histogram.record`` records: the same
points, counts, sums, buckets, min/max and exemplars, through views, delta and cumulative
temporality and the cardinality limit; and it falls back to the public API wherever the fast path
cannot be used."""

import pytest
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.trace import TracerProvider

from vitalyst_otel.http.bound_histogram import BoundRecorder, fast_path_available

SETS = [{"http.request.method": "GET", "url.scheme": "http", "http.response.status_code": 200, "http.route": "/a"},
        {"http.request.method": "POST", "url.scheme": "https", "http.response.status_code": 500,
         "error.type": "500"},
        {"http.request.method": "GET", "url.scheme": "http"}]
VALUES = [0.001, 0.02, 0.3, 0.0, 7.5, 12.0, 0.004]


def _provider(temporality=None, views=()):
    kwargs = {}
    if temporality is not None:
        kwargs["preferred_temporality"] = {Histogram: temporality}
    reader = InMemoryMetricReader(**kwargs)
    return MeterProvider(metric_readers=[reader], views=list(views)), reader


def _histogram(provider):
    return provider.get_meter("test").create_histogram("d", unit="s",
                                                       explicit_bucket_boundaries_advisory=[0.01, 0.1, 1.0])


def _points(reader):
    data = reader.get_metrics_data()
    found = []
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    found.append((metric.name, tuple(sorted(p.attributes.items())), p.count, p.sum,
                                  tuple(p.bucket_counts), tuple(p.explicit_bounds), p.min, p.max,
                                  sorted((e.value, e.span_id, tuple(sorted(e.filtered_attributes.items())))
                                         for e in p.exemplars)))
    return sorted(found, key=repr)


def _record_both(make, collections=2):
    """Records the same measurements through the SDK and through bound sets (in a sampled span, so
    exemplars are taken), collecting ``collections`` times; returns both collections' points."""
    tracer = TracerProvider().get_tracer("t")
    results = []
    for bound in (False, True):
        provider, reader = make()
        histogram = _histogram(provider)
        sets = [BoundRecorder(histogram).bind(s) for s in SETS]
        assert all(b.recorder.fast for b in sets)
        collected = []
        with tracer.start_as_current_span("parent") as span:
            span_id = span.get_span_context().span_id
            for _ in range(collections):
                for i, value in enumerate(VALUES):
                    if bound:
                        sets[i % len(SETS)].record(value)
                    else:
                        histogram.record(value, SETS[i % len(SETS)])
                collected.append([(p[:-1], [(e[0], e[1] == span_id, e[2]) for e in p[-1]]) for p in _points(reader)])
        provider.shutdown()
        results.append(collected)
    return results


@pytest.mark.parametrize("temporality", [None, AggregationTemporality.DELTA])
def test_same_points_as_the_sdk_cumulative_and_delta(temporality):
    sdk, bound = _record_both(lambda: _provider(temporality))
    assert sdk == bound
    assert len(bound[0]) == len(SETS) and sum(p[0][2] for p in bound[0]) == len(VALUES)


def test_same_points_through_views_that_drop_keys_and_change_buckets():
    views = [View(instrument_name="d", attribute_keys={"http.request.method"},
                  aggregation=ExplicitBucketHistogramAggregation([0.5, 5.0])),
             View(instrument_name="d", name="d.copy")]
    sdk, bound = _record_both(lambda: _provider(views=views))
    assert sdk == bound
    names = {p[0][0] for p in bound[0]}
    assert names == {"d", "d.copy"}
    assert {p[0][1] for p in bound[0] if p[0][0] == "d"} == {(("http.request.method", "GET"),),
                                                             (("http.request.method", "POST"),)}


def test_same_points_past_the_cardinality_limit():
    views = [View(instrument_name="d", aggregation_cardinality_limit=2)]
    sdk, bound = _record_both(lambda: _provider(views=views))
    assert sdk == bound
    assert any(("otel.metric.overflow", True) in p[0][1] for p in bound[0])


def test_attributes_are_cleaned_once_like_the_sdk_cleans_them():
    provider, reader = _provider()
    recorder = BoundRecorder(_histogram(provider))
    bound = recorder.bind({"tags": ["a", "b"], "n": 3})
    bound.record(0.5)
    ((_, attributes, count, *_),) = [p for p in _points(reader)]
    assert dict(attributes) == {"tags": ("a", "b"), "n": 3} and count == 1


def test_invalid_amounts_take_the_sdk_path_and_are_dropped(caplog):
    provider, reader = _provider()
    bound = BoundRecorder(_histogram(provider)).bind(SETS[0])
    bound.record(-1.0)
    bound.record(float("nan"))
    bound.record(0.2)
    ((*_, count, total, _b, _e, _mn, _mx, _x),) = _points(reader)
    assert (count, total) == (1, 0.2)


def test_no_sdk_histogram_means_the_public_api():
    histogram = NoOpMeterProvider().get_meter("x").create_histogram("d")
    assert not fast_path_available(histogram)
    bound = BoundRecorder(histogram).bind(SETS[0])
    bound.record(0.1)  # no error, nothing recorded


def test_changed_sdk_internals_switch_to_the_public_api_for_good(caplog):
    provider, reader = _provider()
    recorder = BoundRecorder(_histogram(provider))
    bound = recorder.bind(SETS[0])

    def changed(*args):
        raise TypeError("Measurement() takes other arguments")  # as if the SDK had changed it

    recorder._measurement = changed
    bound.record(0.1)
    assert not recorder.fast
    assert "public API" in caplog.text
    bound.record(0.2)
    ((*_, count, total, _b, _e, _mn, _mx, _x),) = _points(reader)
    assert count == 2 and total == pytest.approx(0.3)  # the failed call's value is not lost


def test_disabled_meter_records_nothing():
    provider, reader = _provider()
    histogram = _histogram(provider)
    bound = BoundRecorder(histogram).bind(SETS[0])
    histogram._is_enabled = lambda: False  # the meter configurator switched this meter off
    bound.record(0.1)
    assert _points(reader) == []


def test_exemplars_carry_the_current_span():
    provider, reader = _provider()
    bound = BoundRecorder(_histogram(provider)).bind(SETS[0])
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s") as span:
        bound.record(0.05)
    ((*_, exemplars),) = _points(reader)
    assert [e[1] for e in exemplars] == [span.get_span_context().span_id]
    assert trace.get_current_span() is trace.INVALID_SPAN
