"""OTLP/HTTP exporters for the three signals: encode, send, report to :class:`ExportStatus`.

They never raise into the SDK's processors and never log per batch: the status object logs one
line when an outage starts and one when it ends.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
)
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from vitalyst_otel.config import OtlpSettings
from vitalyst_otel.export import protobuf
from vitalyst_otel.export.gil_slices import yielding
from vitalyst_otel.export.http import OtlpHttpSender
from vitalyst_otel.export.protobuf.fields import take_repairs
from vitalyst_otel.export.status import ExportStatus

_log = logging.getLogger("vitalyst_otel.export")


class _Exporting:
    """What the three exporters share: a sender, a status and a shutdown deadline."""

    signal = ""

    def __init__(self, config: OtlpSettings, status: ExportStatus | None = None):
        self.sender = OtlpHttpSender(config.endpoint, config.headers, config.timeout_s,
                                     config.compression, config.certificate)
        self.status = status or ExportStatus(self.signal, config.endpoint)
        self._deadline: float | None = None
        self._shutdown = False
        self.muted_pid: int | None = None  # a forking master's pid: its forks export, it does not

    def _send(self, encode, batch, count: int, deadline: float | None = None) -> bool:
        if self._shutdown:
            return False
        if self.muted_pid is not None and self.muted_pid == os.getpid():
            return True
        take_repairs()
        try:
            body = encode(yielding(batch) if isinstance(batch, Sequence) else batch)
        except Exception:  # noqa: BLE001 - one bad item: find it, send the others
            body = self._encode_each(encode, batch)
            if body is None:
                return True  # nothing left to send: not a failure of the collector's
        repaired = take_repairs()
        if repaired:
            self.status.repaired(repaired)
        # Retries (bounded by the export timeout) carry a batch across a short collector restart;
        # once shutdown has begun there is no time for them.
        retry = self._deadline is None
        if self._deadline is not None:
            deadline = self._deadline if deadline is None else min(deadline, self._deadline)
        result = self.sender.send(body, deadline, retry=retry, on_retry=self.status.attempt_failed)
        if result.ok:
            self.status.succeeded()
            return True
        self.status.failed(result.reason, count)
        return False

    def _encode_each(self, encode, batch) -> bytes | None:
        """Encode ``batch`` without the items that cannot be encoded (each dropped alone and
        counted); ``None`` if none is left. Only metrics data is not a list of items: it is
        dropped whole (and counted) if it cannot be encoded."""
        if not isinstance(batch, Sequence):
            self.status.invalid(1, "metrics data that cannot be encoded")
            _log.debug("could not encode %s", self.signal, exc_info=True)
            return None
        good = []
        for item in batch:
            try:
                encode([item])
                good.append(item)
            except Exception as exc:  # noqa: BLE001
                self.status.invalid(1, f"{type(exc).__name__}: {exc}"[:200])
        if not good:
            return None
        take_repairs()  # the repairs of the good items are counted by the encoding below
        return encode(good)

    def begin_shutdown(self, deadline: float) -> None:
        """From now on, no export may run past ``deadline`` (monotonic), and none waits to retry."""
        self._deadline = deadline
        self.sender.hurry()

    def _close(self) -> None:
        self._shutdown = True
        self.sender.close()


class OtlpSpanExporter(_Exporting, SpanExporter):
    signal = "traces"

    def export(self, spans: Sequence) -> SpanExportResult:
        ok = self._send(protobuf.encode_spans, spans, len(spans))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class OtlpLogExporter(_Exporting, LogRecordExporter):
    signal = "logs"

    def export(self, batch: Sequence) -> LogRecordExportResult:
        ok = self._send(protobuf.encode_logs, batch, len(batch))
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        self._close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_DELTA = AggregationTemporality.DELTA
_CUMULATIVE = AggregationTemporality.CUMULATIVE
TEMPORALITY = {
    "cumulative": {},
    "delta": {Counter: _DELTA, ObservableCounter: _DELTA, Histogram: _DELTA,
              UpDownCounter: _CUMULATIVE, ObservableUpDownCounter: _CUMULATIVE,
              ObservableGauge: _CUMULATIVE},
    "lowmemory": {Counter: _DELTA, Histogram: _DELTA, ObservableCounter: _CUMULATIVE,
                  UpDownCounter: _CUMULATIVE, ObservableUpDownCounter: _CUMULATIVE,
                  ObservableGauge: _CUMULATIVE},
}


class OtlpMetricExporter(_Exporting, MetricExporter):
    signal = "metrics"

    def __init__(self, config: OtlpSettings, temporality: str = "cumulative",
                 histogram_aggregation: str = "explicit_bucket_histogram",
                 status: ExportStatus | None = None):
        _Exporting.__init__(self, config, status)
        aggregation = (ExponentialBucketHistogramAggregation()
                       if histogram_aggregation == "base2_exponential_bucket_histogram"
                       else ExplicitBucketHistogramAggregation())
        MetricExporter.__init__(self, preferred_temporality=TEMPORALITY[temporality],
                                preferred_aggregation={Histogram: aggregation})

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        points = sum(len(m.data.data_points) for rm in metrics_data.resource_metrics
                     for sm in rm.scope_metrics for m in sm.metrics)
        if points == 0:
            return MetricExportResult.SUCCESS
        ok = self._send(protobuf.encode_metrics, metrics_data, points,
                        deadline=time.monotonic() + timeout_millis / 1000.0)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        self._close()
