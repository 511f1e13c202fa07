"""The bound histogram records exactly what the SDK's own ``Histogram.record`` records: the same
points, counts, sums, buckets, min/max and exemplars, through views, delta and cumulative
temporality and the cardinality limit; and it falls back to the public API wherever the fast path
cannot be used."""

import contextlib

import pytest
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, AlwaysOnExemplarFilter, TraceBasedExemplarFilter
from opentelemetry.sdk.metrics._internal.exemplar import SimpleFixedSizeExemplarReservoir
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from vitalyst_otel.http.bound_histogram import BoundRecorder, fast_path_available

SETS = [{"http.request.method": "GET", "url.scheme": "http", "http.response.status_code": 200, "http.route": "/a"},
        {"http.request.method": "POST", "url.scheme": "https", "http.response.status_code": 500,
         "error.type": "500"},
        {"http.request.method": "GET", "url.scheme": "http"}]
VALUES = [0.001, 0.02, 0.3, 0.0, 7.5, 12.0, 0.004, 0.1, 1.0]  # 0.1 and 1.0 on a boundary


def _provider(temporality=None, views=(), exemplar_filter=None):
    kwargs = {}
    if temporality is not None:
        kwargs["preferred_temporality"] = {Histogram: temporality}
    reader = InMemoryMetricReader(**kwargs)
    return MeterProvider(metric_readers=[reader], views=list(views), exemplar_filter=exemplar_filter), reader


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
                                  sorted((e.value, e.span_id, tuple(sorted(e.filtered_attributes.items())),
                                          e.trace_id) for e in p.exemplars)))
    return sorted(found, key=repr)


def _record_both(make, collections=2, sampler=None, in_span=True):
    """Records the same measurements through the SDK and through bound sets (by default in a
    sampled span, so exemplars are taken), collecting ``collections`` times; returns both
    collections' points (an exemplar's span id as whether it is the span's)."""
    tracer = TracerProvider(**({"sampler": sampler} if sampler else {})).get_tracer("t")
    results = []
    for bound in (False, True):
        provider, reader = make()
        histogram = _histogram(provider)
        sets = [BoundRecorder(histogram).bind(s) for s in SETS]
        buckets = [b.recorder.buckets for b in sets]
        assert all(b.recorder.fast for b in sets)
        assert all(b._histogram is not None and b._bucket is not None for b in buckets)  # the in-place path
        collected = []
        with tracer.start_as_current_span("parent") if in_span else contextlib.nullcontext() as span:
            ids = span.get_span_context() if in_span else trace.INVALID_SPAN_CONTEXT
            for _ in range(collections):
                for i, value in enumerate(VALUES):
                    if bound:
                        sets[i % len(SETS)].record(value)
                    else:
                        histogram.record(value, SETS[i % len(SETS)])
                collected.append([(p[:-1], [(e[0], e[1] == ids.span_id, e[2], e[3] == ids.trace_id) for e in p[-1]])
                                  for p in _points(reader)])
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
        raise AttributeError("no _exemplar_filter")  # as if the SDK had changed it

    recorder.buckets.should_sample = changed
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


def _exemplars(points):
    return [e for collection in points for p in collection for e in p[1]]


@pytest.mark.parametrize("temporality", [None, AggregationTemporality.DELTA])
def test_the_aligned_reservoir_keeps_the_last_value_per_bucket_with_the_span(temporality):
    sdk, bound = _record_both(lambda: _provider(temporality))
    assert sdk == bound
    first = {p[0][1]: p[1] for p in bound[0]}
    get_root = first[tuple(sorted(SETS[0].items()))]
    # 0.001, 0.0 and 0.004 fall in the first bucket of SETS[0]: the last one is kept, with the span
    assert get_root == [(0.004, True, (), True)]
    assert _exemplars(bound) and all(e[1] and e[3] for e in _exemplars(bound))


@pytest.mark.parametrize(("exemplar_filter", "sampler", "in_span", "expect_exemplars"), [
    (TraceBasedExemplarFilter(), ALWAYS_OFF, True, False),  # a span that is not sampled: none
    (TraceBasedExemplarFilter(), None, False, False),  # no span: none
    (AlwaysOnExemplarFilter(), None, False, True),  # always_on without a span: exemplars, no ids
    (AlwaysOnExemplarFilter(), ALWAYS_OFF, True, True),
    (AlwaysOffExemplarFilter(), None, True, False),
])
def test_same_exemplars_as_the_sdk_under_every_filter(exemplar_filter, sampler, in_span, expect_exemplars):
    sdk, bound = _record_both(lambda: _provider(exemplar_filter=exemplar_filter), sampler=sampler,
                              in_span=in_span)
    assert sdk == bound
    assert bool(_exemplars(bound)) is expect_exemplars


class _CustomFilter(TraceBasedExemplarFilter):
    """A filter of the user's own type: asked as the SDK asks it (values below 0.05 only)."""

    def should_sample(self, value, time_unix_nano, attributes, context):
        return value < 0.05


def test_a_filter_of_another_type_is_asked_like_the_sdk_asks_it():
    sdk, bound = _record_both(lambda: _provider(exemplar_filter=_CustomFilter()))
    assert sdk == bound
    assert {e[0] for e in _exemplars(bound)} == {0.004, 0.02}


def test_another_reservoir_gets_the_offer_like_the_sdk_gives_it():
    views = [View(instrument_name="d", 
                  exemplar_reservoir_factory=lambda _: lambda **_: SimpleFixedSizeExemplarReservoir())]
    sdk, bound = _record_both(lambda: _provider(views=views), collections=1)
    # the simple reservoir draws at random: the same count per point and values of that point
    shape = [[(p[0], len(p[1])) for p in c] for c in sdk]
    assert shape == [[(p[0], len(p[1])) for p in c] for c in bound]
    assert all(len(p[1]) == 1 for c in bound for p in c)


def test_an_sdk_aggregation_of_other_fields_takes_the_sdks_aggregate(monkeypatch):
    from vitalyst_otel.http import bucket_aggregate

    monkeypatch.setattr(bucket_aggregate, "_AGGREGATION_FIELDS", ("_a_field_this_sdk_lacks",))
    provider, reader = _provider()
    recorder = BoundRecorder(_histogram(provider))
    assert recorder.fast and recorder.buckets._histogram is None
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s"):
        recorder.bind(SETS[0]).record(0.05)
    ((*_, count, total, _b, _e, _mn, _mx, exemplars),) = _points(reader)
    assert (count, total, len(exemplars)) == (1, 0.05, 1)


def test_an_exemplar_bucket_of_other_fields_gets_the_sdks_offer(monkeypatch):
    from vitalyst_otel.http import bucket_aggregate

    monkeypatch.setattr(bucket_aggregate, "_OFFERED", "_ExemplarBucket__taken")  # as if the SDK renamed it
    provider, reader = _provider()
    recorder = BoundRecorder(_histogram(provider))
    assert recorder.buckets._bucket is None and recorder.buckets._histogram is not None
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s") as span:
        recorder.bind(SETS[0]).record(0.05)
    ((*_, exemplars),) = _points(reader)
    assert [(e[0], e[1]) for e in exemplars] == [(0.05, span.get_span_context().span_id)]
