"""``OTEL_TRACES_EXPORTER=console``: one compact JSON line per span on stderr.

The specification leaves the console format to the implementation; the SDK's pretty-printed
forty-line spans drown a terminal, so ours prints one line each (stdout stays for the JSON logs).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

import orjson
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


def span_line(span) -> bytes:
    context = span.context
    parent = span.parent
    line = {
        "span": span.name,
        "kind": span.kind.name.lower(),
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_span_id": f"{parent.span_id:016x}" if parent is not None else None,
        "duration_ms": round((span.end_time - span.start_time) / 1e6, 3) if span.end_time else None,
        "status": span.status.status_code.name.lower(),
        "attributes": dict(span.attributes or {}),
    }
    if span.events:
        line["events"] = [event.name for event in span.events]
    return orjson.dumps(line, default=str) + b"\n"


class CompactConsoleSpanExporter(SpanExporter):
    def __init__(self, out=None):
        self.out = out
        self._lock = threading.Lock()

    def export(self, spans: Sequence) -> SpanExportResult:
        out = self.out or sys.stderr
        data = b"".join(span_line(span) for span in spans)
        with self._lock:
            try:
                out.buffer.write(data) if hasattr(out, "buffer") else out.write(data.decode())
                out.flush()
            except (OSError, ValueError):
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""
