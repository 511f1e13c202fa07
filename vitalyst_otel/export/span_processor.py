"""The span processor: ended, sampled spans into a :class:`BatchQueue`, exported by its worker.

It replaces the SDK's BatchSpanProcessor so that spans, logs and audit records share one queue
implementation: bounded, never blocking, fork-aware, and reporting a full queue through the
signal's :class:`ExportStatus` (one line, not one warning per dropped span).

When the queue's one exporter is our OTLP/HTTP one behind the redacting wrapper, which reads a
span only to redact and encode it, the span is redacted and encoded here, on the thread that ends
it, and queued as its Span message bytes (an
:class:`~vitalyst_otel.export.protobuf.logs.EncodedRecord`, measured exactly): the span object is
freed at once instead of waiting in the queue with the dozen tracked objects it holds, and the
worker only groups and concatenates. Any other exporter gets the span objects as before.
"""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from vitalyst_otel.export.batch import BatchQueue
from vitalyst_otel.export.otlp import OtlpSpanExporter
from vitalyst_otel.export.protobuf.fields import add_repairs, take_repairs
from vitalyst_otel.export.protobuf.logs import EncodedRecord
from vitalyst_otel.export.protobuf.traces import encode_span
from vitalyst_otel.export.redacting import RedactingSpanExporter
from vitalyst_otel.export.sizes import ENCODED_ITEM_OVERHEAD
from vitalyst_otel.redaction.spans import clean_span


def encoding_redactor(exporters: list):
    """The redactor to apply at ``on_end`` when the only exporter is our OTLP/HTTP encoder behind
    the redacting wrapper (exact types: a subclass may read the spans), else ``None``."""
    if len(exporters) != 1:
        return None
    exporter = exporters[0]
    if type(exporter) is RedactingSpanExporter and type(exporter.inner) is OtlpSpanExporter:
        return exporter.redactor
    return None


class QueueSpanProcessor(SpanProcessor):
    def __init__(self, queue: BatchQueue):
        self.queue = queue
        self.redactor = encoding_redactor(queue.exporters)

    def on_start(self, span, parent_context=None) -> None:
        """Nothing happens at start."""

    def on_end(self, span) -> None:
        if not span.context.trace_flags.sampled:
            return
        redactor = self.redactor
        if redactor is None:
            self.queue.put(span)
            return
        earlier = take_repairs()  # this thread's count is not ours to take
        try:
            encoded = encode_span(clean_span(redactor, span))
        except Exception:  # noqa: BLE001 - the worker's exporter drops and counts it as before
            take_repairs()
            add_repairs(earlier)
            self.queue.put(span)
            return
        repairs = take_repairs()
        if earlier:
            add_repairs(earlier)
        self.queue.put_measured(EncodedRecord(span.resource, span.instrumentation_scope, encoded, repairs),
                                len(encoded) + ENCODED_ITEM_OVERHEAD)

    def shutdown(self) -> None:
        self.queue.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.queue.force_flush(timeout_millis / 1000)
