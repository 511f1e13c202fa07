"""The audit trail: who did what to which resource, with what outcome.

::

    audit.record("api-key:ab12", "node.delete", "node/7f3a", "success", reason="cleanup")

Every call produces one record with a fixed schema:

``timestamp`` RFC 3339 UTC; ``log.type`` always ``audit``; ``actor``; ``action``; ``resource``;
``outcome`` (success, failure or denied); ``trace_id``/``span_id`` of the current span;
``request_id`` (the request's X-Request-ID, else its server span id); ``service.name``;
``details`` (the keyword arguments, credentials masked); ``repaired`` (only when a value could
not be encoded as given: the fields whose lone surrogates were escaped or whose ``__str__``
raised, see :mod:`vitalyst_otel.safe_values`; the record is kept).

It is written as one JSON line on stdout (logger ``vitalyst.audit``, which ignores level
settings) and exported as an OTLP log record with attribute ``log.type=audit``, which the
collector routes to the audit index. Audit records are never sampled and never dropped
silently: a record the export queue cannot take, or that the collector does not acknowledge,
is appended to a local fallback file (VITALYST_AUDIT_FALLBACK_FILE, segmented and bounded), from
where it is sent again, in order and once, when the endpoint is back
(:mod:`vitalyst_otel.audit_fallback`); the counter ``vitalyst.audit.records`` says where every
record went (export, fallback, replayed, lost, or log_only when no OTLP log exporter is
configured).

When our OTLP/HTTP exporter alone reads the audit queue, the record is encoded on the caller's
thread (:class:`EncodedAuditRecord`, its exact bytes counted against the queue's bound) and keeps
the entry's JSON line, from which a refused record's fallback line is written; with any other
exporter the queue holds :class:`AuditRecord` items, which the worker encodes.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry import metrics
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from vitalyst_otel.audit_fallback import FallbackFile, ReplayFirst
from vitalyst_otel.cardinality import DeclaredValues
from vitalyst_otel.config.variables import BY_NAME
from vitalyst_otel.export.batch import BatchQueue
from vitalyst_otel.export.protobuf.fields import take_repairs
from vitalyst_otel.export.protobuf.logs import EncodedRecord, context_fields, encode_line, severity_fields
from vitalyst_otel.export.sizes import ENCODED_ITEM_OVERHEAD, ITEM_OVERHEAD, truncate
from vitalyst_otel.http.request_context import current_request
from vitalyst_otel.logs.bridge import BridgeRecord
from vitalyst_otel.logs.json_format import _Clock, one_line
from vitalyst_otel.logs.line_output import passes_all, write_through
from vitalyst_otel.logs.pipeline import only_our_encoder
from vitalyst_otel.logs.prepared import current_span_context
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.resources import for_this_process
from vitalyst_otel.safe_values import INT64_MAX, INT64_MIN, has_surrogates, safe_str, sanitize
from vitalyst_otel.setup.lifecycle import lifecycle

OUTCOMES = ("success", "failure", "denied")
_OUTCOME_SET = frozenset(OUTCOMES)
_INFO_FIELDS = severity_fields(SeverityNumber.INFO, "INFO")
outcomes = DeclaredValues("audit outcome", OUTCOMES)
LOGGER = "vitalyst.audit"
_log = logging.getLogger("vitalyst_otel")


class AuditRecord(BridgeRecord):
    """The OTLP log record of one audit entry, carrying the entry itself: the fallback file
    writes ``entry`` as it is (the same data that fed the stdout line and the attributes).
    ``size`` is what it counts against the queue's byte bound (:func:`record_size`)."""

    __slots__ = ("entry", "size")

    def __init__(self, entry: dict[str, Any], size: int, *args: Any) -> None:
        super().__init__(*args)
        self.entry = entry
        self.size = size


class EncodedAuditRecord(EncodedRecord):
    """An audit entry's OTLP record encoded on the caller's thread (only our encoder reads the
    queue), with what the fallback file writes should it be refused: the entry's JSON ``line``
    (the stdout line, which decodes to the entry), its timestamp and trace flags. ``size``: the
    bytes it holds (the record, the line) plus the item's overhead, exact."""

    __slots__ = ("line", "timestamp", "trace_flags", "size")

    def __init__(self, resource, scope, encoded: bytes, repairs: int, line: bytes, timestamp: int,
                 trace_flags: int) -> None:
        self.resource = resource  # EncodedRecord's fields, set here: one call less per record
        self.instrumentation_scope = scope
        self.encoded = encoded
        self.repairs = repairs
        self.line = line
        self.timestamp = timestamp
        self.trace_flags = trace_flags
        self.size = ENCODED_ITEM_OVERHEAD + len(encoded) + len(line)


def record_size(line: bytes) -> int:
    """The queue's estimate for the record of an entry whose JSON line is ``line``: the line
    holds every text of the entry, the attributes and the body repeat them, so twice its length
    (an upper bound of what :func:`vitalyst_otel.export.sizes.log_record_size` would count),
    known without another pass over the fields."""
    return ITEM_OVERHEAD + 2 * len(line)


def _queued_size(record: AuditRecord) -> int:
    return record.size


def _fallback_line(record: AuditRecord | EncodedAuditRecord, reason: str) -> bytes:
    """The fallback file's line of a record: its entry plus what rebuilding the record needs."""
    entry = record.entry if type(record) is AuditRecord else orjson.loads(record.line)
    return orjson.dumps({**entry, "time_unix_nano": record.timestamp,
                         "trace_flags": int(record.trace_flags or 0), "fallback_reason": reason}, default=str)


def _attributes_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The OTLP attributes of an audit entry (structured detail values as JSON text)."""
    attributes: dict[str, Any] = {"log.type": "audit", "actor": entry["actor"], "action": entry["action"],
                                  "resource": entry["resource"], "outcome": entry["outcome"]}
    request_id = entry.get("request_id")
    if request_id:
        attributes["request_id"] = request_id
    repaired = entry.get("repaired")
    if repaired:
        attributes["repaired"] = ",".join(repaired)
    details = entry.get("details")
    if details:
        for key, value in details.items():
            kind = type(value)
            plain = kind is str or kind is int or kind is bool or kind is float or isinstance(value, (str, bool, int, float))
            attributes[f"details.{key}"] = value if plain else orjson.dumps(value, default=str).decode()
    return attributes


def _body_of(entry: dict[str, Any]) -> str:
    return f"audit {entry['action']} {entry['resource']} {entry['outcome']}"


def _record_of(line: bytes, resource, scope) -> AuditRecord:
    """A fallback line back as the OTLP log record it was (marked ``audit.replayed``)."""
    entry = orjson.loads(line)
    entry.pop("fallback_reason", None)
    timestamp = entry.pop("time_unix_nano", None) or 0
    trace_flags = entry.pop("trace_flags", None) or 0
    attributes = _attributes_of(entry)
    attributes["audit.replayed"] = True
    return AuditRecord(
        entry, record_size(line), timestamp, time.time_ns(), SeverityNumber.INFO, "INFO", _body_of(entry), attributes,
        int(entry["trace_id"], 16) if entry.get("trace_id") else 0,
        int(entry["span_id"], 16) if entry.get("span_id") else 0,
        trace_flags, resource, scope)


def _plain_details(details: dict[str, Any], redactor: Redactor, max_length: int | None) -> dict[str, Any] | None:
    """``details`` redacted and cut in one pass when every value is UTF-8-clean text, a flag, a
    float, None or an int64 (what :func:`~vitalyst_otel.safe_values.sanitize` would keep as it
    is); None for anything else, which takes the general path."""
    out = {}
    value_of = redactor.value
    for key, value in details.items():
        kind = type(value)
        if type(key) is not str or (not key.isascii() and has_surrogates(key)):
            return None
        if kind is str:
            if not value.isascii() and has_surrogates(value):  # ASCII text has no surrogates
                return None
            value = value_of(key, value)
            if max_length is not None:
                value = truncate(value, max_length)
        elif kind is int:
            if not INT64_MIN <= value <= INT64_MAX:
                return None
            value = value_of(key, value)
        elif kind is bool or kind is float or value is None:
            value = value_of(key, value)
        else:
            return None
        out[key] = value
    return out


def _default(name: str) -> Any:
    return BY_NAME[name].default


@dataclass(frozen=True)
class AuditLimits:
    """Bounds of the trail: queue memory, field length, fallback file size; the defaults are the
    variables' (vitalyst_otel.config.variables)."""

    queue_max_bytes: int | None = _default("VITALYST_EXPORT_QUEUE_MAX_BYTES")
    max_length: int | None = _default("VITALYST_RECORD_MAX_LENGTH")
    fallback_max_bytes: int = _default("VITALYST_AUDIT_FALLBACK_MAX_BYTES")
    fallback_backup_count: int = _default("VITALYST_AUDIT_FALLBACK_BACKUP_COUNT")

    @classmethod
    def of(cls, settings) -> AuditLimits:
        return cls(settings.export_queue_max_bytes, settings.record_max_length,
                   settings.audit_fallback_max_bytes, settings.audit_fallback_backup_count)


class AuditTrail:
    def __init__(self, service_name: str, redactor: Redactor, resource=None, exporters: list | None = None,
                 fallback_path: str = _default("VITALYST_AUDIT_FALLBACK_FILE"), max_queue: int = 2048, meter_provider=None,
                 synchronous: bool = False, limits: AuditLimits | None = None):
        self.service_name = service_name
        self.redactor = redactor
        self.resource = resource if resource is not None else Resource.get_empty()
        meter = metrics.get_meter("vitalyst_otel", meter_provider=meter_provider)
        self.counter = meter.create_counter(
            "vitalyst.audit.records", unit="{record}",
            description="Audit records by destination: export, fallback (file), replayed (from the file, "
                        "once the endpoint is back), log_only, lost.")
        self.logger = logging.getLogger(LOGGER)
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self._clock = _Clock()
        self._ids: tuple[int, tuple[str | None, str | None, bytes]] = (0, (None, None, b""))  # see _ids_of
        self.scope = InstrumentationScope(LOGGER)
        self.limits = limits = limits or AuditLimits()
        self.fallback = FallbackFile(fallback_path, limits.fallback_max_bytes, limits.fallback_backup_count)
        self.queue = None
        self.encode = only_our_encoder(exporters or [])  # the records queued already encoded
        if exporters:
            rebuild = lambda line: _record_of(line, self.resource, self.scope)  # noqa: E731
            self.senders = [ReplayFirst(exporter, self.fallback, rebuild,
                                        on_replayed=lambda n: self._count("replayed", n)) for exporter in exporters]
            self.queue = BatchQueue(self.senders, "audit", max_queue=max_queue, max_batch=256, delay_s=1.0,
                                    on_idle=self.senders[0].replay,
                                    on_full=lambda batch: self._to_fallback(batch, "export queue full"),
                                    on_failure=self._to_fallback,
                                    on_success=lambda batch: self._count("export", len(batch)),
                                    synchronous=synchronous, max_bytes=limits.queue_max_bytes,
                                    size_of=_queued_size)
        lifecycle.on_fork(self._renew_resource)
        self._install_stdout()

    def _renew_resource(self) -> None:
        """After fork() the process has a new service.instance.id."""
        self.resource = for_this_process(self.resource)

    def _count(self, destination: str, n: int) -> None:
        if n:
            self.counter.add(n, {"vitalyst.audit.destination": destination})

    def _to_fallback(self, records: list, reason: str) -> None:
        lines = [_fallback_line(r, reason) for r in records]
        lost_before = self.fallback.lost
        self._count("fallback" if self.fallback.write(lines) else "lost", len(records))
        self._count("lost", self.fallback.lost - lost_before)  # the oldest segment went, unsent

    def _install_stdout(self) -> None:
        for handler in list(self.logger.handlers):
            if getattr(handler, "_vitalyst_audit", False):
                self.logger.removeHandler(handler)
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._vitalyst_audit = True
        self.logger.addHandler(handler)
        self._stdout = handler

    def _write(self, line: bytes) -> None:
        """The stdout line: as bytes straight to the stream while our handler is the logger's
        only one (no LogRecord, no text round trip); through the logger otherwise, so handlers
        and filters someone added to ``vitalyst.audit`` see every record."""
        logger, handler = self.logger, self._stdout
        handlers = logger.handlers
        if (len(handlers) == 1 and handlers[0] is handler and not logger.filters and passes_all(handler, logging.INFO)
                and logger.isEnabledFor(logging.INFO)):
            try:
                write_through(handler, line)
                return
            except Exception:  # noqa: BLE001 - the logger's path reports it as logging does
                pass
        logger.info(line[:-1].decode())

    def record(self, actor: Any, action: Any, resource: Any, outcome: Any, details: dict[str, Any]) -> dict[str, Any]:
        """Never raises: a value that cannot be encoded is replaced and named in ``repaired``."""
        try:
            return self._record(actor, action, resource, outcome, details)
        except Exception as exc:  # noqa: BLE001 - a bug here must not become the app's HTTP 500
            return self._record_minimal(actor, action, resource, outcome, exc)

    def _clean(self, actor, action, resource, outcome, details) -> tuple[str, str, str, str, Any, list[str]]:
        """``(actor, action, resource, outcome, details, repaired)`` as the entry holds them
        (actor and resource not yet redacted)."""
        repaired: list[str] = []
        max_length = self.limits.max_length
        if (type(actor) is str and type(action) is str and type(resource) is str
                and actor.isascii() and action.isascii() and resource.isascii()):
            # The usual call: ASCII text has no lone surrogate, nothing to repair.
            if max_length is not None:
                actor, action, resource = (truncate(actor, max_length), truncate(action, max_length),
                                           truncate(resource, max_length))
        else:
            texts = []
            for name, value in (("actor", actor), ("action", action), ("resource", resource)):
                text, bad = safe_str(value)
                if bad:
                    repaired.append(name)
                texts.append(text if max_length is None else truncate(text, max_length))
            actor, action, resource = texts
        outcome = outcome if type(outcome) is str and outcome in _OUTCOME_SET else outcomes(safe_str(outcome)[0])
        plain = _plain_details(details, self.redactor, max_length)
        if plain is not None:  # the usual call: text, numbers and flags only; one pass
            return actor, action, resource, outcome, plain, repaired
        unprintable: list[str] = []
        printable = sanitize(details, "details", unprintable)  # finds what the redactor would render blind
        try:
            clean_details = self.redactor.mapping(details)
        except Exception:  # noqa: BLE001 - an unprintable value: make it printable, then mask
            clean_details = self.redactor.mapping(printable)
        clean_details = sanitize(clean_details, "details", repaired, max_length=max_length)
        repaired.extend(name for name in unprintable if name not in repaired)
        return actor, action, resource, outcome, clean_details, repaired

    def _ids_of(self, context) -> tuple[str | None, str | None, bytes]:
        """The hex trace and span ids of ``context`` and its encoded OTLP fields (flags, ids),
        kept for the records of one span, which follow each other."""
        cached_span, ids = self._ids
        if cached_span != context.span_id or not cached_span:
            trace_id, span_id = ((f"{context.trace_id:032x}", f"{context.span_id:016x}") if context.is_valid
                                 else (None, None))
            ids = (trace_id, span_id, context_fields(context.trace_flags, context.trace_id, context.span_id))
            self._ids = (context.span_id, ids)
        return ids

    def _record(self, actor, action, resource, outcome, details) -> dict[str, Any]:
        now = time.time_ns()
        context = current_span_context()
        facts = current_request.get()
        trace_id, span_id, context_encoded = self._ids_of(context)
        request_id = (facts.request_id if facts is not None else None) or span_id
        actor, action, resource, outcome, clean_details, repaired = self._clean(actor, action, resource, outcome,
                                                                                 details)
        text = self.redactor.text
        entry = {
            "timestamp": self._clock.format(now / 1e9), "log.type": "audit",
            "actor": text(actor), "action": action, "resource": text(resource), "outcome": outcome,
            "trace_id": trace_id, "span_id": span_id, "request_id": request_id,
            "service.name": self.service_name, "details": clean_details,
        }
        if repaired:
            entry["repaired"] = repaired
        line = one_line(orjson.dumps(entry, default=str, option=orjson.OPT_APPEND_NEWLINE))
        self._write(line)
        if self.queue is None:
            self._count("log_only", 1)
            return entry
        attributes = _attributes_of(entry)
        body = _body_of(entry)
        if self.encode:
            try:
                encoded = encode_line(now, _INFO_FIELDS, body, attributes, context_encoded, now)
                repairs = take_repairs()
            except Exception:  # noqa: BLE001 - what cannot be encoded as it is: the worker repairs and counts it
                take_repairs()
            else:
                item = EncodedAuditRecord(self.resource, self.scope, encoded, repairs, line, now, context.trace_flags)
                self.queue.put_measured(item, item.size)
                return entry
        self.queue.put(AuditRecord(
            entry, record_size(line), now, now, SeverityNumber.INFO, "INFO", body, attributes,
            context.trace_id, context.span_id, context.trace_flags, self.resource, self.scope))
        return entry

    def _record_minimal(self, actor, action, resource, outcome, exc: Exception) -> dict[str, Any]:
        """The last resort: the four schema fields as safe text, straight to the fallback file."""
        entry = {"timestamp": self._clock.format(time.time()), "log.type": "audit",
                 "actor": self.redactor.text(safe_str(actor)[0]), "action": safe_str(action)[0],
                 "resource": self.redactor.text(safe_str(resource)[0]), "outcome": safe_str(outcome)[0],
                 "service.name": self.service_name, "details": {},
                 "repaired": ["details"], "fallback_reason": f"record error: {type(exc).__name__}"}
        try:
            line = orjson.dumps(entry)
            self.logger.info(line.decode())
            self._count("fallback" if self.fallback.write([line]) else "lost", 1)
        except Exception:  # noqa: BLE001
            _log.debug("audit record could not be written", exc_info=True)
            self._count("lost", 1)
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
