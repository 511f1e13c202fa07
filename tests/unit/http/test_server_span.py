"""The server span's fast attribute path (vitalyst_otel/http/server_span.py) makes the span the
SDK's public path makes: same attributes, limits, sampler decisions and processor view."""

import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from vitalyst_otel.http.server_span import ServerSpans, fast_path_available, sampler_reads_no_attributes

START = {"http.request.method": "GET", "url.path": "/nodes/42", "url.scheme": "https", "server.port": 8443,
         "client.address": "10.0.0.7", "http.request.header.accept": ["text/html", "application/json"]}
END = {"http.route": "/nodes/{node_id}", "http.response.status_code": 200}


def provider(sampler=None, limits=None):
    exporter = InMemorySpanExporter()
    tp = TracerProvider(sampler=sampler, span_limits=limits or SpanLimits())
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp, exporter


def one_span(spans: ServerSpans, start=START, end=END, context=None):
    span = spans.start("GET", context, dict(start))
    if span.is_recording():
        spans.add(span, dict(end))
    span.end()
    return span


def both_ways(start=START, end=END, sampler=None, limits=None):
    """The finished span of the fast path and of the public one, from one provider each."""
    made = []
    for fast in (True, False):
        tp, exporter = provider(sampler, limits)
        spans = ServerSpans(tp.get_tracer("t"))
        assert spans.fast, "the SDK installed here should allow the fast path"
        spans.fast = fast
        one_span(spans, start, end)
        made.append(exporter.get_finished_spans())
    return made


def view(span):
    return (span.name, span.kind, dict(span.attributes), span.dropped_attributes, span.status.status_code)


def test_the_fast_path_makes_the_span_the_public_path_makes():
    (fast,), (public,) = both_ways()
    assert view(fast) == view(public)
    assert fast.kind is SpanKind.SERVER
    assert fast.attributes["http.request.header.accept"] == ("text/html", "application/json")
    assert list(fast.attributes) == [*START, *END]  # insertion order, as the SDK keeps it


def test_span_limits_apply_on_the_fast_path():
    # Count limit below what the middleware sets: the SDK drops the oldest and counts them.
    (fast,), (public,) = both_ways(limits=SpanLimits(max_span_attributes=4))
    assert view(fast) == view(public)
    assert len(fast.attributes) == 4 and fast.dropped_attributes == len(START) + len(END) - 4
    # Value length limit: strings (and strings in lists) cut as the SDK cuts them.
    (fast,), (public,) = both_ways(limits=SpanLimits(max_span_attribute_length=5))
    assert view(fast) == view(public)
    assert fast.attributes["url.path"] == "/node"
    assert fast.attributes["http.route"] == "/node"
    assert fast.attributes["http.request.header.accept"] == ("text/", "appli")


def test_values_that_need_cleaning_are_cleaned_by_the_sdk():
    class Odd:
        def __str__(self):
            return "odd"

    start = {**START, "weird": Odd(), "empty.list": [], 7: "not a str key"}
    (fast,), (public,) = both_ways(start=start, end={"status": Odd(), "ok": True, "ratio": 0.5})
    assert view(fast) == view(public)
    assert fast.attributes["weird"] == "odd" and fast.attributes["status"] == "odd"
    assert fast.attributes["ok"] is True and fast.attributes["ratio"] == 0.5


def test_a_parent_based_ratio_sampler_decides_as_before():
    sampler = sampling.ParentBased(sampling.TraceIdRatioBased(0.5))
    tp, exporter = provider(sampler)
    spans = ServerSpans(tp.get_tracer("t"))
    assert spans.fast
    made = [one_span(spans) for _ in range(400)]
    recorded = [s for s in made if s.get_span_context().trace_flags.sampled]
    assert 120 < len(recorded) < 280
    assert len(exporter.get_finished_spans()) == len(recorded)
    assert all(dict(s.attributes) == {**START, **END, "http.request.header.accept": ("text/html", "application/json")}
               for s in exporter.get_finished_spans())
    # A sampled remote parent is followed, an unsampled one too.
    for flags, expected in ((trace.TraceFlags.SAMPLED, True), (trace.TraceFlags.DEFAULT, False)):
        parent = trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(
            0x1234, 0x5678, is_remote=True, trace_flags=trace.TraceFlags(flags))))
        span = one_span(spans, context=parent)
        assert span.get_span_context().trace_id == 0x1234
        assert span.get_span_context().trace_flags.sampled is expected


def test_a_sampler_of_the_users_sees_the_attributes():
    seen = []

    class Looking(sampling.Sampler):
        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                          trace_state=None):
            seen.append(dict(attributes or {}))
            return sampling.SamplingResult(sampling.Decision.RECORD_AND_SAMPLE, {"sampler.note": "x"})

        def get_description(self):
            return "looking"

    assert not sampler_reads_no_attributes(Looking())
    assert not sampler_reads_no_attributes(sampling.ParentBased(Looking()))
    assert sampler_reads_no_attributes(sampling.ParentBased(sampling.TraceIdRatioBased(0.1)))
    tp, exporter = provider(Looking())
    spans = ServerSpans(tp.get_tracer("t"))
    assert not spans.fast
    one_span(spans)
    assert seen == [START]
    assert exporter.get_finished_spans()[0].attributes["sampler.note"] == "x"


def test_a_processor_that_reads_the_span_at_start_sees_the_attributes():
    at_start = []

    class Reading(SpanProcessor):
        def on_start(self, span, parent_context=None):
            at_start.append(dict(span.attributes))

    tp, exporter = provider()
    spans = ServerSpans(tp.get_tracer("t"))
    one_span(spans)
    tp.add_span_processor(Reading())  # added after the first request: seen from the next one on
    one_span(spans)
    assert at_start == [{**START, "http.request.header.accept": ("text/html", "application/json")}]
    first, second = exporter.get_finished_spans()
    assert view(first) == view(second)


def test_changed_internals_switch_to_the_public_path_with_one_warning(monkeypatch, caplog):
    tp, exporter = provider()
    spans = ServerSpans(tp.get_tracer("t"))

    def broken(*args):
        raise AttributeError("_dict")

    monkeypatch.setattr(ServerSpans, "_store_fresh", broken)
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel"):
        one_span(spans)
        one_span(spans)
    assert not spans.fast
    assert len([r for r in caplog.records if "public API" in r.getMessage()]) == 1
    assert all(len(s.attributes) == len(START) + len(END) for s in exporter.get_finished_spans())


def test_attributes_after_the_end_are_refused_as_the_sdk_refuses_them(caplog):
    tp, exporter = provider()
    spans = ServerSpans(tp.get_tracer("t"))
    span = spans.start("GET", None, dict(START))
    span.end()
    with caplog.at_level(logging.WARNING):
        spans.add(span, {"late": "x"})
    assert "late" not in exporter.get_finished_spans()[0].attributes
    assert "ended span" in caplog.text


@pytest.mark.parametrize("tracer", [trace.NoOpTracer(), trace.ProxyTracer("x", None, None)])
def test_other_tracers_take_the_public_path(tracer):
    assert not fast_path_available(tracer)
    spans = ServerSpans(tracer)
    span = spans.start("GET", None, dict(START))
    spans.add(span, dict(END))
    span.end()
    assert not span.is_recording()
