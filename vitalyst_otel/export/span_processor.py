"""The span processor: ended, sampled spans into a :class:`BatchQueue`, exported by its worker.

It replaces the SDK's BatchSpanProcessor so that spans, logs and audit records share one queue
implementation: bounded, never blocking, fork-aware, and reporting a full queue through the
signal's :class:`ExportStatus` (one line, not one warning per dropped span).
"""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from vitalyst_otel.export.batch import BatchQueue


class QueueSpanProcessor(SpanProcessor):
    def __init__(self, queue: BatchQueue):
        self.queue = queue

    def on_start(self, span, parent_context=None) -> None:
        """Nothing happens at start."""

    def on_end(self, span) -> None:
        if span.context.trace_flags.sampled:
            self.queue.put(span)

    def shutdown(self) -> None:
        self.queue.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.queue.force_flush(timeout_millis / 1000)
