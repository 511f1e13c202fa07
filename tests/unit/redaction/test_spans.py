"""Span redaction on the export path: masked where needed, passed on untouched where not."""

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from vitalyst_otel.config.variables import DEFAULT_REDACT_KEYS
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.redaction.spans import clean_span


def finished_span(**attributes):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("GET /items/{item_id}", attributes=attributes):
        pass
    return exporter.get_finished_spans()[0]


def test_a_span_with_nothing_to_mask_is_the_same_object():
    span = finished_span(**{"url.path": "/items/42", "http.response.status_code": 200, "user_agent.original": "wrk"})
    assert clean_span(Redactor(DEFAULT_REDACT_KEYS), span) is span


def test_a_span_with_a_credential_is_copied_masked_and_the_original_left_alone():
    span = finished_span(**{"url.path": "/items/42", "http.request.header.authorization": "Bearer abc",
                            "note": "password=hunter2"})
    cleaned = clean_span(Redactor(DEFAULT_REDACT_KEYS), span)
    assert cleaned is not span
    assert cleaned.attributes["http.request.header.authorization"] == "[REDACTED]"
    assert "hunter2" not in cleaned.attributes["note"]
    assert cleaned.attributes["url.path"] == "/items/42"
    assert span.attributes["http.request.header.authorization"] == "Bearer abc"


def test_a_masked_copy_keeps_what_the_limits_dropped():
    """The copy made to mask a value reports the span's, its events' and its links' dropped
    counts, and the encoder writes them (decoded with the official protobuf classes)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.sdk.trace import SpanLimits
    from opentelemetry.trace import Link, SpanContext, TraceFlags

    from vitalyst_otel.export.protobuf import encode_spans

    exporter = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=2, max_events=1, max_links=1, max_event_attributes=1,
                        max_link_attributes=1)
    provider = TracerProvider(span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    linked = [Link(SpanContext(n + 1, n + 1, False, TraceFlags(1)), {"x": n, "token": "s3cret"}) for n in range(3)]
    with provider.get_tracer("t").start_as_current_span("work", links=linked) as span:
        span.set_attributes({"a": 1, "b": 2, "password": "hunter2"})  # the oldest go first
        span.add_event("first", {"z": 1})
        span.add_event("second", {"y": 1, "secret": "hunter2"})
    finished = exporter.get_finished_spans()[0]
    assert (finished.dropped_attributes, finished.dropped_events, finished.dropped_links) == (1, 1, 2)
    cleaned = clean_span(Redactor(DEFAULT_REDACT_KEYS), finished)
    assert cleaned is not finished
    assert cleaned.attributes["password"] == "[REDACTED]"
    assert (cleaned.dropped_attributes, cleaned.dropped_events, cleaned.dropped_links) == (1, 1, 2)
    assert cleaned.events[0].attributes["secret"] == "[REDACTED]" and "s3cret" not in str(cleaned.links[0].attributes)
    assert cleaned.events[0].dropped_attributes == finished.events[0].dropped_attributes == 1
    assert cleaned.links[0].dropped_attributes == finished.links[0].dropped_attributes == 1
    decoded = ExportTraceServiceRequest.FromString(encode_spans([cleaned]))
    wire = decoded.resource_spans[0].scope_spans[0].spans[0]
    assert (wire.dropped_attributes_count, wire.dropped_events_count, wire.dropped_links_count) == (1, 1, 2)
    assert wire.events[0].dropped_attributes_count == 1
    assert wire.links[0].dropped_attributes_count == 1
    assert b"hunter2" not in decoded.SerializeToString() and b"s3cret" not in decoded.SerializeToString()
