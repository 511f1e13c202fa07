"""The server span built without ``Tracer.start_span`` and ended without the ``ReadableSpan``
copy (vitalyst_otel/http/span_build.py) is the span the SDK's public path makes: every field a
processor or exporter reads, the sampler's decisions, and what handler code can do with it."""

import logging
import random

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider, _Span, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from vitalyst_otel.export.batch import BatchQueue
from vitalyst_otel.export.protobuf.traces import encode_span
from vitalyst_otel.export.sizes import span_size
from vitalyst_otel.export.span_processor import QueueSpanProcessor
from vitalyst_otel.http import span_build
from vitalyst_otel.http.server_span import ServerSpans
from vitalyst_otel.http.span_build import SpanBuilder, _decider

START = {"http.request.method": "GET", "url.path": "/nodes/42", "url.scheme": "https", "server.port": 8443,
         "http.request.header.accept": ["text/html", "application/json"]}
END = {"http.route": "/nodes/{node_id}", "http.response.status_code": 200}
RESOURCE = Resource.create({"service.name": "span-build"})


class Recorder:
    """A real exporter of ours would encode what it gets; this one keeps it (the in-memory
    stand-in for the OTLP exporter behind the real span queue)."""

    def __init__(self):
        self.spans = []

    def export(self, spans):
        self.spans.extend(spans)

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis=30000):
        return True


def provider(sampler=None, limits=None):
    """A provider with our span queue only (exporting synchronously), as configure() builds it."""
    recorder = Recorder()
    tp = TracerProvider(sampler=sampler, span_limits=limits or SpanLimits(), resource=RESOURCE)
    tp.add_span_processor(QueueSpanProcessor(BatchQueue([recorder], "traces", synchronous=True,
                                                        max_bytes=1 << 20, size_of=span_size)))
    return tp, recorder


def request(spans: ServerSpans, context=None, handler=None, start=START, end=END):
    """What the middleware does with the span: start, make it current, the handler, the end."""
    span = spans.start("GET", context, dict(start))
    token = otel_context.attach(trace.set_span_in_context(span, context))
    try:
        if handler is not None:
            handler()
    finally:
        if span.is_recording():
            span.update_name("GET /nodes/{node_id}")
            spans.add(span, dict(end))
        spans.end(span)
        otel_context.detach(token)
    return span


def both_ways(sampler=None, limits=None, **kwargs):
    """The exported spans of the built path and of the public one (one provider each)."""
    made = []
    for fast in (True, False):
        tp, recorder = provider(sampler, limits)
        spans = ServerSpans(tp.get_tracer("t", "1.2", schema_url="https://example.com/schema"))
        assert spans.fast and spans.builder.available, "the SDK installed here should allow the built path"
        if not fast:
            spans.builder.available = False
        request(spans, **kwargs)
        made.append(recorder.spans)
    return made


def context_view(ctx):
    # The ids are random on both paths: their shape, flags and state are compared.
    if ctx is None:
        return None
    return (ctx.is_valid, ctx.is_remote, int(ctx.trace_flags), ctx.trace_state, 0 < ctx.span_id < 1 << 64,
            0 < ctx.trace_id < 1 << 128)


def fields(span):
    """Everything a processor or exporter reads from a finished span, start/end times apart."""
    events = [(e.name, dict(e.attributes), e.dropped_attributes) for e in span.events]
    links = [(l.context, dict(l.attributes), l.dropped_attributes) for l in span.links]
    return (span.name, context_view(span.context), span.parent, span.kind, list(span.attributes.items()),
            span.dropped_attributes, events, span.dropped_events, links, span.dropped_links,
            span.status.status_code, span.status.description, span.resource, span.instrumentation_scope,
            span.start_time is not None and span.end_time >= span.start_time)


def test_a_built_span_is_the_span_the_sdk_makes():
    (built,), (public,) = both_ways()
    assert type(built) is _Span and type(public) is ReadableSpan  # the queue got the span itself
    assert fields(built) == fields(public)
    assert list(built.attributes) == [*START, *END]
    assert built.context.trace_flags == TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
    assert built.instrumentation_scope.version == "1.2" and built.resource is RESOURCE
    assert span_size(built) == span_size(public)
    # Encoded alike: the ids and times are the span's own, so they are copied across first.
    copy = ReadableSpan(public.name, built.context, public.parent, public.resource, public._attributes,
                        public._events, public._links, public.kind, None, public.status,
                        built.start_time, built.end_time, public.instrumentation_scope)
    assert encode_span(built) == encode_span(copy)


def test_remote_parents_sampled_and_not_are_followed_with_their_trace_state():
    state = TraceState([("vendor", "v1")])
    for flags in (TraceFlags.SAMPLED, TraceFlags.DEFAULT, TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID):
        remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(flags), trace_state=state)
        parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        built, public = both_ways(context=parent)
        assert [fields(s) for s in built] == [fields(s) for s in public]
        assert len(built) == (1 if flags & TraceFlags.SAMPLED else 0)
        if built:
            assert built[0].parent == remote and built[0].context.trace_id == 0xABC
            assert built[0].context.trace_state == state


@pytest.mark.parametrize("sampler", [sampling.TraceIdRatioBased(0.3), sampling.ParentBased(sampling.TraceIdRatioBased(0.3)),
                                     sampling.ParentBasedTraceIdRatio(0.3), sampling.ALWAYS_OFF, sampling.DEFAULT_OFF,
                                     sampling.ParentBased(sampling.ALWAYS_ON, remote_parent_not_sampled=sampling.ALWAYS_ON)])
def test_the_sdk_samplers_decide_as_the_sdk_decides(sampler):
    decide = _decider(sampler)
    assert decide is not None
    rng = random.Random(7)
    for _ in range(3000):
        trace_id = rng.getrandbits(128) or 1
        remote = rng.random() < 0.5
        parent = None if rng.random() < 0.4 else SpanContext(trace_id, 0x55, is_remote=remote,
                                                             trace_flags=TraceFlags(rng.getrandbits(2)))
        context = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent is not None else None
        expected = sampler.should_sample(context, trace_id, "GET").decision.is_sampled()
        assert decide(parent, trace_id) is expected


def test_ratio_sampling_through_the_whole_path_matches_trace_by_trace():
    # A remote parent fixes the trace id, so both paths decide on the same one (TraceIdRatioBased
    # ignores the parent's flag).
    sampler = sampling.TraceIdRatioBased(0.5)
    rng = random.Random(3)
    for _ in range(60):
        remote = SpanContext(rng.getrandbits(128) or 1, 0x77, is_remote=True, trace_flags=TraceFlags(rng.getrandbits(1)))
        built, public = both_ways(sampler=sampler, context=trace.set_span_in_context(trace.NonRecordingSpan(remote)))
        assert [fields(s) for s in built] == [fields(s) for s in public]


def test_a_root_span_is_sampled_at_the_configured_ratio():
    tp, recorder = provider(sampling.ParentBasedTraceIdRatio(0.25))
    spans = ServerSpans(tp.get_tracer("t"))
    made = [request(spans) for _ in range(800)]
    assert 130 < len(recorder.spans) < 270
    assert all(type(s) is _Span for s in recorder.spans)
    assert sum(s.get_span_context().trace_flags.sampled for s in made) == len(recorder.spans)
    assert not any(s.is_recording() for s in made)


def test_a_users_sampler_or_id_generator_takes_the_public_path():
    class Mine(sampling.Sampler):
        def should_sample(self, *args, **kwargs):
            return sampling.SamplingResult(sampling.Decision.RECORD_AND_SAMPLE)

        def get_description(self):
            return "mine"

    class Counting(sampling.StaticSampler):
        pass

    for sampler in (Mine(), sampling.ParentBased(Mine()), sampling.StaticSampler(sampling.Decision.RECORD_ONLY)):
        assert not SpanBuilder(TracerProvider(sampler=sampler).get_tracer("t")).available
    assert _decider(Counting(sampling.Decision.RECORD_AND_SAMPLE)) is not None  # should_sample not overridden

    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class Sequential(RandomIdGenerator):
        pass

    assert not SpanBuilder(TracerProvider(id_generator=Sequential()).get_tracer("t")).available


def test_a_changed_set_up_after_the_start_takes_the_public_path():
    tp, recorder = provider()
    tracer = tp.get_tracer("t")
    builder = SpanBuilder(tracer)
    assert builder.available
    tp.sampler = tracer.sampler = sampling.ALWAYS_OFF
    assert builder.start("GET", None) is None


def test_a_users_processor_sees_the_span_as_the_sdk_shows_it():
    started, ended = [], []

    class AtStart(SpanProcessor):
        def on_start(self, span, parent_context=None):
            started.append(dict(span.attributes))

    class AtEnd(SpanProcessor):
        def on_end(self, span):
            ended.append(span)

    tp, recorder = provider()
    spans = ServerSpans(tp.get_tracer("t"))
    request(spans)
    tp.add_span_processor(AtEnd())
    request(spans)
    tp.add_span_processor(AtStart())
    request(spans)
    assert started == [{**START, "http.request.header.accept": ("text/html", "application/json")}]
    # With a processor not ours, ``end`` is the SDK's: an immutable ReadableSpan copy for everyone.
    assert [type(s) for s in recorder.spans] == [_Span, ReadableSpan, ReadableSpan]
    assert [type(s) for s in ended] == [ReadableSpan, ReadableSpan]
    assert fields(recorder.spans[0]) == fields(ended[0]) == fields(ended[1])
    with pytest.raises(TypeError):
        ended[0]._attributes["late"] = "x"


def test_span_limits_hold_on_the_built_span():
    limits = SpanLimits(max_span_attributes=4, max_events=2, max_links=1, max_event_attributes=1,
                        max_span_attribute_length=5, max_attribute_length=3)

    def handler():
        span = trace.get_current_span()
        for n in range(4):
            span.add_event(f"e{n}", {"b": 2, "a": "long value"})
        span.add_link(SpanContext(5, 6, False), {"x": "yyyy"})
        span.add_link(SpanContext(7, 8, False))

    (built,), (public,) = both_ways(limits=limits, handler=handler)
    assert fields(built) == fields(public)
    assert built.dropped_attributes == len(START) + len(END) - 4 and built.dropped_events == 2
    assert built.dropped_links == 1 and built.events[0].name == "e2" and built.events[0].attributes == {"a": "lon"}


def test_what_handler_code_does_with_the_current_span_is_kept():
    def handler():
        span = trace.get_current_span()
        span.set_attribute("user.tier", "gold")
        span.set_attributes({"cart.items": 3, "cart.tags": ["a", "b"]})
        span.add_event("checked", {"stock": True})
        span.add_link(SpanContext(0x1234, 0x5678, True), {"why": "batch"})
        try:
            raise ValueError("no stock")
        except ValueError as exc:
            span.record_exception(exc, {"extra": 1})
        span.set_status(Status(StatusCode.ERROR, "no stock"))
        span.set_attribute("odd", object())  # cleaned by the SDK as it cleans it

    (built,), (public,) = both_ways(handler=handler)
    assert fields(built) == fields(public)
    assert [e.name for e in built.events] == ["checked", "exception"]
    assert built.events[1].attributes["exception.type"] == "ValueError"
    assert built.status.description == "no stock" and built.attributes["cart.tags"] == ("a", "b")
    assert built.links[0].context.span_id == 0x5678


def test_changes_after_the_end_are_refused_with_the_sdks_warnings(caplog):
    tp, recorder = provider()
    spans = ServerSpans(tp.get_tracer("t"))
    span = request(spans)
    before = fields(recorder.spans[0])
    with caplog.at_level(logging.WARNING):
        span.set_attribute("late", 1)
        span.add_event("late")
        span.update_name("renamed")
        span.set_status(StatusCode.ERROR)
        span.end()
        spans.end(span)
    assert recorder.spans[0] is span and fields(span) == before
    assert "Setting attribute on ended span." in caplog.text
    assert caplog.text.count("Calling end() on an ended span.") == 2
    assert len(recorder.spans) == 1
    with pytest.raises(TypeError):
        span._attributes["late"] = "x"


def test_a_span_the_handler_ended_is_not_ended_twice(caplog):
    tp, recorder = provider()
    spans = ServerSpans(tp.get_tracer("t"))
    with caplog.at_level(logging.WARNING):
        request(spans, handler=lambda: trace.get_current_span().end())
    assert len(recorder.spans) == 1 and type(recorder.spans[0]) is ReadableSpan  # the SDK's own end
    assert "Calling end() on an ended span." in caplog.text
    assert "http.route" not in recorder.spans[0].attributes  # the middleware's end attributes refused


def test_another_sdk_version_takes_the_public_path(monkeypatch):
    monkeypatch.setitem(span_build._KNOWN, "Span.end", "0000000000000000")
    assert not span_build.sdk_matches()
    tp, recorder = provider()
    spans = ServerSpans(tp.get_tracer("t"))
    assert not spans.builder.available
    request(spans)
    assert type(recorder.spans[0]) is ReadableSpan and list(recorder.spans[0].attributes) == [*START, *END]


def test_a_builder_that_fills_a_field_wrongly_is_not_used(monkeypatch):
    original = SpanBuilder._fill

    def wrong(self, *args):
        span = original(self, *args)
        span._record_exception = False
        return span

    monkeypatch.setattr(SpanBuilder, "_fill", wrong)
    assert not SpanBuilder(TracerProvider().get_tracer("t")).available


@pytest.mark.parametrize("step", ["start", "mark_ended"])
def test_internals_failing_at_run_time_switch_to_the_public_path_with_one_warning(monkeypatch, caplog, step):
    tp, recorder = provider()
    spans = ServerSpans(tp.get_tracer("t"))
    monkeypatch.setattr(SpanBuilder, step, staticmethod(lambda *args: {}["_changed_internal"]))
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel"):
        made = [request(spans) for _ in range(3)]
    warnings = [r.getMessage() for r in caplog.records if "public API" in r.getMessage()]
    assert not spans.fast and len(warnings) == 1 and "_changed_internal" in warnings[0]
    assert [list(s.attributes) for s in recorder.spans] == [[*START, *END]] * 3
    assert not any(s.is_recording() for s in made)  # every one ended exactly once


def test_the_sdk_tracer_metrics_still_count_built_spans(monkeypatch):
    calls = []

    class Metrics:
        def start_span(self, parent, decision):
            calls.append(("start", parent, decision))
            return lambda: calls.append(("end",))

    tp, recorder = provider()
    tracer = tp.get_tracer("t")
    tracer._tracer_metrics = Metrics()
    request(ServerSpans(tracer))
    assert calls == [("start", None, sampling.Decision.RECORD_AND_SAMPLE), ("end",)]


def test_an_exporter_behind_simple_span_processor_still_gets_copies():
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    spans = ServerSpans(tp.get_tracer("t"))
    request(spans)
    (span,) = exporter.get_finished_spans()
    assert type(span) is ReadableSpan and span.attributes["http.route"] == "/nodes/{node_id}"
