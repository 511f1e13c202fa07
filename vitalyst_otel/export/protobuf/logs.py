"""ExportLogsServiceRequest from SDK log records (opentelemetry/proto/logs/v1/logs.proto).

LogRecord fields, in the order they are written: time_unix_nano 1, severity_number 2,
severity_text 3, body 5, attributes 6, dropped_attributes_count 7, flags 8, trace_id 9,
span_id 10, observed_time_unix_nano 11, event_name 12.

One record is a handful of fields, most of them the same from record to record, so the hot path
looks them up already encoded (severity number and text, flags) and writes a text body, the
usual one, with a prefix from a table (tag, AnyValue length, string tag, string length) instead
of nesting two length-delimited fields. Every other body or value takes the general path.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.attributes import BoundedAttributes

from vitalyst_otel.export.protobuf.envelope import encode_grouped
from vitalyst_otel.export.protobuf.fields import add_repairs
from vitalyst_otel.export.protobuf.wire import (
    MASK64,
    REPAIR,
    any_value,
    attributes,
    cached_string_field,
    delimited,
    pack_fixed32,
    pack_id_pair,
    span_id,
    string_field,
    trace_id,
    uint_field,
    varint,
)

_pack_tag_fixed64 = struct.Struct("<BQ").pack
# flags = 8, fixed32; 0 (and anything int() makes 0) writes nothing.
_FLAGS = {0: b"", **{flags: b"\x45" + pack_fixed32(flags) for flags in range(1, 256)}}
_SEVERITY_BY_ID = {id(member): uint_field(b"\x10", member.value) for member in SeverityNumber}

_severity_text = cached_string_field(b"\x1a", 64)  # severity_text = 3
_severity_texts = _severity_text.cache  # type: ignore[attr-defined]

# body = 5 holding AnyValue{string_value = 1} of n UTF-8 bytes: everything before the bytes.
_TEXT_BODY_TABLE_SIZE = 2048


def _text_body_prefix(n: int) -> bytes:
    string_prefix = b"\x0a" + varint(n)
    return b"\x2a" + varint(len(string_prefix) + n) + string_prefix


_TEXT_BODY_PREFIX = tuple(_text_body_prefix(n) for n in range(_TEXT_BODY_TABLE_SIZE))


class EncodedRecord:
    """A log record already encoded (the LogRecord message body), with what the request groups
    it by: the bridge encodes on the caller's thread when only our encoder reads the queue, and
    the export worker only concatenates. ``repairs``: strings repaired while encoding it, counted
    by the worker's exporter as its own."""

    __slots__ = ("resource", "instrumentation_scope", "encoded", "repairs")

    def __init__(self, resource, instrumentation_scope, encoded: bytes, repairs: int = 0) -> None:
        self.resource = resource
        self.instrumentation_scope = instrumentation_scope
        self.encoded = encoded
        self.repairs = repairs


def encode_log_record(readable: Any) -> bytes:
    """One LogRecord message body from an SDK ReadableLogRecord (or the bridge's record)."""
    if isinstance(readable, EncodedRecord):  # the bridge's, or a subclass (the audit trail's)
        if readable.repairs:
            add_repairs(readable.repairs)
        return readable.encoded
    record = readable.log_record
    timestamp = record.timestamp
    severity = record.severity_number
    text = record.severity_text
    attrs = record.attributes
    body = record.body
    # The SDK always writes the body, an empty AnyValue for None; a body it cannot encode raises.
    if type(body) is str:
        encoded = body.encode("utf-8", REPAIR)
        n = len(encoded)
        body_field = (_TEXT_BODY_PREFIX[n] if n < _TEXT_BODY_TABLE_SIZE else _text_body_prefix(n)) + encoded
    else:
        body_field = delimited(b"\x2a", any_value(body))
    parts = [
        _pack_tag_fixed64(0x09, timestamp) if timestamp else b"",
        _SEVERITY_BY_ID.get(id(severity)) or uint_field(b"\x10", getattr(severity, "value", None)),
        _severity_texts.get(text) or _severity_text(text),
        body_field,
    ]
    if type(attrs) is dict:  # the bridge's records: a plain dict, nothing dropped
        if attrs:
            parts.append(attributes(b"\x32", attrs))
    else:
        parts.append(attributes(b"\x32", attrs))
        dropped = attrs.dropped if isinstance(attrs, BoundedAttributes) else 0  # = dropped_attributes
        if dropped:
            parts.append(uint_field(b"\x38", dropped))
    flags = record.trace_flags
    flags_field = _FLAGS.get(flags)
    if flags_field is None:
        flags = int(flags)
        flags_field = b"\x45" + pack_fixed32(flags) if flags else b""
    # The SDK leaves trace_id/span_id out when they are 0 (no span), each on its own.
    tid, sid = record.trace_id, record.span_id
    if tid and sid:
        parts += (flags_field, pack_id_pair(0x4A10, tid >> 64, tid & MASK64, 0x5208, sid))
    else:
        parts.append(flags_field)
        if tid:
            parts.append(b"\x4a\x10" + trace_id(tid))
        elif sid:
            parts.append(b"\x52\x08" + span_id(sid))
    observed = record.observed_timestamp
    if observed:
        parts.append(_pack_tag_fixed64(0x59, observed))
    if record.event_name:
        parts.append(string_field(b"\x62", record.event_name))
    return b"".join(parts)


def severity_fields(severity, text) -> bytes:
    """severity_number and severity_text, encoded (the same for every record of a level)."""
    return ((_SEVERITY_BY_ID.get(id(severity)) or uint_field(b"\x10", getattr(severity, "value", None)))
            + (_severity_texts.get(text) or _severity_text(text)))


def context_fields(flags, tid, sid) -> bytes:
    """flags, trace_id and span_id, encoded (the same for every record of a span)."""
    flags_field = _FLAGS.get(flags)
    if flags_field is None:
        flags = int(flags)
        flags_field = b"\x45" + pack_fixed32(flags) if flags else b""
    # The SDK leaves trace_id/span_id out when they are 0 (no span), each on its own.
    if tid and sid:
        return flags_field + pack_id_pair(0x4A10, tid >> 64, tid & MASK64, 0x5208, sid)
    if tid:
        return flags_field + b"\x4a\x10" + trace_id(tid)
    if sid:
        return flags_field + b"\x52\x08" + span_id(sid)
    return flags_field


def encode_line(timestamp: int, severity: bytes, body: str, attrs: dict, context: bytes, observed: int) -> bytes:
    """The bridge's record from its parts: ``severity`` (:func:`severity_fields`) and ``context``
    (:func:`context_fields`) as its caller keeps them, a text ``body`` that is valid UTF-8 (it
    raises UnicodeEncodeError otherwise: such a record takes the general path, which repairs and
    counts it), a plain dict of attributes, timestamps that are not 0."""
    encoded = body.encode("utf-8")
    n = len(encoded)
    return b"".join((
        _pack_tag_fixed64(0x09, timestamp), severity,
        _TEXT_BODY_PREFIX[n] if n < _TEXT_BODY_TABLE_SIZE else _text_body_prefix(n), encoded,
        attributes(b"\x32", attrs) if attrs else b"", context, _pack_tag_fixed64(0x59, observed)))


def encode_logs(records: Sequence[Any]) -> bytes:
    """A serialized ExportLogsServiceRequest, byte-identical to the SDK encoder's."""
    return encode_grouped(records, encode_log_record)
