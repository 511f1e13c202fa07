"""Value parsers of the variable table: each takes the raw value (a string from the environment,
or a typed value from ``configure()`` or the config file) and returns the typed value, or raises
:class:`Invalid`."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit


class Invalid(ValueError):
    """The value does not parse. ``partial`` is what could be kept of it (None: nothing)."""

    def __init__(self, partial: Any = None):
        super().__init__()
        self.partial = partial


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid
    return value.strip()


def optional_text(value: Any) -> str | None:
    return text(value) or None


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = text(value).lower()
    if lowered not in ("true", "false"):
        raise Invalid
    return lowered == "true"


def int_at_least(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise Invalid
        if isinstance(value, int):
            number = value
        else:
            try:
                number = int(text(value))
            except ValueError as exc:
                raise Invalid from exc
        if number < minimum:
            raise Invalid
        return number

    return parse


def optional_int(value: Any) -> int | None:
    return None if value in ("", None) else int_at_least(0)(value)


def ratio(value: Any) -> float:
    try:
        number = float(value if not isinstance(value, str) else value.strip())
    except (TypeError, ValueError) as exc:
        raise Invalid from exc
    if not (0.0 <= number <= 1.0) or math.isnan(number):
        raise Invalid
    return number


def choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        lowered = text(value).lower()
        if lowered not in choices:
            raise Invalid
        return lowered

    return parse


def _items(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else text(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def names(*choices: str, exclusive: str = "none") -> Callable[[Any], tuple[str, ...]]:
    """A comma-separated list of names from a fixed set; ``exclusive`` may only stand alone."""

    def parse(value: Any) -> tuple[str, ...]:
        found = tuple(dict.fromkeys(item.lower() for item in _items(value)))
        if not found or any(name not in choices for name in found):
            raise Invalid
        if exclusive in found and len(found) > 1:
            raise Invalid
        return () if found == (exclusive,) else found

    return parse


def name_list(value: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_items(value)))


def regex_list(value: Any) -> tuple[str, ...]:
    """Comma-separated regular expressions; bad ones are left out (``Invalid`` keeps the rest)."""
    patterns = name_list(value)
    good = []
    for pattern in patterns:
        try:
            re.compile(pattern)
            good.append(pattern)
        except re.error:
            continue
    if len(good) != len(patterns):
        raise Invalid(partial=tuple(good))
    return tuple(good)


def key_value_list(value: Any) -> dict[str, str]:
    """W3C-baggage-like ``k1=v1,k2=v2`` with percent-decoded values (OTEL_RESOURCE_ATTRIBUTES and
    the OTLP headers variables)."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    pairs: dict[str, str] = {}
    for item in text(value).split(","):
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        key = unquote(key.strip())
        if not sep or not key or any(c.isspace() for c in key):
            raise Invalid
        pairs[key] = unquote(val.strip())
    return pairs


def url(value: Any) -> str:
    given = text(value)
    parts = urlsplit(given)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise Invalid from exc
    return given


def level(value: Any) -> str:
    upper = text(value).upper()
    upper = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(upper, upper)
    if upper not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise Invalid
    return upper


_UNITS = {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "B": 1}


def byte_size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return int_at_least(1)(value)
    given = text(value).replace(" ", "")
    for suffix, factor in _UNITS.items():
        if given.upper().endswith(suffix):
            return int_at_least(1)(given[: -len(suffix)]) * factor
    return int_at_least(1)(given)


def render(value: Any) -> str:
    """A typed value (from configure() or the config file) as the variable would spell it."""
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def mask_header_list(raw: str) -> str:
    """``Authorization=Bearer abc,x-tenant=t1`` -> ``Authorization=***,x-tenant=***``."""
    shown = []
    for item in raw.split(","):
        key, sep, _ = item.partition("=")
        key = key.strip()
        if item.strip():
            shown.append(f"{key}=***" if sep and key and not any(c.isspace() for c in key) else "***")
    return ",".join(shown)


def genai_capture(value: Any) -> bool:
    """OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: contrib's true/false, or its
    experimental modes (span content on for span_only and span_and_event)."""
    if isinstance(value, bool):
        return value
    mode = choice("true", "false", "span_only", "span_and_event", "event_only", "no_content")(value)
    return mode in ("true", "span_only", "span_and_event")


def detector_names(value: Any) -> tuple[str, ...]:
    """Resource-detector entry-point names; ``none`` alone means no detector."""
    names = name_list(value)
    if not names or any(not re.fullmatch(r"[A-Za-z0-9_.*-]+", name) for name in names):
        raise Invalid
    return () if names == ("none",) else names
