"""Values that can always be encoded: UTF-8-clean strings and JSON/OTLP-shaped data, whatever the
caller passed.

A lone surrogate (``"\\udcff"``, what ``os.fsdecode`` makes of undecodable bytes) cannot be
written as UTF-8, so orjson and the protobuf encoder refuse the whole value; an object whose
``__str__`` raises cannot be written at all. Here the first is escaped (``\\udcff`` as text), the
second becomes ``<unprintable TYPE: ERROR>``, and every place repaired is named so the record can
say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vitalyst_otel.export.sizes import truncate

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
MAX_DEPTH = 16


def has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(text: str) -> str:
    """``text`` with lone surrogates written out as ``\\udXXX`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def safe_str(value: Any) -> tuple[str, bool]:
    """``(str(value) as valid UTF-8, whether it had to be repaired)``; never raises."""
    if type(value) is str:
        text = value
    else:
        try:
            text = str(value)
            if not isinstance(text, str):
                raise TypeError("__str__ returned a non-string")
        except Exception as exc:  # noqa: BLE001 - any __str__ may raise anything
            return f"<unprintable {type(value).__qualname__}: {type(exc).__name__}>", True
    if has_surrogates(text):
        return clean_text(text), True
    return text, False


def sanitize(value: Any, where: str, repaired: list[str], depth: int = 0, max_length: int | None = None) -> Any:
    """``value`` as str/int/float/bool/None, lists and string-keyed dicts of those; every place
    that needed repair is appended to ``repaired`` (``where``, ``where.key``, ``where[2]``).
    With ``max_length``, longer strings are cut (:func:`vitalyst_otel.export.sizes.truncate`)."""
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return value
        return str(value)  # exact, where int64 (OTLP, JSON readers) cannot hold it
    if depth < MAX_DEPTH:
        if isinstance(value, Mapping):
            out = {}
            for key, item in list(value.items()):
                name, bad = safe_str(key)
                if bad:
                    repaired.append(f"{where}.{name}")
                out[name] = sanitize(item, f"{where}.{name}", repaired, depth + 1, max_length)
            return out
        if isinstance(value, (list, tuple)):
            return [sanitize(item, f"{where}[{i}]", repaired, depth + 1, max_length)
                    for i, item in enumerate(value)]
    text, bad = safe_str(value)
    if bad:
        repaired.append(where)
    return text if max_length is None else truncate(text, max_length)
