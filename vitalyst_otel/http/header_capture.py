"""Captured HTTP headers as span attributes, as the semantic conventions name them
(``http.request.header.<lowercase name>`` / ``http.response.header.<lowercase name>``, each a
list of strings, one per occurrence), configured by the standard variables
OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST / _SERVER_RESPONSE / _SANITIZE_FIELDS.

Matching is contrib's: each configured entry is a regular expression matched case-insensitively
against the whole header name (``x-.*`` captures every ``x-`` header). A value is masked when its
name matches a sanitize entry or is a credential by the distribution's redaction keys
(``authorization``, ``cookie``, ``x-api-key``, ...), so listing ``Authorization`` for capture
records ``[REDACTED]``, never the credential; other values still go through the free-text
redaction (``token=...``, bearer credentials) and are capped in length and count.
"""

from __future__ import annotations

import re

from vitalyst_otel.http.exclusions import joined_pattern
from vitalyst_otel.redaction import MASK, Redactor

MAX_VALUE_CHARS = 1024
MAX_VALUES = 16
_MAX_NAMES = 1024


class HeaderCapture:
    """Which header names become which attributes; decided once per distinct name."""

    def __init__(self, prefix: str, names: tuple[str, ...], sanitize: tuple[str, ...], redactor: Redactor):
        self.prefix = prefix
        self.capture = joined_pattern(names, re.IGNORECASE)
        self.sanitize = joined_pattern(sanitize, re.IGNORECASE)
        self.redactor = redactor
        self._decisions: dict[bytes, tuple[str, bool] | None] = {}

    def __bool__(self) -> bool:
        return self.capture is not None

    def _decide(self, raw_name: bytes) -> tuple[str, bool] | None:
        decision = self._decisions.get(raw_name, False)
        if decision is not False:
            return decision
        name = raw_name.decode("latin-1").lower()
        decision = None
        if self.capture is not None and self.capture.fullmatch(name):
            masked = bool(self.sanitize is not None and self.sanitize.fullmatch(name)) \
                or self.redactor.is_sensitive(name)
            decision = (self.prefix + name, masked)
        if len(self._decisions) < _MAX_NAMES:
            self._decisions[raw_name] = decision
        return decision

    def attributes(self, headers) -> dict[str, list[str]]:
        """``{attribute: [values]}`` for the captured headers among ``headers`` (ASGI pairs)."""
        found: dict[str, list[str]] = {}
        for raw_name, raw_value in headers:
            decision = self._decide(raw_name)
            if decision is None:
                continue
            key, masked = decision
            values = found.setdefault(key, [])
            if len(values) >= MAX_VALUES:
                continue
            if masked:
                values.append(MASK)
            else:
                values.append(self.redactor.text(raw_value[:MAX_VALUE_CHARS].decode("latin-1")))
        return found


def server_header_captures(request: tuple[str, ...], response: tuple[str, ...], sanitize: tuple[str, ...],
                           redactor: Redactor) -> tuple[HeaderCapture | None, HeaderCapture | None]:
    """The request and response captures, None where nothing is configured (no per-request cost)."""
    captures = (HeaderCapture("http.request.header.", request, sanitize, redactor),
                HeaderCapture("http.response.header.", response, sanitize, redactor))
    return tuple(capture if capture else None for capture in captures)
