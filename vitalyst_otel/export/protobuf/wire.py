"""Protobuf wire format for OTLP, the attribute layer: AnyValue, KeyValue, attribute lists, and
the encoded resources and scopes, with the caches that make them cheap. The scalar fields are in
:mod:`.fields` (re-exported here), the request envelope in :mod:`.envelope`.

A message is built from its fields in field-number order (the order the official serializer
uses, so our output is byte-identical to it, not only equivalent), and a nested message is
written as tag, varint length, body.

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

import logging
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from vitalyst_otel.export.protobuf.fields import (  # noqa: F401 - re-exported: the format in one name
    _INT64_MAX,
    _INT64_MIN,
    _MASK64,
    _VARINT_TABLE_SIZE,
    _VARINTS,
    MASK64,
    REPAIR,
    _repairs,
    _varint,
    cached_string_field,
    delimited,
    fixed64_field,
    optional_double,
    pack_double,
    pack_fixed32,
    pack_fixed64,
    pack_id_pair,
    pack_sfixed64,
    span_id,
    string_field,
    take_repairs,
    trace_id,
    uint_field,
    varint,
    zigzag32,
)

_log = logging.getLogger("vitalyst_otel.export")

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
