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
