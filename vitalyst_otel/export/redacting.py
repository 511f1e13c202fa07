"""The wrapper every span exporter goes through: credentials never reach an exporter."""

from __future__ import annotations

import time

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter

from vitalyst_otel.redaction import QUERY_ATTRIBUTE_KEYS, URL_KEYS, Redactor


class RedactingSpanExporter(SpanExporter):
    """Masks sensitive span attributes before any exporter sees them (credentials put on spans
    by other instrumentations, or by hand). Spans without such attributes pass unchanged."""

    def __init__(self, inner: SpanExporter, redactor: Redactor):
        self.inner = inner
        self.redactor = redactor
        self._verdicts: dict[str, bool] = {}

    def _needs(self, key: str) -> bool:
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = key in URL_KEYS or key in QUERY_ATTRIBUTE_KEYS or self.redactor.is_sensitive(key)
            if len(self._verdicts) < 4096:
                self._verdicts[key] = verdict
        return verdict

    def _clean(self, span: ReadableSpan) -> ReadableSpan:
        attributes = span.attributes
        if not attributes or not any(self._needs(key) for key in attributes):
            return span
        cleaned = {}
        for key, value in attributes.items():
            if self.redactor.is_sensitive(key):
                cleaned[key] = self.redactor.value(key, value)
            elif isinstance(value, str) and self._needs(key):
                cleaned[key] = self.redactor.value(key, value)
            else:
                cleaned[key] = value
        return ReadableSpan(
            name=span.name, context=span.context, parent=span.parent, resource=span.resource,
            attributes=cleaned, events=span.events, links=span.links, kind=span.kind,
            status=span.status, start_time=span.start_time, end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def export(self, spans):
        return self.inner.export([self._clean(span) for span in spans])

    def shutdown(self):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def begin_shutdown(self, deadline: float = 0.0) -> None:
        begin = getattr(self.inner, "begin_shutdown", None)
        if begin is not None:
            begin(deadline or time.monotonic())
