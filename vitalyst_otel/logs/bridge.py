"""The OTLP log bridge: a logging.Handler that turns stdlib records into OTLP log records.

The handler does the least it can on the caller's thread: it reads the message, the trace
context and the extra fields and queues them. When our OTLP encoder is the queue's only reader
(``encode``: the OTLP/HTTP exporter alone), it queues the record already encoded (an
:class:`~vitalyst_otel.export.protobuf.logs.EncodedRecord`, its exact byte size counted against
the queue's bound) and the export worker (:class:`vitalyst_otel.export.batch.BatchQueue`) only
groups and concatenates; otherwise a small :class:`BridgeRecord` that any exporter reads. (The SDK's path, Logger.emit with its record copies and
bounded attribute maps, costs about three times a plain log line; this one is measured by
``make bench``.)

There is one per process: :mod:`vitalyst_otel.logs.setup` tags it and replaces, never adds, on a
second call or after a ``dictConfig``.
"""

from __future__ import annotations

import logging
import time

import orjson
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from vitalyst_otel.export.protobuf.fields import take_repairs
from vitalyst_otel.export.protobuf.logs import EncodedRecord, context_fields, encode_line, severity_fields
from vitalyst_otel.export.sizes import ENCODED_ITEM_OVERHEAD, truncate
from vitalyst_otel.logs.message import ERROR_FIELD as FORMAT_ERROR
from vitalyst_otel.logs.prepared import prepared
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.resources import for_this_process
from vitalyst_otel.setup.lifecycle import lifecycle

_SEVERITY = {
    logging.DEBUG: (SeverityNumber.DEBUG, "DEBUG"),
    logging.INFO: (SeverityNumber.INFO, "INFO"),
    logging.WARNING: (SeverityNumber.WARN, "WARN"),
    logging.ERROR: (SeverityNumber.ERROR, "ERROR"),
    logging.CRITICAL: (SeverityNumber.FATAL, "FATAL"),
}
# Our own export diagnostics must not feed back into the pipeline they report on.
_OWN_LOGGERS = ("vitalyst_otel.export", "opentelemetry.")
_SCOPE_CACHE_LIMIT = 1024
_NO_ATTRIBUTES: dict = {}


def severity(levelno: int) -> tuple[SeverityNumber, str]:
    found = _SEVERITY.get(levelno)
    if found is not None:
        return found
    for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= level:
            return _SEVERITY[level][0], logging.getLevelName(levelno)
    return SeverityNumber.DEBUG, logging.getLevelName(levelno)


class BridgeRecord:
    """An OTLP log record as the encoder and the SDK's exporters read it (``record.log_record``
    is the record itself)."""

    __slots__ = ("timestamp", "observed_timestamp", "severity_number", "severity_text", "body",
                 "attributes", "trace_id", "span_id", "trace_flags", "event_name", "resource",
                 "instrumentation_scope")

    def __init__(self, timestamp, observed_timestamp, severity_number, severity_text, body, attributes,
                 trace_id, span_id, trace_flags, resource, instrumentation_scope, event_name=None):
        self.timestamp = timestamp
        self.observed_timestamp = observed_timestamp
        self.severity_number = severity_number
        self.severity_text = severity_text
        self.body = body
        self.attributes = attributes
        self.trace_id = trace_id
        self.span_id = span_id
        self.trace_flags = trace_flags
        self.event_name = event_name
        self.resource = resource
        self.instrumentation_scope = instrumentation_scope

    @property
    def log_record(self) -> BridgeRecord:
        return self

    @property
    def dropped_attributes(self) -> int:
        return 0

    def to_json(self, indent: int | None = None) -> str:
        """For the console exporter: one compact JSON object."""
        return orjson.dumps({
            "body": self.body, "severity_text": self.severity_text, "timestamp": self.timestamp,
            "trace_id": f"{self.trace_id:032x}" if self.trace_id else None,
            "span_id": f"{self.span_id:016x}" if self.span_id else None,
            "attributes": self.attributes, "scope": self.instrumentation_scope.name,
        }, default=str).decode()


class OtlpLogHandler(logging.Handler):
    def __init__(self, queue, resource, redactor: Redactor | None = None, level: int = logging.NOTSET,
                 max_attributes: int = 128, max_length: int | None = None, encode: bool = False) -> None:
        super().__init__(level)
        self.encode = encode
        self._severity_fields: dict[int, bytes] = {}
        self._last_context: tuple = (None, b"")
        self.queue = queue
        self.resource = resource if resource is not None else Resource.get_empty()
        self.redactor = redactor
        self.max_attributes = max_attributes
        self.max_length = max_length
        self._scopes: dict[str, InstrumentationScope] = {}
        lifecycle.on_fork(self._renew_resource)

    def _renew_resource(self) -> None:
        """After fork() the process has a new service.instance.id."""
        self.resource = for_this_process(self.resource)

    def _scope(self, name: str) -> InstrumentationScope:
        scope = self._scopes.get(name)
        if scope is None:
            scope = InstrumentationScope(name)
            if len(self._scopes) < _SCOPE_CACHE_LIMIT:
                self._scopes[name] = scope
        return scope

    def handle(self, record: logging.LogRecord):
        """Without the handler lock: ``emit`` only reads the record and puts one item on the
        queue, which has its own."""
        if self.filters:
            passed = self.filter(record)
            if not passed:
                return passed
            if isinstance(passed, logging.LogRecord):  # Python 3.12+: a filter may return a record
                record = passed
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name
        if name.startswith(_OWN_LOGGERS):
            return
        try:
            shared = prepared(record, self.redactor)  # the console line's, redacted once
            self.enqueue(name, record.levelno, record.created, shared, record)
        except Exception:  # noqa: BLE001 - telemetry must never break a log call
            self.handleError(record)

    def enqueue(self, name: str, levelno: int, created: float, shared, record: logging.LogRecord | None = None
                ) -> None:
        """The OTLP record of a log line onto the queue: encoded here when ``encode`` (only our
        encoder reads the queue), else as a :class:`BridgeRecord` for the exporters to read."""
        if not self.encode:
            self.queue.put(self.record_of(name, levelno, created, shared, record))
            return
        if shared.extra or shared.exception or shared.format_error is not None:
            attributes = self._attributes(shared, record)
        else:
            attributes = _NO_ATTRIBUTES  # read only: the usual line has none
        context = shared.context
        message = self._cut(shared.message)
        timestamp, observed = int(created * 1e9), time.time_ns()
        levels = self._severity_fields
        level_fields = levels.get(levelno)
        if level_fields is None:
            level_fields = severity_fields(*(_SEVERITY.get(levelno) or severity(levelno)))
            if len(levels) < _SCOPE_CACHE_LIMIT:
                levels[levelno] = level_fields
        last = self._last_context  # (context, its fields): one span's records follow each other
        if last[0] is context:
            ids = last[1]
        else:
            ids = context_fields(context.trace_flags, context.trace_id, context.span_id)
            self._last_context = (context, ids)
        try:
            encoded = encode_line(timestamp, level_fields, message, attributes, ids, observed)
            repairs = take_repairs() if attributes else 0
        except Exception:  # noqa: BLE001 - text to repair, a value to drop: the exporter repairs and counts it
            take_repairs()
            number, text = _SEVERITY.get(levelno) or severity(levelno)
            self.queue.put(BridgeRecord(timestamp, observed, number, text, message, dict(attributes),
                                        context.trace_id, context.span_id, context.trace_flags, self.resource,
                                        self._scope(name)))
            return
        scope = self._scopes.get(name) or self._scope(name)
        self.queue.put_measured(EncodedRecord(self.resource, scope, encoded, repairs), len(encoded) + ENCODED_ITEM_OVERHEAD)

    def _cut(self, text: str) -> str:
        max_length = self.max_length
        if max_length is not None and len(text) > max_length:
            return truncate(text, max_length)
        return text

    def _attributes(self, shared, record: logging.LogRecord | None) -> dict:
        max_length = self.max_length
        attributes = {}
        for key, value in shared.extra.items():
            if type(value) is str:
                if max_length is not None and len(value) > max_length:
                    value = truncate(value, max_length)
            elif not isinstance(value, (str, bool, int, float)):
                value = str(value)
                if max_length is not None and len(value) > max_length:
                    value = truncate(value, max_length)
            attributes[key] = value
        if shared.format_error is not None:
            attributes[FORMAT_ERROR] = shared.format_error
        if shared.exception:
            attributes.update(shared.exception)
            if record is not None:
                attributes["code.file.path"] = record.pathname
                attributes["code.function.name"] = record.funcName
                attributes["code.line.number"] = record.lineno
        if len(attributes) > self.max_attributes:
            attributes = dict(list(attributes.items())[: self.max_attributes])
        return attributes

    def record_of(self, name: str, levelno: int, created: float, shared, record: logging.LogRecord | None = None
                  ) -> BridgeRecord:
        """The OTLP record of a log line from its shared fields; ``record`` (the stdlib's, if
        there is one) gives an exception's code location."""
        attributes = self._attributes(shared, record)
        context = shared.context
        number, text = _SEVERITY.get(levelno) or severity(levelno)
        return BridgeRecord(int(created * 1e9), time.time_ns(), number, text, self._cut(shared.message), attributes,
                            context.trace_id, context.span_id, context.trace_flags, self.resource, self._scope(name))

    def flush(self) -> None:
        """Nothing to do: the export worker flushes on its own schedule and at shutdown."""
