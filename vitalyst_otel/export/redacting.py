"""The wrapper every span exporter goes through: credentials never reach an exporter."""

from __future__ import annotations

import time

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter

from vitalyst_otel.export.gil_slices import yielding
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.redaction.spans import clean_span


class RedactingSpanExporter(SpanExporter):
    """Redacts every span before any exporter sees it (:func:`vitalyst_otel.redaction.spans.clean_span`:
    name, attributes, events, links, status); spans with nothing to mask pass unchanged."""

    def __init__(self, inner: SpanExporter, redactor: Redactor):
        self.inner = inner
        self.redactor = redactor

    def _clean(self, span: ReadableSpan) -> ReadableSpan:
        return clean_span(self.redactor, span)

    def export(self, spans):
        return self.inner.export([self._clean(span) for span in yielding(spans)])

    def shutdown(self):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def begin_shutdown(self, deadline: float = 0.0) -> None:
        begin = getattr(self.inner, "begin_shutdown", None)
        if begin is not None:
            begin(deadline or time.monotonic())
