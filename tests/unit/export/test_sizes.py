from types import SimpleNamespace

from vitalyst_otel.export.sizes import ITEM_OVERHEAD, log_record_size, span_size, truncate


def test_truncate_keeps_what_fits_and_marks_what_it_cut():
    assert truncate("short", 10) == "short"
    assert truncate("x" * 100, 10) == "x" * 10 + "…[truncated 90 chars]"


def test_sizes_grow_with_the_text_an_item_holds():
    small = SimpleNamespace(body="hi", attributes={"k": "v"})
    big = SimpleNamespace(body="x" * 10_000, attributes={"k": "v" * 5_000})
    assert log_record_size(small) < ITEM_OVERHEAD + 100
    assert log_record_size(big) >= 15_000
    event = SimpleNamespace(name="e", attributes={"exception.stacktrace": "t" * 3_000})
    assert span_size(SimpleNamespace(name="GET /", attributes={}, events=[event])) >= 3_000


def test_an_sdk_span_is_measured_over_its_own_attributes_and_events():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    attributes = {"url.path": "/p" * 500, "server.port": 8000}
    with tracer.start_as_current_span("GET /p", attributes=attributes) as span:
        span.add_event("exception", {"exception.stacktrace": "t" * 3_000})
    with tracer.start_as_current_span("GET /q", attributes=attributes):
        pass
    with_event, without = exporter.get_finished_spans()
    # The same estimate as for plain objects holding the same text.
    event = SimpleNamespace(name="exception", attributes={"exception.stacktrace": "t" * 3_000})
    assert span_size(with_event) == span_size(SimpleNamespace(name="GET /p", attributes=attributes, events=[event]))
    assert span_size(without) == span_size(SimpleNamespace(name="GET /q", attributes=attributes, events=[]))
    assert span_size(with_event) > span_size(without) + 3_000 > 4_000
