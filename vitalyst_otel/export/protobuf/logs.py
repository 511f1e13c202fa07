"""ExportLogsServiceRequest from SDK log records (opentelemetry/proto/logs/v1/logs.proto).

LogRecord fields, in the order they are written: time_unix_nano 1, severity_number 2,
severity_text 3, body 5, attributes 6, dropped_attributes_count 7, flags 8, trace_id 9,
span_id 10, observed_time_unix_nano 11, event_name 12.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.attributes import BoundedAttributes

from vitalyst_otel.export.protobuf.envelope import encode_grouped
from vitalyst_otel.export.protobuf.wire import (
    MASK64,
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
)

_pack_tag_fixed64 = struct.Struct("<BQ").pack
_FLAGS = {flags: b"\x45" + pack_fixed32(flags) for flags in (1, 2, 3)}  # flags = 8, fixed32
_SEVERITY_BY_ID = {id(member): uint_field(b"\x10", member.value) for member in SeverityNumber}

_severity_text = cached_string_field(b"\x1a", 64)  # severity_text = 3


def encode_log_record(readable: Any) -> bytes:
    """One LogRecord message body from an SDK ReadableLogRecord."""
    record = readable.log_record
    timestamp = record.timestamp
    severity = record.severity_number
    attrs = record.attributes
    parts = [
        _pack_tag_fixed64(0x09, timestamp) if timestamp else b"",
        _SEVERITY_BY_ID.get(id(severity)) or uint_field(b"\x10", getattr(severity, "value", None)),
        _severity_text(record.severity_text),
        # The SDK always writes the body, an empty AnyValue for None; a body it cannot encode raises.
        delimited(b"\x2a", any_value(record.body)),
        attributes(b"\x32", attrs),
    ]
    dropped = attrs.dropped if isinstance(attrs, BoundedAttributes) else 0  # = dropped_attributes
    if dropped:
        parts.append(uint_field(b"\x38", dropped))
    flags = int(record.trace_flags)
    if flags:
        parts.append(_FLAGS.get(flags) or b"\x45" + pack_fixed32(flags))
    # The SDK leaves trace_id/span_id out when they are 0 (no span), each on its own.
    tid, sid = record.trace_id, record.span_id
    if tid and sid:
        parts.append(pack_id_pair(0x4A10, tid >> 64, tid & MASK64, 0x5208, sid))
    elif tid:
        parts.append(b"\x4a\x10" + trace_id(tid))
    elif sid:
        parts.append(b"\x52\x08" + span_id(sid))
    observed = record.observed_timestamp
    if observed:
        parts.append(_pack_tag_fixed64(0x59, observed))
    if record.event_name:
        parts.append(string_field(b"\x62", record.event_name))
    return b"".join(parts)


def encode_logs(records: Sequence[Any]) -> bytes:
    """A serialized ExportLogsServiceRequest, byte-identical to the SDK encoder's."""
    return encode_grouped(records, encode_log_record)
