"""The one OTLP log pipeline: one queue and one exporter per configured name, fed by the stdlib
bridge (:class:`~vitalyst_otel.logs.bridge.OtlpLogHandler`) and by the SDK's logger provider
(code that uses the OpenTelemetry logs API directly)."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits, LogRecordProcessor, ReadableLogRecord
from opentelemetry.sdk.resources import Resource

from vitalyst_otel.config import Settings
from vitalyst_otel.export.batch import BatchQueue
from vitalyst_otel.export.otlp import OtlpLogExporter
from vitalyst_otel.export.sizes import log_record_size
from vitalyst_otel.logs.bridge import OtlpLogHandler
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.redaction.records import RedactingLogProcessor


class QueueLogRecordProcessor(LogRecordProcessor):
    """Log records of the OpenTelemetry logs API into the bridge's queue."""

    def __init__(self, queue: BatchQueue):
        self.queue = queue

    def on_emit(self, log_record) -> None:
        resource = log_record.resource if log_record.resource is not None else Resource.get_empty()
        self.queue.put(ReadableLogRecord(log_record=log_record.log_record, resource=resource,
                                         instrumentation_scope=log_record.instrumentation_scope,
                                         limits=log_record.limits))

    def shutdown(self) -> None:
        """The queue is shut down by the handle, after the bridge is detached."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.queue.force_flush(timeout_millis / 1000)


def only_our_encoder(exporters: list) -> bool:
    """Every exporter is our OTLP/HTTP one, which reads records only to encode them: the bridge
    may hand it records already encoded. Any other (console, gRPC, the test capture, a user's)
    reads the records' fields."""
    return bool(exporters) and all(type(exporter) is OtlpLogExporter for exporter in exporters)


@dataclass
class LogPipeline:
    provider: LoggerProvider
    queue: BatchQueue
    handler: OtlpLogHandler


def build_log_pipeline(settings: Settings, resource: Resource, redactor: Redactor, exporters: list,
                       synchronous: bool = False) -> LogPipeline:
    """``exporters`` get every record; ``synchronous`` exports on the caller's thread (the test
    capture)."""
    on_full = None
    statuses = [getattr(exporter, "status", None) for exporter in exporters]
    if any(statuses):
        def on_full(items: list) -> None:
            for status in filter(None, statuses):
                status.dropped(len(items))

    queue = BatchQueue(exporters, "logs", max_queue=settings.blrp_max_queue_size,
                       max_batch=settings.blrp_max_export_batch_size, delay_s=settings.blrp_schedule_delay / 1000,
                       synchronous=synchronous, on_full=on_full, max_bytes=settings.export_queue_max_bytes,
                       size_of=log_record_size)
    length = settings.logrecord_attribute_value_length_limit
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False, log_record_limits=LogRecordLimits(
        max_attributes=settings.logrecord_attribute_count_limit,
        max_attribute_length=LogRecordLimits.UNSET if length is None else length))
    provider.add_log_record_processor(RedactingLogProcessor(redactor))
    provider.add_log_record_processor(QueueLogRecordProcessor(queue))
    handler = OtlpLogHandler(queue, resource, redactor, max_attributes=settings.logrecord_attribute_count_limit,
                             max_length=min(length or settings.record_max_length, settings.record_max_length),
                             encode=only_our_encoder(exporters))
    return LogPipeline(provider, queue, handler)
