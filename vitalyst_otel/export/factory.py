"""Building the exporters of one configuration, and remembering what was built.

:class:`ExporterFactory` makes the OTLP exporter of a signal (ours over http/protobuf, the SDK's
over gRPC) and the console ones, keeps each signal's :class:`ExportStatus` (for the health check
and the handle) and every exporter that must be told when shutdown begins.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace

from vitalyst_otel.config import OtlpSettings, Settings
from vitalyst_otel.export.otlp import OtlpLogExporter, OtlpMetricExporter, OtlpSpanExporter
from vitalyst_otel.export.status import ExportStatus

_log = logging.getLogger("vitalyst_otel")


def mute(exporters, pid: int) -> None:
    """Our OTLP exporters among ``exporters`` (through the redaction and gRPC wrappers) send
    nothing from process ``pid`` (a forking master); its forks send as themselves."""
    for exporter in exporters:
        for _ in range(4):
            if hasattr(exporter, "muted_pid"):
                exporter.muted_pid = pid
                break
            exporter = getattr(exporter, "inner", None) or getattr(exporter, "_inner", None)
            if exporter is None:
                break


def within_export_timeout(settings: Settings, signal: str, config: OtlpSettings) -> OtlpSettings:
    """``config`` with its timeout cut to the batch processor's export timeout
    (``OTEL_BSP_EXPORT_TIMEOUT`` for spans, ``OTEL_BLRP_EXPORT_TIMEOUT`` for log records, 0 for no
    cut). The OTLP timeout already bounds one whole export, retries included, so the shorter of the
    two is the bound. Metric exports get theirs from the reader (``OTEL_METRIC_EXPORT_TIMEOUT``)."""
    limit_ms = {"traces": settings.bsp_export_timeout, "logs": settings.blrp_export_timeout}.get(signal, 0)
    if limit_ms and limit_ms / 1000 < config.timeout_s:
        return replace(config, timeout_s=limit_ms / 1000)
    return config


class ExporterFactory:
    def __init__(self, settings: Settings, muted_pid: int | None = None):
        self.settings = settings
        self.statuses: dict[str, ExportStatus] = {}
        self.built: list = []
        # Muted from the start: a reader or batch thread may export before set-up has finished.
        self.muted_pid = muted_pid

    def otlp(self, signal: str, status: ExportStatus | None = None):
        """The OTLP exporter of ``signal``. It reports to the signal's status unless given its
        own (the audit trail's failures are not the logs' failures)."""
        settings = self.settings
        config = within_export_timeout(settings, signal, settings.otlp[signal])
        if status is None:
            status = self.statuses.setdefault(signal, ExportStatus(signal, config.endpoint))
        exporter = None
        if config.protocol == "grpc":
            from vitalyst_otel.export.grpc import grpc_exporter

            try:
                exporter = grpc_exporter(signal, config, settings.exporter_otlp_metrics_temporality_preference,
                                         status)
            except ImportError:
                config = settings.otlp_over_http(signal)
                _log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC exporter: pip install "
                             "'vitalyst-otel[grpc]'. %s are sent over http/protobuf to %s instead.",
                             signal, config.endpoint)
                status.endpoint = config.endpoint
        if exporter is None and signal == "traces":
            exporter = OtlpSpanExporter(config, status)
        elif exporter is None and signal == "metrics":
            exporter = OtlpMetricExporter(config, settings.exporter_otlp_metrics_temporality_preference,
                                          settings.exporter_otlp_metrics_default_histogram_aggregation, status)
        elif exporter is None:
            exporter = OtlpLogExporter(config, status)
        if self.muted_pid is not None:
            mute([exporter], self.muted_pid)
        self.built.append(exporter)
        return exporter

    def console(self, signal: str):
        """The console exporter of ``signal``, on stderr (stdout carries the JSON logs)."""
        if signal == "traces":
            from vitalyst_otel.export.console import CompactConsoleSpanExporter

            return CompactConsoleSpanExporter()
        if signal == "metrics":
            from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

            return ConsoleMetricExporter(out=sys.stderr)
        from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

        return ConsoleLogRecordExporter(out=sys.stderr)

    def named(self, signal: str, name: str):
        """The exporter an ``OTEL_*_EXPORTER`` name stands for (otlp or console)."""
        return self.console(signal) if name == "console" else self.otlp(signal)
