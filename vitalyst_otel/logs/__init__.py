"""Application logs: JSON lines on stdout (and optionally a rotated file) with trace context, and
the one OTLP log bridge."""

from vitalyst_otel.logs.json_format import JsonFormatter

__all__ = ["JsonFormatter"]
