"""ExportTraceServiceRequest from SDK spans (opentelemetry/proto/trace/v1/trace.proto).

Span fields, in the order they are written: trace_id 1, span_id 2, trace_state 3,
parent_span_id 4, name 5, kind 6, start 7, end 8, attributes 9, dropped_attributes_count 10,
events 11, dropped_events_count 12, links 13, dropped_links_count 14, status 15, flags 16.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.trace import SpanKind
from opentelemetry.trace.status import StatusCode

from vitalyst_otel.export.protobuf.envelope import encode_grouped
from vitalyst_otel.export.protobuf.wire import (
    MASK64,
    attributes,
    cached_string_field,
    delimited,
    fixed64_field,
    pack_fixed32,
    pack_id_pair,
    span_id,
    string_field,
    trace_id,
    uint_field,
)

# start_time_unix_nano = 7 and end_time_unix_nano = 8, both fixed64.
_pack_times = struct.Struct("<BQBQ").pack

# Span.flags / Link.flags as the SDK sets them: only "has is_remote" and "is_remote" (bits 8, 9).
# The W3C trace flags (sampled, bits 0-7) are left out, as in the SDK.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
_SPAN_FLAGS_LOCAL = b"\x85\x01" + pack_fixed32(_HAS_IS_REMOTE)
_SPAN_FLAGS_REMOTE = b"\x85\x01" + pack_fixed32(_HAS_IS_REMOTE | _IS_REMOTE)
_LINK_FLAGS_LOCAL = b"\x35" + pack_fixed32(_HAS_IS_REMOTE)
_LINK_FLAGS_REMOTE = b"\x35" + pack_fixed32(_HAS_IS_REMOTE | _IS_REMOTE)

# Enum members are singletons: a dict by id() avoids Enum.__hash__ (Python code) per span.
_PROTO_KIND = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3,
               SpanKind.PRODUCER: 4, SpanKind.CONSUMER: 5}
_KIND = {kind: b"\x30" + bytes((n,)) for kind, n in _PROTO_KIND.items()}
_KIND_BY_ID = {id(kind): field for kind, field in _KIND.items()}

_STATUS_CODE_BY_ID = {id(code): code.value for code in StatusCode}
# Status {message = 2, code = 3}; the SDK always writes the status, even an empty one.
_STATUS_NO_MESSAGE = {code.value: delimited(b"\x7a", uint_field(b"\x18", code.value)) for code in StatusCode}

_name = cached_string_field(b"\x2a", 1024)  # name = 5


def _status(status: Any) -> bytes:
    if status is None:
        return b""
    code = status.status_code
    value = _STATUS_CODE_BY_ID.get(id(code))
    if value is None:
        value = code.value
    message = status.description
    if not message:
        cached = _STATUS_NO_MESSAGE.get(value)
        if cached is not None:
            return cached
    return delimited(b"\x7a", string_field(b"\x12", message) + uint_field(b"\x18", value))


def _trace_state(state: Any) -> bytes:
    return string_field(b"\x1a", ",".join([f"{key}={value}" for key, value in state.items()]))


def _event(event: Any) -> bytes:
    return delimited(b"\x5a", fixed64_field(b"\x09", event.timestamp)
                     + string_field(b"\x12", event.name)
                     + attributes(b"\x1a", event.attributes)
                     + uint_field(b"\x20", event.dropped_attributes))


def _link(link: Any) -> bytes:
    # Link.trace_state (3) is not written by the SDK's encoder, so neither here.
    context = link.context
    return delimited(b"\x6a", b"\x0a\x10" + trace_id(context.trace_id)
                     + b"\x12\x08" + span_id(context.span_id)
                     + attributes(b"\x22", link.attributes)
                     + uint_field(b"\x28", link.dropped_attributes)
                     + (_LINK_FLAGS_REMOTE if context.is_remote else _LINK_FLAGS_LOCAL))


def _fast_types() -> tuple[type | None, type | None, type | None]:
    """(ReadableSpan, SpanContext, BoundedList) if their internals are as read below, else Nones.

    The public properties copy (``attributes`` wraps a proxy around a mapping iterated in Python,
    ``events``/``links`` copy to tuples, SpanContext's fields are Python properties over a
    tuple); reading the fields directly is most of the speed. Checked once, at import.
    """
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.util import BoundedList
        from opentelemetry.trace import SpanContext, TraceFlags, TraceState

        state = TraceState([("k", "v")])
        context = SpanContext(1, 2, True, TraceFlags(1), state)
        events = BoundedList(4)
        span = ReadableSpan("n", context, parent=context, attributes={"a": 1}, events=events, links=events,
                            kind=SpanKind.CLIENT, status=None, start_time=3, end_time=4,
                            resource=Resource.get_empty())  # not the default: that runs detectors
        fields_match = all(getattr(span, f"_{name}") is getattr(span, name)
                           for name in ("context", "parent", "name", "kind", "start_time", "end_time", "status"))
        if (fields_match and tuple(context)[:5] == (1, 2, True, 1, state)
                and span._attributes == {"a": 1} and span._events is events and span._links is events
                and list(events._dq) == []):
            return ReadableSpan, SpanContext, BoundedList
    except Exception:  # pragma: no cover - a future SDK: use the public interface
        pass
    return None, None, None  # pragma: no cover


_ReadableSpan, _SpanContext, _BoundedList = _fast_types()


def _sdk_span_type() -> type | None:
    """The SDK's span class when it keeps ReadableSpan's fields (our span queues get ended SDK
    spans themselves: vitalyst_otel/http/span_build.py)."""
    try:
        from opentelemetry.sdk.trace import ReadableSpan, _Span

        if _ReadableSpan is not None and issubclass(_Span, ReadableSpan) and all(
                getattr(_Span, name) is getattr(ReadableSpan, name)
                for name in ("name", "context", "parent", "kind", "start_time", "end_time", "status", "attributes",
                             "events", "links", "dropped_attributes", "dropped_events", "dropped_links")):
            return _Span
    except Exception:  # pragma: no cover - a future SDK: use the public interface
        pass
    return None  # pragma: no cover


_SdkSpan = _sdk_span_type()


def encode_span(span: Any) -> bytes:
    """One Span message body."""
    if type(span) is _ReadableSpan or type(span) is _SdkSpan:
        context, parent, name, kind = span._context, span._parent, span._name, span._kind
        start, end, status = span._start_time, span._end_time, span._status
        attrs, events, links = span._attributes, span._events, span._links
        dropped_attributes = attrs.dropped if isinstance(attrs, BoundedAttributes) else 0
        if isinstance(events, _BoundedList):  # type: ignore[arg-type]
            dropped_events, events = events.dropped, events._dq
        else:
            dropped_events = 0
        if isinstance(links, _BoundedList):  # type: ignore[arg-type]
            dropped_links, links = links.dropped, links._dq
        else:
            dropped_links = 0
    else:
        context, parent, name, kind = span.context, span.parent, span.name, span.kind
        start, end, status = span.start_time, span.end_time, span.status
        attrs, events, links = span.attributes, span.events, span.links
        dropped_attributes = span.dropped_attributes
        dropped_events = span.dropped_events
        dropped_links = span.dropped_links
    if type(context) is _SpanContext:
        tid, sid, _, _, state, _ = context
    else:
        tid, sid, state = context.trace_id, context.span_id, context.trace_state
    parts = [pack_id_pair(0x0A10, tid >> 64, tid & MASK64, 0x1208, sid)]
    if state:
        parts.append(_trace_state(state))
    if parent:
        if type(parent) is _SpanContext:
            _, sid, remote, _, _, _ = parent
        else:
            sid, remote = parent.span_id, parent.is_remote
        parts.append(b"\x22\x08" + span_id(sid))
        flags = _SPAN_FLAGS_REMOTE if remote else _SPAN_FLAGS_LOCAL
    else:
        flags = _SPAN_FLAGS_LOCAL
    parts.append(_name(name))
    parts.append(_KIND_BY_ID.get(id(kind)) or _KIND[kind])
    if start and end:
        parts.append(_pack_times(0x39, start, 0x41, end))
    else:
        parts.append(fixed64_field(b"\x39", start) + fixed64_field(b"\x41", end))
    parts.append(attributes(b"\x4a", attrs))
    if dropped_attributes:
        parts.append(uint_field(b"\x50", dropped_attributes))
    if events:
        parts.extend([_event(event) for event in events])
    if dropped_events:
        parts.append(uint_field(b"\x60", dropped_events))
    if links:
        parts.extend([_link(link) for link in links])
    if dropped_links:
        parts.append(uint_field(b"\x70", dropped_links))
    parts.append(_status(status))
    parts.append(flags)
    return b"".join(parts)


def encode_spans(spans: Sequence[Any]) -> bytes:
    """A serialized ExportTraceServiceRequest, byte-identical to the SDK encoder's."""
    return encode_grouped(spans, encode_span)
