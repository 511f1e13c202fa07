"""Where the access line goes: which of the log handlers get it.

By default the access line (uvicorn's, reshaped by
:class:`vitalyst_otel.logs.access_filter.AccessLogFilter`) is written as a JSON line on stdout and
sent as an OTLP log record. With
``VITALYST_ACCESS_LOG_OTLP=false`` the OTLP bridge leaves it out: the JSON line stays, and the
request is still on the collector as its span (when sampled) and in the duration histogram.
"""

from __future__ import annotations

import logging

ACCESS_LOGGERS = ("uvicorn.access",)


class SkipAccessLines(logging.Filter):
    """A handler filter: passes every record except the access lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name not in ACCESS_LOGGERS


def route_access_lines(otlp_handler: logging.Handler, to_otlp: bool) -> None:
    """Let ``otlp_handler`` (the OTLP log bridge) take access lines or not; idempotent."""
    for existing in [f for f in otlp_handler.filters if isinstance(f, SkipAccessLines)]:
        otlp_handler.removeFilter(existing)
    if not to_otlp:
        otlp_handler.addFilter(SkipAccessLines())
