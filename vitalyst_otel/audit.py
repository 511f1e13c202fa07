"""The audit trail: who did what to which resource, with what outcome.

::

    audit.record("api-key:ab12", "node.delete", "node/7f3a", "success", reason="cleanup")

Every call produces one record with a fixed schema:

``timestamp`` RFC 3339 UTC; ``log.type`` always ``audit``; ``actor``; ``action``; ``resource``;
``outcome`` (success, failure or denied); ``trace_id``/``span_id`` of the current span;
``request_id`` (the request's X-Request-ID, else its server span id); ``service.name``;
``details`` (the keyword arguments, credentials masked).

It is written as one JSON line on stdout (logger ``vitalyst.audit``, which ignores level
settings) and exported as an OTLP log record with attribute ``log.type=audit``, which the
collector routes to the audit index. Audit records are never sampled and never dropped
silently: a record the export queue cannot take, or that the collector does not acknowledge,
is appended to a local fallback file (VITALYST_AUDIT_FALLBACK_FILE, rotated), and the counter
``vitalyst.audit.records`` says where every record went (export, fallback, or log_only when no
OTLP log exporter is configured).
"""

from __future__ import annotations

import copy
import logging
import logging.handlers
import os
import sys
import threading
import time
from collections import deque
from typing import Any

import orjson
from opentelemetry import metrics, trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LogRecordProcessor

from vitalyst_otel.cardinality import DeclaredValues
from vitalyst_otel.logs.json_format import _Clock
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.request_context import current_request

OUTCOMES = ("success", "failure", "denied")
outcomes = DeclaredValues("audit outcome", OUTCOMES)
LOGGER = "vitalyst.audit"
_log = logging.getLogger("vitalyst_otel")


class FallbackFile:
    """Append-only JSON lines, rotated by size; the place of last resort for audit records."""

    def __init__(self, path: str, max_bytes: int = 10 * 1024 * 1024, backup_count: int = 10):
        self.path = path
        self._handler: logging.Handler | None = None
        self._max_bytes, self._backup_count = max_bytes, backup_count
        self._lock = threading.Lock()
        self.failed = False

    def write(self, lines: list[bytes]) -> bool:
        with self._lock:
            try:
                if self._handler is None:
                    directory = os.path.dirname(os.path.abspath(self.path))
                    os.makedirs(directory, exist_ok=True)
                    self._handler = logging.handlers.RotatingFileHandler(
                        self.path, maxBytes=self._max_bytes, backupCount=self._backup_count, encoding="utf-8")
                    self._handler.setFormatter(logging.Formatter("%(message)s"))
                for line in lines:
                    self._handler.emit(logging.makeLogRecord({"msg": line.decode()}))
                self._handler.flush()
                return True
            except OSError as exc:
                if not self.failed:
                    self.failed = True
                    _log.error("Audit fallback file %s is not writable (%s): audit records that cannot be "
                               "exported are lost and counted as destination=lost.", self.path, exc)
                return False


class AuditSink(LogRecordProcessor):
    """Its own bounded queue and worker: whatever cannot be exported goes to the fallback file."""

    def __init__(self, exporters: list, fallback: FallbackFile, counter, max_queue: int = 2048,
                 batch: int = 256, delay_s: float = 1.0):
        self.exporters = exporters
        self.fallback = fallback
        self.counter = counter
        self.max_queue = max_queue
        self.batch = batch
        self.delay_s = delay_s
        self._queue: deque = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="vitalyst-audit", daemon=True)
        self._thread.start()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._queue.clear()
        self._thread = threading.Thread(target=self._work, name="vitalyst-audit", daemon=True)
        self._thread.start()

    def on_emit(self, log_record) -> None:
        from opentelemetry.context import Context
        from opentelemetry.sdk._logs import ReadableLogRecord

        api_record = copy.copy(log_record.log_record)
        api_record.context = Context()
        log_record = ReadableLogRecord(log_record=api_record, resource=log_record.resource,
                                       instrumentation_scope=log_record.instrumentation_scope)
        with self._lock:
            if len(self._queue) < self.max_queue:
                self._queue.append(log_record)
                if len(self._queue) >= self.batch:
                    self._wake.set()
                return
        self._to_fallback([log_record], "export queue full")

    emit = on_emit

    def _count(self, destination: str, n: int) -> None:
        if n:
            self.counter.add(n, {"vitalyst.audit.destination": destination})

    def _to_fallback(self, records: list, reason: str) -> None:
        lines = [orjson.dumps({**_schema_of(r), "fallback_reason": reason}, default=str) for r in records]
        self._count("fallback" if self.fallback.write(lines) else "lost", len(records))

    def _drain(self, deadline: float | None = None) -> None:
        while True:
            with self._lock:
                batch = [self._queue.popleft() for _ in range(min(self.batch, len(self._queue)))]
            if not batch:
                return
            if deadline is not None and time.monotonic() > deadline:
                self._to_fallback(batch, "shutdown")
                continue
            failed = ""
            for exporter in self.exporters:
                try:
                    result = exporter.export(batch)
                    if getattr(result, "name", "SUCCESS") != "SUCCESS":
                        failed = "export failed"
                except Exception as exc:  # noqa: BLE001
                    failed = f"export error: {type(exc).__name__}"
            if failed:
                self._to_fallback(batch, failed)
            else:
                self._count("export", len(batch))

    def _work(self) -> None:
        while not self._stopping:
            self._wake.wait(self.delay_s)
            self._wake.clear()
            self._drain()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._drain(time.monotonic() + timeout_millis / 1000)
        return True

    def shutdown(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(2.0)
        self._drain(time.monotonic() + 2.0)


def _schema_of(record) -> dict[str, Any]:
    """The fixed audit schema, rebuilt from an OTel log record (for the fallback file)."""
    log_record = getattr(record, "log_record", record)
    attrs = dict(log_record.attributes or {})
    details = {k[len("details."):]: v for k, v in attrs.items() if k.startswith("details.")}
    return {
        "timestamp": _Clock().format(log_record.timestamp / 1e9) if log_record.timestamp else None,
        "log.type": "audit",
        "actor": attrs.get("actor"), "action": attrs.get("action"), "resource": attrs.get("resource"),
        "outcome": attrs.get("outcome"),
        "trace_id": f"{log_record.trace_id:032x}" if log_record.trace_id else None,
        "span_id": f"{log_record.span_id:016x}" if log_record.span_id else None,
        "request_id": attrs.get("request_id"),
        "details": details,
    }


class AuditTrail:
    def __init__(self, service_name: str, redactor: Redactor, resource=None, exporters: list | None = None,
                 fallback_path: str = "vitalyst-audit-fallback.jsonl", max_queue: int = 2048, meter_provider=None):
        self.service_name = service_name
        self.redactor = redactor
        meter = metrics.get_meter("vitalyst_otel", meter_provider=meter_provider)
        self.counter = meter.create_counter(
            "vitalyst.audit.records", unit="{record}",
            description="Audit records by destination: export, fallback (file), log_only, lost.")
        self.logger = logging.getLogger(LOGGER)
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self._clock = _Clock()
        self.sink = None
        self.otel_logger = None
        if exporters:
            from opentelemetry.sdk._logs import LoggerProvider

            self.sink = AuditSink(exporters, FallbackFile(fallback_path), self.counter, max_queue=max_queue)
            provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
            provider.add_log_record_processor(self.sink)
            self.provider = provider
            self.otel_logger = provider.get_logger(LOGGER)
        self._install_stdout()

    def _install_stdout(self) -> None:
        for handler in list(self.logger.handlers):
            if getattr(handler, "_vitalyst_audit", False):
                self.logger.removeHandler(handler)
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._vitalyst_audit = True
        self.logger.addHandler(handler)

    def record(self, actor: str, action: str, resource: str, outcome: str, details: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        context = trace.get_current_span().get_span_context()
        facts = current_request.get()
        trace_id = f"{context.trace_id:032x}" if context.is_valid else None
        span_id = f"{context.span_id:016x}" if context.is_valid else None
        request_id = (facts.request_id if facts is not None else None) or span_id
        clean_details = self.redactor.mapping(details)
        entry = {
            "timestamp": self._clock.format(now), "log.type": "audit",
            "actor": self.redactor.text(str(actor)), "action": str(action),
            "resource": self.redactor.text(str(resource)), "outcome": outcomes(outcome),
            "trace_id": trace_id, "span_id": span_id, "request_id": request_id,
            "service.name": self.service_name, "details": clean_details,
        }
        self.logger.info(orjson.dumps(entry, default=str).decode())
        if self.otel_logger is None:
            self.counter.add(1, {"vitalyst.audit.destination": "log_only"})
            return entry
        attributes: dict[str, Any] = {
            "log.type": "audit", "actor": entry["actor"], "action": entry["action"],
            "resource": entry["resource"], "outcome": entry["outcome"],
        }
        if request_id:
            attributes["request_id"] = request_id
        for key, value in clean_details.items():
            attributes[f"details.{key}"] = value if isinstance(value, (str, bool, int, float)) else orjson.dumps(value, default=str).decode()
        self.otel_logger.emit(
            timestamp=int(now * 1e9), observed_timestamp=time.time_ns(), severity_number=SeverityNumber.INFO,
            severity_text="INFO", body=f"audit {entry['action']} {entry['resource']} {entry['outcome']}",
            attributes=attributes)
        return entry

    def shutdown(self) -> None:
        if self.sink is not None:
            self.provider.shutdown()


def record(actor: str, action: str, resource: str, outcome: str = "success", **details: Any) -> None:
    """Record one audit event (see the module documentation for the schema and guarantees)."""
    from vitalyst_otel.configurator import current

    handle = current()
    trail = getattr(handle, "audit", None)
    if trail is None:
        logging.getLogger(LOGGER).warning(
            "audit %s %s %s (vitalyst_otel is not configured: this record only reaches logging)",
            action, resource, outcome, extra={"actor": actor, "details": details})
        return
    trail.record(actor, action, resource, outcome, details)
