"""Protobuf wire format for OTLP, written by hand: varints, tags, AnyValue/KeyValue, attributes.

Everything here returns ``bytes``. A message is built from its fields in field-number order (the
order the official serializer uses, so our output is byte-identical to it, not only equivalent),
and a nested message is written as tag, varint length, body. Tags are written as literal bytes
next to the field they encode: ``(field_number << 3) | wire_type``, wire type 0 varint,
1 fixed64, 2 length-delimited, 5 fixed32 (so ``b"\x4a"`` is field 9, length-delimited).

Two caches make the common case cheap; neither can serve stale bytes:

* attribute pairs: ``(key, value)`` -> encoded KeyValue, only for string keys and values of
  exactly ``str``, ``int`` or ``bool``. ``1``, ``1.0`` and ``True`` compare equal in Python, so
  bools have a table of their own (str and int share one: no str equals an int), and floats are
  never cached (``0.0 == -0.0``, but they encode differently). Bounded: at most
  ``PAIR_CACHE_KEYS`` keys per table, ``PAIR_CACHE_VALUES`` values per key (the oldest value is
  evicted first), and only pairs whose encoding is at most ``PAIR_CACHE_MAX_BYTES``.
* resources and scopes: encoded once per object (by identity, holding a reference so the id
  cannot be reused), at most ``OBJECT_CACHE_SIZE`` objects. Their attributes are immutable.

The caches are plain dicts: each operation is atomic under the GIL, and an entry is computed from
its own key alone, so concurrent exporters (one thread per signal) can share them.
"""

from __future__ import annotations

import codecs
import logging
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

_log = logging.getLogger("vitalyst_otel.export")

# --- strings that are not valid UTF-8 ------------------------------------------------------
# A lone surrogate cannot be UTF-8: the SDK's encoder raises and the whole batch is lost. Ours
# writes it as a backslash escape and counts it (per thread: each exporter encodes on its own
# worker). The error handler only runs on such a string, so valid text costs what it did.

REPAIR = "vitalyst_otel.repair"
_repairs = threading.local()


def _repair(error: UnicodeEncodeError) -> tuple[str, int]:
    _repairs.count = getattr(_repairs, "count", 0) + 1
    return codecs.backslashreplace_errors(error)


codecs.register_error(REPAIR, _repair)


def take_repairs() -> int:
    """Strings repaired on this thread since the last call (and reset the count)."""
    count = getattr(_repairs, "count", 0)
    _repairs.count = 0
    return count


_MASK64 = (1 << 64) - 1
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_VARINT_TABLE_SIZE = 4096
_VARINTS = tuple(_varint(i) for i in range(_VARINT_TABLE_SIZE))


def varint(n: int) -> bytes:
    """Unsigned varint of ``n`` (``n >= 0``; callers mask signed values to 64 bits first)."""
    if n < 0:
        raise ValueError(f"varint of a negative number: {n}")
    return _VARINTS[n] if n < _VARINT_TABLE_SIZE else _varint(n)


def zigzag32(n: int) -> bytes:
    """sint32 as the wire wants it."""
    if not -(1 << 31) <= n < (1 << 31):
        raise ValueError(f"Value out of range: {n}")
    return varint((n << 1) ^ (n >> 31))


pack_fixed64 = struct.Struct("<Q").pack
pack_fixed32 = struct.Struct("<I").pack
pack_sfixed64 = struct.Struct("<q").pack
pack_double = struct.Struct("<d").pack
# A trace id (16 bytes) and a span id (8 bytes) fields in one call: (trace tag, length 16) as a
# big-endian short, the id as two halves, (span tag, length 8), the span id.
pack_id_pair = struct.Struct(">HQQHQ").pack
MASK64 = _MASK64


def delimited(field_tag: bytes, body: bytes) -> bytes:
    """A length-delimited field: tag, length, body (also for an empty body)."""
    n = len(body)
    return field_tag + (_VARINTS[n] if n < _VARINT_TABLE_SIZE else _varint(n)) + body


def string_field(field_tag: bytes, text: str | None) -> bytes:
    """A proto3 string field: absent when ``None`` or empty."""
    if not text:
        return b""
    return delimited(field_tag, text.encode("utf-8", REPAIR))


def cached_string_field(field_tag: bytes, size: int) -> Callable[[str | None], bytes]:
    """``string_field`` for a field whose values repeat (span names, severity texts): the last
    values seen (at most ``size``, then it starts over) are kept encoded."""
    cache: dict[str, bytes] = {}

    def encode(text: str | None) -> bytes:
        encoded = cache.get(text)  # type: ignore[arg-type]
        if encoded is None:
            encoded = string_field(field_tag, text)
            if type(text) is str:
                if len(cache) >= size:
                    cache.clear()
                cache[text] = encoded
        return encoded

    encode.cache = cache  # type: ignore[attr-defined]  # for tests
    return encode


def uint_field(field_tag: bytes, n: int | None) -> bytes:
    """A proto3 varint field (uint32/uint64/enum): absent when zero or ``None``."""
    return field_tag + varint(n) if n else b""


def fixed64_field(field_tag: bytes, n: int | None) -> bytes:
    return field_tag + pack_fixed64(n) if n else b""


def optional_double(field_tag: bytes, x: float | None) -> bytes:
    """A proto3 ``optional double``: present whenever set, zero included."""
    return b"" if x is None else field_tag + pack_double(x)


def trace_id(n: int) -> bytes:
    return n.to_bytes(16, "big")


def span_id(n: int) -> bytes:
    return n.to_bytes(8, "big")


# --- AnyValue and KeyValue -------------------------------------------------------------------

_TRUE = b"\x10\x01"  # AnyValue.bool_value = 2
_FALSE = b"\x10\x00"


def any_value(value: Any) -> bytes:
    """The body of an AnyValue; the same type tests in the same order as the SDK's encoder.

    ``None`` is an empty AnyValue; a oneof member is written even when it holds its default (an
    empty string, 0, False); ints must fit int64; any other type raises ``TypeError``.
    """
    if value is None:
        return b""
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    if isinstance(value, str):
        return delimited(b"\x0a", value.encode("utf-8", REPAIR))  # string_value = 1
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"Value out of range: {value}")
        return b"\x18" + varint(value & _MASK64)  # int_value = 3
    if isinstance(value, float):
        return b"\x21" + pack_double(value)  # double_value = 4
    if isinstance(value, bytes):
        return delimited(b"\x3a", value)  # bytes_value = 7
    if isinstance(value, Sequence):  # array_value = 5 -> ArrayValue.values = 1
        return delimited(b"\x2a", b"".join([delimited(b"\x0a", any_value(v)) for v in value]))
    if isinstance(value, Mapping):  # kvlist_value = 6 -> KeyValueList.values = 1
        return delimited(b"\x32", b"".join([b"\x0a" + key_value(str(k), v) for k, v in value.items()]))
    raise TypeError(f"Invalid type {type(value)} of value {value!r}")


def key_value(key: str, value: Any) -> bytes:
    """A KeyValue message, length-prefixed, without the tag of the field that holds it."""
    if not isinstance(key, str):
        raise TypeError(f"attribute key {key!r} is not a string")
    # A key that is not UTF-8 is refused (the pair is left out, as the SDK does): a key is a name.
    key_field = delimited(b"\x0a", key.encode("utf-8")) if key else b""
    if type(value) is str:  # the common case, without the detour through any_value
        encoded = value.encode("utf-8", REPAIR)
        n = len(encoded)
        value_body = b"\x0a" + (_VARINTS[n] if n < _VARINT_TABLE_SIZE else _varint(n)) + encoded
    else:
        value_body = any_value(value)
    body = key_field + delimited(b"\x12", value_body)
    return varint(len(body)) + body


# --- attributes, with the pair cache ----------------------------------------------------------

PAIR_CACHE_KEYS = 64
PAIR_CACHE_VALUES = 64
PAIR_CACHE_MAX_BYTES = 200

# Exact str and int values share one table (a str never equals an int); bools have their own
# (True == 1); floats and everything else are never cached.
_pairs: dict[str, dict[str | int, bytes]] = {}
_bool_pairs: dict[str, dict[bool, bytes]] = {}

_reported: set[str] = set()


def _report(key: Any, exc: Exception) -> None:
    # The SDK logs every failure; once per key is enough to find the culprit without flooding.
    name = repr(key)[:100]
    if name in _reported or len(_reported) >= 100:
        return
    _reported.add(name)
    _log.warning("Attribute %s not exported: %s: %s", name, type(exc).__name__, exc)


def _miss(table: dict | None, key: Any, value: Any) -> bytes | None:
    """Encode one pair (``None`` and a report if it cannot be); remember it if it is cacheable."""
    repairs = getattr(_repairs, "count", 0)
    try:
        encoded = key_value(key, value)
    except Exception as exc:  # like the SDK: one bad attribute does not lose the others
        _report(key, exc)
        return None
    if getattr(_repairs, "count", 0) != repairs:
        return encoded  # repaired: not cached, so each record that has it is counted
    if table is not None and type(key) is str and len(encoded) <= PAIR_CACHE_MAX_BYTES:
        by_value = table.get(key)
        if by_value is None:
            if len(table) >= PAIR_CACHE_KEYS:
                table.clear()
            by_value = table[key] = {}
        elif len(by_value) >= PAIR_CACHE_VALUES:
            try:
                del by_value[next(iter(by_value))]  # the oldest value of this key
            except (KeyError, StopIteration, RuntimeError):  # another thread got there first
                pass
        by_value[value] = encoded
    return encoded


def _bounded_attributes_type() -> type | None:
    """BoundedAttributes, if its internals are as this module reads them (else ``None``).

    Iterating a BoundedAttributes goes through Python-level ``__iter__``/``__getitem__`` per
    pair; reading its dict directly is several times faster. Checked once, at import.
    """
    try:
        from opentelemetry.attributes import BoundedAttributes

        probe = BoundedAttributes(attributes={"k": "v"}, immutable=True)
        if probe._immutable is True and list(probe._dict.items()) == [("k", "v")]:
            with probe._lock:
                return BoundedAttributes
    except Exception:  # pragma: no cover - a future SDK: use the public interface
        pass
    return None  # pragma: no cover


_BoundedAttributes = _bounded_attributes_type()
_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()


def attributes(field_tag: bytes, attrs: Mapping[str, Any] | None) -> bytes:
    """A repeated KeyValue field; pairs that cannot be encoded are left out (and reported)."""
    if type(attrs) is _BoundedAttributes:
        if attrs._immutable:  # type: ignore[union-attr]
            items: Iterable[tuple[Any, Any]] = attrs._dict.items()  # type: ignore[union-attr]
        elif _GIL:  # a snapshot: list() of a dict view runs in C, atomic under the GIL
            items = list(attrs._dict.items())  # type: ignore[union-attr]
        else:  # pragma: no cover - free-threaded Python: as its own __iter__ does, under its lock
            with attrs._lock:  # type: ignore[union-attr]
                items = list(attrs._dict.items())  # type: ignore[union-attr]
    elif not attrs:
        return b""
    else:
        items = attrs.items()
    out = []
    append = out.append
    pairs = _pairs
    for key, value in items:
        value_type = type(value)
        if value_type is str or value_type is int:
            table: dict | None = pairs
        elif value_type is bool:
            table = _bool_pairs
        else:
            table = None
        if table is not None:
            by_value = table.get(key)
            if by_value is not None:
                encoded = by_value.get(value)
                if encoded is not None:
                    append(encoded)
                    continue
        encoded = _miss(table, key, value)
        if encoded is not None:
            append(encoded)
    return field_tag + field_tag.join(out) if out else b""


def clear_caches() -> None:
    _pairs.clear()
    _bool_pairs.clear()
    _objects.clear()


def cache_sizes() -> dict[str, int]:
    """Entries per cache (for tests and diagnostics)."""
    return {"pair_keys": len(_pairs) + len(_bool_pairs),
            "pairs": sum(map(len, list(_pairs.values()))) + sum(map(len, list(_bool_pairs.values()))),
            "objects": len(_objects)}


# --- resources and scopes ---------------------------------------------------------------------

OBJECT_CACHE_SIZE = 64
_objects: dict[int, tuple[Any, bytes, bytes]] = {}


def _cached(obj: Any, encode: Callable[[Any], tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
    hit = _objects.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1], hit[2]
    encoded = encode(obj)
    if len(_objects) >= OBJECT_CACHE_SIZE:
        _objects.clear()
    _objects[id(obj)] = (obj, *encoded)
    return encoded


def _resource(resource: Any) -> tuple[bytes, bytes]:
    # Resource.dropped_attributes_count is not set by the SDK's encoder, so neither here.
    return (delimited(b"\x0a", attributes(b"\x0a", resource.attributes)),
            string_field(b"\x1a", resource.schema_url))


def _scope(scope: Any) -> tuple[bytes, bytes]:
    body = (string_field(b"\x0a", scope.name) + string_field(b"\x12", scope.version)
            + attributes(b"\x1a", scope.attributes))
    return delimited(b"\x0a", body), string_field(b"\x1a", scope.schema_url)


_NO_SCOPE = (b"\x0a\x00", b"")  # the SDK writes an empty InstrumentationScope for a missing one


def resource_fields(resource: Any) -> tuple[bytes, bytes]:
    """(``resource = 1`` field, ``schema_url = 3`` field) of a ResourceSpans/Logs/Metrics."""
    return _cached(resource, _resource)


def scope_fields(scope: Any) -> tuple[bytes, bytes]:
    """(``scope = 1`` field, ``schema_url = 3`` field) of a ScopeSpans/Logs/Metrics."""
    return _NO_SCOPE if scope is None else _cached(scope, _scope)


# --- grouping: request -> resource -> scope -> items ------------------------------------------


_UNSET = object()


def group(items: Iterable[Any], encode_item: Callable[[Any], bytes]) -> dict[Any, dict[Any, list[bytes]]]:
    """Encode items into ``{resource: {scope: [item bodies]}}`` as the SDK groups them.

    The SDK keys dicts by the objects, so distinct but equal resources (attributes and schema
    URL) or scopes (name, version, schema URL and attributes) share a group, which the first one
    seen represents. Hashing a Resource serialises its attributes to JSON, so that is done once
    per distinct (resource, scope) object pair in a batch, not per item.
    """
    resources: dict[Any, dict[Any, list[bytes]]] = {}
    by_identity: dict[tuple[int, int], list[bytes]] = {}
    last_resource = last_scope = _UNSET
    bucket: list[bytes] = []
    for item in items:
        resource = item.resource
        scope = item.instrumentation_scope or None
        if resource is not last_resource or scope is not last_scope:
            identity = (id(resource), id(scope))
            bucket = by_identity.get(identity)
            if bucket is None:
                scopes = resources.setdefault(resource, {})
                bucket = by_identity[identity] = scopes.setdefault(scope, [])
            last_resource, last_scope = resource, scope
        bucket.append(encode_item(item))
    return resources


def request(resources: Iterable[tuple[Any, Iterable[tuple[Any, list[bytes]]]]]) -> bytes:
    """An Export*ServiceRequest from ``(resource, [(scope, item bodies), ...])`` groups.

    The three signals share the shape: request.resource_x = 1; ResourceX {resource = 1,
    scope_x = 2, schema_url = 3}; ScopeX {scope = 1, items = 2, schema_url = 3}.
    """
    # One join at the end: each nested length is summed up, not measured on a joined copy.
    out: list[bytes] = []
    for resource, scopes in resources:
        resource_field, resource_schema = resource_fields(resource)
        resource_parts = [resource_field]
        resource_size = len(resource_field) + len(resource_schema)
        for scope, bodies in scopes:
            scope_field, scope_schema = scope_fields(scope)
            scope_parts = [scope_field]
            extend = scope_parts.extend
            scope_size = len(scope_field) + len(scope_schema)
            for body in bodies:
                n = len(body)
                prefix = _VARINTS[n] if n < _VARINT_TABLE_SIZE else _varint(n)
                extend((b"\x12", prefix, body))
                scope_size += 1 + len(prefix) + n
            scope_parts.append(scope_schema)
            prefix = varint(scope_size)
            resource_parts += (b"\x12", prefix)
            resource_parts += scope_parts
            resource_size += 1 + len(prefix) + scope_size
        resource_parts.append(resource_schema)
        out += (b"\x0a", varint(resource_size))
        out += resource_parts
    return b"".join(out)


def encode_grouped(items: Iterable[Any], encode_item: Callable[[Any], bytes]) -> bytes:
    """Spans and log records: group as the SDK does, then write the request."""
    return request((resource, scopes.items()) for resource, scopes in group(items, encode_item).items())
