"""The span queue is bounded in bytes (issue 10): with the exporter stuck, big spans past
VITALYST_EXPORT_QUEUE_MAX_BYTES are refused, never held."""

import threading

from opentelemetry.sdk.resources import Resource

from vitalyst_otel.config.settings import Settings
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.tracing import build_tracer_provider

LIMIT = 256 * 1024


class StuckExporter:
    """A stand-in for an exporter whose collector never answers: export() waits until released."""

    def __init__(self):
        self.release = threading.Event()
        self.exported = 0

    def export(self, spans):
        self.release.wait(30)
        self.exported += len(spans)

    def shutdown(self):
        self.release.set()

    def force_flush(self, timeout_millis=30000):
        return True


class Factory:
    def __init__(self, exporter):
        self.exporter = exporter

    def named(self, signal, name):
        return self.exporter


def test_big_spans_past_the_byte_limit_are_refused_while_the_exporter_is_stuck():
    settings = Settings.load({}, environ={"VITALYST_EXPORT_QUEUE_MAX_BYTES": str(LIMIT), "OTEL_BSP_MAX_QUEUE_SIZE": "100000",
                                          "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "100000"})
    assert settings.export_queue_max_bytes == LIMIT
    exporter = StuckExporter()
    provider = build_tracer_provider(settings, Resource.create({}), Redactor(()), Factory(exporter))
    (processor,) = provider._active_span_processor._span_processors
    queue = processor.queue
    tracer = provider.get_tracer("t")
    try:
        for i in range(200):  # 200 spans of 10 KB: 2 MB, eight times the limit
            with tracer.start_as_current_span(f"op {i}", attributes={"payload": "x" * 10_000}):
                pass
        assert queue.queued_bytes <= LIMIT
        assert len(queue._queue) < 40  # about LIMIT / 10 KB, not 200
    finally:
        exporter.release.set()
        provider.shutdown()
