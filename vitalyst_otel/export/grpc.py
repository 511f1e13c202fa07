"""OTLP over gRPC: the SDK's gRPC exporters (the ``[grpc]`` extra; the gRPC stack alone costs about
20 MiB of RSS, which is why it is not the default), wrapped so that they report to the same
:class:`ExportStatus` as ours and their per-batch warnings give way to our one line per outage.
"""

from __future__ import annotations

import logging

from opentelemetry.sdk.trace.export import SpanExportResult

from vitalyst_otel.config import OtlpSettings
from vitalyst_otel.export.status import ExportStatus


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


def grpc_exporter(signal: str, config: OtlpSettings, temporality: str, status: ExportStatus):
    """The SDK's gRPC exporter of ``signal``; ImportError without the [grpc] extra."""
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

        inner = OTLPMetricExporter(preferred_temporality=TEMPORALITY[temporality], **kwargs)
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
