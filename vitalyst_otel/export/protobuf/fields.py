"""Protobuf wire format for OTLP, the scalar layer: varints, tags, length-delimited and string
fields, fixed-width numbers, trace and span ids, and the repair of text that is not UTF-8.

Everything here returns ``bytes``. Tags are written as literal bytes next to the field they
encode: ``(field_number << 3) | wire_type``, wire type 0 varint, 1 fixed64, 2 length-delimited,
5 fixed32 (so ``b"\x4a"`` is field 9, length-delimited).
"""

from __future__ import annotations

import codecs
import struct
import threading
from collections.abc import Callable

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


def add_repairs(count: int) -> None:
    """Count ``count`` repairs made on another thread as this thread's (an item encoded by its
    producer, sent by this exporter)."""
    _repairs.count = getattr(_repairs, "count", 0) + count


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
