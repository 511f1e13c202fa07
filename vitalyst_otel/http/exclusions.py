"""Which requests get no telemetry at all (no span, no HTTP metrics, no access log line).

The effective list is the distribution's defaults (health, readiness, metrics paths) plus the
user's OTEL_PYTHON_FASTAPI_EXCLUDED_URLS, or OTEL_PYTHON_EXCLUDED_URLS when the FastAPI-specific
one is unset (contrib's precedence); VITALYST_EXCLUDED_URLS_DEFAULTS=false drops the defaults.
Every entry is a regular expression searched (``re.search``, as contrib does) in the full URL
contrib builds (``scheme://host[:port]/path``, no query) and in the path, so patterns written
for contrib (``example.com/ping``, ``healthcheck``) and path patterns (``^/ping$``) both work.
"""

from __future__ import annotations

import re


def combine(defaults: tuple[str, ...], user: tuple[str, ...] | None, keep_defaults: bool) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*(defaults if keep_defaults else ()), *(user or ()))))


def contrib_url(scope: dict) -> str:
    """The URL contrib's ASGI middleware matches exclusions against."""
    server = scope.get("server") or ("0.0.0.0", 80)
    port = str(server[1])
    host = server[0] + (f":{port}" if port not in ("80", "None") else "")
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('path', '')}"


def joined_pattern(patterns: tuple[str, ...], flags: int = 0) -> re.Pattern | None:
    """One alternation of the patterns that compile (bad ones are reported by the settings check
    and skipped here), or None when none is left."""
    usable = [p for p in patterns if _compiles(p)]
    return re.compile("|".join(f"(?:{p})" for p in usable), flags) if usable else None


def is_excluded(search, scope: dict, with_url: bool = True) -> bool:
    """``search`` (a compiled pattern's search) finds the request's path or contrib's URL."""
    return search(scope["path"]) is not None or (with_url and search(contrib_url(scope)) is not None)


def path_anchored_only(pattern: re.Pattern) -> bool:
    """Whether every alternative of a joined pattern (``(?:a)|(?:b)``) starts with ``^/``: such
    a pattern cannot match contrib's URL, so the URL need not be built (the defaults' case)."""
    text = pattern.pattern
    if not (text.startswith("(?:") and text.endswith(")")):
        return False
    return all(part.startswith("^/") for part in text[3:-1].split(")|(?:"))


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
        return True
    except re.error:
        return False
