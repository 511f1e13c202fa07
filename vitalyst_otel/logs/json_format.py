"""One JSON object per line, with OpenTelemetry field names so stdout lines and OTLP log records
join on ``trace_id`` in Elasticsearch.

Fields: ``timestamp`` (RFC 3339, UTC, milliseconds), ``level``, ``logger``, ``message``,
``service.name``, ``trace_id``/``span_id`` (lowercase hex, as OTLP) and ``trace_flags`` when a
span is current, ``exception.type``/``exception.message``/``exception.stacktrace`` for an
exception, then the record's extra fields (sensitive ones masked). orjson escapes control
characters, so a message cannot forge a second line.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from opentelemetry.trace import get_current_span
from pythonjsonlogger.core import BaseJsonFormatter

from vitalyst_otel.logs.line_output import write_line
from vitalyst_otel.logs.message import ERROR_FIELD as FORMAT_ERROR
from vitalyst_otel.logs.message import message_of
from vitalyst_otel.logs.prepared import (  # noqa: F401 - STANDARD_ATTRS, exception_fields: importable here too
    STANDARD_ATTRS,
    exception_fields,
    prepared,
)
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.safe_values import sanitize

REPAIRED_FIELD = "log.repaired"


class _Clock:
    """RFC 3339 timestamps; the date-time prefix is formatted once per second, not per line."""

    __slots__ = ("_second", "_prefix")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def format(self, created: float, msecs: float | None = None) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        millis = int(msecs if msecs is not None else (created - second) * 1000)
        if 0 <= millis < 1000:  # the tail from a table: a third of the cost of formatting it
            return self._prefix + _MILLIS[millis]
        return f"{self._prefix}.{millis:03d}Z"


_MILLIS = tuple(f".{millis:03d}Z" for millis in range(1000))


class JsonFormatter(BaseJsonFormatter):
    """A python-json-logger formatter with a fast path of its own (orjson, no field parsing).

    Usable from ``logging.config.dictConfig`` as ``{"()": "vitalyst_otel.logs.JsonFormatter"}``.
    """

    def __init__(self, *args: Any, service_name: str = "", redactor: Redactor | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service_name = service_name
        self.redactor = redactor
        self._clock = _Clock()
        self._ids = (0, ("", "", ""))  # span id -> its hex strings, for the lines of one span

    def to_dict(self, record: logging.LogRecord) -> dict[str, Any]:
        redactor = self.redactor
        shared = prepared(record, redactor)  # the OTLP bridge reads the same, redacted once
        data = self._head(record.created, record.msecs, record.levelname, record.name, shared)
        if shared.exception:
            data.update(shared.exception)
        elif record.exc_text:
            data["exception.stacktrace"] = record.exc_text if redactor is None else redactor.text(record.exc_text)
        if record.stack_info:
            data["stack"] = record.stack_info if redactor is None else redactor.text(record.stack_info)
        return self._with_extra(data, shared)

    def _head(self, created: float, msecs: float | None, levelname: str, name: str, shared) -> dict[str, Any]:
        data: dict[str, Any] = {
            "timestamp": self._clock.format(created, msecs),
            "level": levelname,
            "logger": name,
            "message": shared.message,
            "service.name": self.service_name,
        }
        if shared.format_error is not None:
            data[FORMAT_ERROR] = shared.format_error
        context = shared.context
        if context.is_valid:
            span_id, ids = self._ids
            if span_id != context.span_id:
                ids = (f"{context.trace_id:032x}", f"{context.span_id:016x}", f"{context.trace_flags:02x}")
                self._ids = (context.span_id, ids)
            data["trace_id"], data["span_id"], data["trace_flags"] = ids
        return data

    @staticmethod
    def _with_extra(data: dict[str, Any], shared) -> dict[str, Any]:
        for key, value in shared.extra.items():
            if key not in data:
                data[key] = value
        return data

    def format(self, record: logging.LogRecord) -> str:
        return self.format_line(record, newline=False).decode()

    def format_line(self, record: logging.LogRecord, newline: bool = True) -> bytes:
        """The line as UTF-8 bytes with its newline: what :class:`JsonLineHandler` writes."""
        return _encoded(self.to_dict(record), newline)

    def prepared_line(self, created: float, levelname: str, name: str, shared) -> bytes:
        """The line, with its newline, of a record that was never made: its time, level name,
        logger and shared fields (no exception, no stack), as :meth:`format_line` writes it."""
        return _encoded(self._with_extra(self._head(created, None, levelname, name, shared), shared), True)


def _encoded(data: dict[str, Any], newline: bool) -> bytes:
    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE if newline else orjson.OPT_NON_STR_KEYS
    try:
        return one_line(orjson.dumps(data, default=_fallback, option=option))
    except Exception:  # noqa: BLE001 - text orjson refuses (a lone surrogate), an object it cannot take
        return one_line(orjson.dumps(repaired_fields(data), option=option))


class JsonLineHandler(logging.StreamHandler):
    """Writes :class:`JsonFormatter` lines as bytes straight to the stream's buffer (no str
    round trip, no text-layer encoding); other formatters go through the usual path."""

    def emit(self, record: logging.LogRecord) -> None:
        formatter = self.formatter
        if not isinstance(formatter, JsonFormatter) or getattr(self.stream, "buffer", None) is None:
            super().emit(record)
            return
        try:
            write_line(self.stream, formatter.format_line(record))
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001
            self.handleError(record)


def repaired_fields(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` made encodable, with ``log.repaired`` naming the fields that needed it."""
    repaired: list[str] = []
    out = {name: sanitize(value, name, repaired) for name, value in data.items()}
    out[REPAIRED_FIELD] = repaired
    return out


# orjson escapes control characters but writes U+2028, U+2029 and U+0085 as they are; some line
# readers split on them. In a JSON document they can only stand inside a string: escape them.
_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"), (b"\xc2\x85", b"\\u0085"))


def one_line(line: bytes) -> bytes:
    """Serialized JSON with the Unicode line separators escaped, so it stays one line for every reader."""
    if b"\xe2\x80" in line or b"\xc2\x85" in line:
        for raw, escaped in _SEPARATORS:
            line = line.replace(raw, escaped)
    return line


def _fallback(value: Any) -> str:
    return repr(value) if not isinstance(value, (bytes, bytearray)) else value.decode("utf-8", "replace")


class TextFormatter(logging.Formatter):
    """``VITALYST_LOG_FORMAT=text``: readable lines with trace ids, newlines escaped."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        message, format_error = message_of(record)
        if format_error is not None:  # the template, unformatted, and the error: never no line
            record = logging.makeLogRecord({**record.__dict__, "msg": f"{message} [{format_error}]", "args": None})
        line = super().format(record)
        if self.redactor is not None:
            line = self.redactor.text(line)
        context = get_current_span().get_span_context()
        if context.is_valid:
            line += f" trace_id={context.trace_id:032x} span_id={context.span_id:016x}"
        return (line.replace("\r", "\\r").replace("\n", "\\n").replace("\u2028", "\\u2028")
                .replace("\u2029", "\\u2029").replace("\x85", "\\x85"))
