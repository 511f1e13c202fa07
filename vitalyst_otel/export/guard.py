"""Choosing the OTLP exporter for a signal, and the wrappers every span exporter goes through.

http/protobuf uses our exporter (:mod:`vitalyst_otel.export.otlp`). grpc uses the SDK's gRPC
exporter (the ``[grpc]`` extra; the gRPC stack alone costs about 20 MiB of RSS, which is why it
is not the default), wrapped so that it reports to the same :class:`ExportStatus` and its
per-batch warnings are replaced by our one line per outage.
"""

from __future__ import annotations

import logging
import time

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from vitalyst_otel.export.otlp import OtlpLogExporter, OtlpMetricExporter, OtlpSpanExporter
from vitalyst_otel.export.status import ExportStatus
from vitalyst_otel.config import Settings
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.redaction.spans import clean_span

_log = logging.getLogger("vitalyst_otel")


class _DropTransientWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message.startswith(("Transient error", "Failed to export")) and record.levelno < logging.CRITICAL)


class GrpcGuard:
    """Wraps an SDK gRPC exporter: status reporting, no exception escapes."""

    def __init__(self, inner, status: ExportStatus, success, failure):
        self._inner = inner
        self.status = status
        self._success = success
        self._failure = failure

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def export(self, batch, *args, **kwargs):
        try:
            result = self._inner.export(batch, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            self.status.failed(f"{type(exc).__name__}: {exc}", _count(batch))
            return self._failure
        if result == self._success:
            self.status.succeeded()
        else:
            self.status.failed("gRPC export failed", _count(batch))
        return result

    def begin_shutdown(self, deadline: float) -> None:
        """The SDK's gRPC exporter has its own timeout; shutdown is bounded by the caller."""


def _count(batch) -> int:
    try:
        return len(batch)
    except TypeError:
        return 0


def _grpc_exporter(signal: str, settings: Settings, status: ExportStatus):
    config = settings.otlp[signal]
    # gRPC metadata keys must be lowercase ("Authorization" is rejected by the gRPC core).
    headers = {key.lower(): value for key, value in config.headers.items()}
    kwargs = dict(endpoint=config.endpoint, headers=headers or None,
                  timeout=config.timeout_s, insecure=config.endpoint.startswith("http://"))
    if config.compression == "gzip":
        from grpc import Compression

        kwargs["compression"] = Compression.Gzip
    logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter").addFilter(_DropTransientWarnings())
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return GrpcGuard(OTLPSpanExporter(**kwargs), status, SpanExportResult.SUCCESS, SpanExportResult.FAILURE)
    if signal == "metrics":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import MetricExportResult

        from vitalyst_otel.export.otlp import TEMPORALITY

        inner = OTLPMetricExporter(preferred_temporality=TEMPORALITY[settings.exporter_otlp_metrics_temporality_preference], **kwargs)
        return _GrpcMetricGuard(inner, status, MetricExportResult.SUCCESS, MetricExportResult.FAILURE)
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    return GrpcGuard(OTLPLogExporter(**kwargs), status, LogRecordExportResult.SUCCESS, LogRecordExportResult.FAILURE)


class _GrpcMetricGuard(GrpcGuard):
    """Metric readers need the exporter's temporality and aggregation preferences."""

    @property
    def _preferred_temporality(self):
        return self._inner._preferred_temporality

    @property
    def _preferred_aggregation(self):
        return self._inner._preferred_aggregation


def exporter_for(signal: str, settings: Settings, statuses: dict):
    """The OTLP exporter of ``signal``; its ExportStatus lands in ``statuses[signal]``."""
    config = settings.otlp[signal]
    status = statuses.setdefault(signal, ExportStatus(signal, config.endpoint))
    if config.protocol == "grpc":
        try:
            return _grpc_exporter(signal, settings, status)
        except ImportError:
            _log.warning(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC exporter: pip install "
                "'vitalyst-otel[grpc]'. %s are sent over http/protobuf to %s instead.",
                signal, config.endpoint.replace(":4317", ":4318"))
            config = settings.otlp_over_http(signal)
            status.endpoint = config.endpoint
    if signal == "traces":
        return OtlpSpanExporter(config, status)
    if signal == "metrics":
        return OtlpMetricExporter(config, settings.exporter_otlp_metrics_temporality_preference,
                                  settings.exporter_otlp_metrics_default_histogram_aggregation, status)
    return OtlpLogExporter(config, status)


class RedactingSpanExporter(SpanExporter):
    """Redacts every span before any exporter sees it (:func:`vitalyst_otel.redaction.spans.clean_span`:
    name, attributes, events, links, status); spans with nothing to mask pass unchanged."""

    def __init__(self, inner: SpanExporter, redactor: Redactor):
        self.inner = inner
        self.redactor = redactor

    def _clean(self, span: ReadableSpan) -> ReadableSpan:
        return clean_span(self.redactor, span)

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
