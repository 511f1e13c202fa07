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

import logging
import logging.handlers
import os
import sys
import threading
import time
from typing import Any

import orjson
from opentelemetry import metrics, trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from vitalyst_otel.cardinality import DeclaredValues
from vitalyst_otel.export.batch import BatchQueue
from vitalyst_otel.http.request_context import current_request
from vitalyst_otel.logs.bridge import BridgeRecord
from vitalyst_otel.logs.json_format import _Clock, one_line
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.resources import for_this_process
from vitalyst_otel.setup.lifecycle import lifecycle

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
                 fallback_path: str = "vitalyst-audit-fallback.jsonl", max_queue: int = 2048, meter_provider=None,
                 synchronous: bool = False):
        self.service_name = service_name
        self.redactor = redactor
        self.resource = resource if resource is not None else Resource.get_empty()
        meter = metrics.get_meter("vitalyst_otel", meter_provider=meter_provider)
        self.counter = meter.create_counter(
            "vitalyst.audit.records", unit="{record}",
            description="Audit records by destination: export, fallback (file), log_only, lost.")
        self.logger = logging.getLogger(LOGGER)
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self._clock = _Clock()
        self.scope = InstrumentationScope(LOGGER)
        self.fallback = FallbackFile(fallback_path)
        self.queue = None
        if exporters:
            self.queue = BatchQueue(exporters, "audit", max_queue=max_queue, max_batch=256, delay_s=1.0,
                                    on_full=lambda batch: self._to_fallback(batch, "export queue full"),
                                    on_failure=self._to_fallback,
                                    on_success=lambda batch: self._count("export", len(batch)),
                                    synchronous=synchronous)
        lifecycle.on_fork(self._renew_resource)
        self._install_stdout()

    def _renew_resource(self) -> None:
        """After fork() the process has a new service.instance.id."""
        self.resource = for_this_process(self.resource)

    def _count(self, destination: str, n: int) -> None:
        if n:
            self.counter.add(n, {"vitalyst.audit.destination": destination})

    def _to_fallback(self, records: list, reason: str) -> None:
        lines = [orjson.dumps({**_schema_of(r), "fallback_reason": reason}, default=str) for r in records]
        self._count("fallback" if self.fallback.write(lines) else "lost", len(records))

    def _install_stdout(self) -> None:
        for handler in list(self.logger.handlers):
            if getattr(handler, "_vitalyst_audit", False):
                self.logger.removeHandler(handler)
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._vitalyst_audit = True
        self.logger.addHandler(handler)

    def record(self, actor: str, action: str, resource: str, outcome: str, details: dict[str, Any]) -> dict[str, Any]:
        now = time.time_ns()
        context = trace.get_current_span().get_span_context()
        facts = current_request.get()
        trace_id = f"{context.trace_id:032x}" if context.is_valid else None
        span_id = f"{context.span_id:016x}" if context.is_valid else None
        request_id = (facts.request_id if facts is not None else None) or span_id
        clean_details = self.redactor.mapping(details)
        entry = {
            "timestamp": self._clock.format(now / 1e9), "log.type": "audit",
            "actor": self.redactor.text(str(actor)), "action": str(action),
            "resource": self.redactor.text(str(resource)), "outcome": outcomes(outcome),
            "trace_id": trace_id, "span_id": span_id, "request_id": request_id,
            "service.name": self.service_name, "details": clean_details,
        }
        self.logger.info(one_line(orjson.dumps(entry, default=str)).decode())
        if self.queue is None:
            self._count("log_only", 1)
            return entry
        attributes: dict[str, Any] = {
            "log.type": "audit", "actor": entry["actor"], "action": entry["action"],
            "resource": entry["resource"], "outcome": entry["outcome"],
        }
        if request_id:
            attributes["request_id"] = request_id
        for key, value in clean_details.items():
            attributes[f"details.{key}"] = (value if isinstance(value, (str, bool, int, float))
                                            else orjson.dumps(value, default=str).decode())
        self.queue.put(BridgeRecord(
            now, now, SeverityNumber.INFO, "INFO", f"audit {entry['action']} {entry['resource']} {entry['outcome']}",
            attributes, context.trace_id, context.span_id, context.trace_flags, self.resource, self.scope))
        return entry

    def shutdown(self, timeout_s: float = 5.0) -> None:
        if self.queue is not None:
            self.queue.shutdown(timeout_s)


def record(actor: str, action: str, resource: str, outcome: str = "success", **details: Any) -> None:
    """Record one audit event (see the module documentation for the schema and guarantees)."""
    trail = lifecycle.audit
    if trail is None:
        logging.getLogger(LOGGER).warning(
            "audit %s %s %s (vitalyst_otel is not configured: this record only reaches logging)",
            action, resource, outcome, extra={"actor": actor, "details": details})
        return
    trail.record(actor, action, resource, outcome, details)
