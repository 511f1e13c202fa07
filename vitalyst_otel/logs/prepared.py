"""What every output of one log record shares, worked out once per record: the message, the
extra fields and the exception fields, redacted, and the current span's context.

The JSON console line, the log file and the OTLP bridge each read it through :func:`prepared`;
the first one computes it and leaves it on the record (``record._vitalyst_prepared``), the others
take it from there. It is reused only by a handler with the same redactor and only while the
record is unchanged (same ``msg``, ``args`` and number of attributes): a handler filter that
adds a field, or a handler with another redactor, gets a fresh one.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from opentelemetry.context import get_current
from opentelemetry.trace import get_current_span
from pythonjsonlogger.core import RESERVED_ATTRS

from vitalyst_otel.errors import error_type
from vitalyst_otel.logs.message import message_of
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.redaction.records import clean_exception_fields

try:  # the context key the API stores the current span under: one dict lookup per line
    from opentelemetry.trace.propagation import _SPAN_KEY
except ImportError:  # pragma: no cover - a future API that moved it
    _SPAN_KEY = None

ATTRIBUTE = "_vitalyst_prepared"
# Attributes every LogRecord has; anything else on a record is an extra field.
# color_message is uvicorn's copy of the message with ANSI colour escapes: never a field.
STANDARD_ATTRS = frozenset(RESERVED_ATTRS) | {"taskName", "message", "asctime", "otelSpanID",
                                              "otelTraceID", "otelTraceSampled", "otelServiceName",
                                              "color_message", ATTRIBUTE}
# A record with no more attributes than a fresh one has no extra fields: skip looking for them.
PLAIN_RECORD_SIZE = len(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)
_NO_FIELDS: dict[str, Any] = {}
_INVALID = get_current_span().get_span_context()


def current_span_context():
    """The current span's context (invalid outside a span), without the API's generic checks."""
    if _SPAN_KEY is None:
        return get_current_span().get_span_context()
    span = get_current().get(_SPAN_KEY)
    return span.get_span_context() if span is not None else _INVALID


def exception_fields(exc_info) -> dict[str, str]:
    exc_type, exc, tb = exc_info
    if exc_type is None:
        return {}
    return {
        "exception.type": error_type(exc_type),
        "exception.message": str(exc),
        "exception.stacktrace": "".join(traceback.format_exception(exc_type, exc, tb)),
    }


class Prepared:
    """``message`` and ``format_error`` (:func:`~vitalyst_otel.logs.message.message_of`),
    ``extra`` (the record's extra fields, redacted, values as given otherwise), ``exception``
    (``exception.*`` fields of ``exc_info``, redacted) and ``context`` (the current span's)."""

    __slots__ = ("message", "format_error", "extra", "exception", "context", "_redactor", "_msg", "_args",
                 "_size")

    def __init__(self, message, format_error, extra, exception, context, redactor, msg, args, size):
        self.message = message
        self.format_error = format_error
        self.extra = extra
        self.exception = exception
        self.context = context
        self._redactor = redactor
        self._msg = msg
        self._args = args
        self._size = size

    def __reduce__(self):  # a record pickled for another process (QueueHandler) carries no cache
        return (_stale, ())


def _stale() -> None:
    return None


def prepared(record: logging.LogRecord, redactor: Redactor | None) -> Prepared:
    """The record's shared fields for ``redactor`` (computed now unless an earlier handler did)."""
    fields = record.__dict__
    done = fields.get(ATTRIBUTE)
    if (done is not None and done._redactor is redactor and done._msg is record.msg
            and done._args is record.args and done._size == len(fields)):
        return done
    if done is not None:
        del fields[ATTRIBUTE]
    message, format_error = message_of(record)
    if redactor is not None:
        message = redactor.text(message)
    extra = _NO_FIELDS
    if len(fields) > PLAIN_RECORD_SIZE:
        keys = fields.keys() - STANDARD_ATTRS
        if keys:
            if redactor is None:
                extra = {key: fields[key] for key in keys}
            else:
                value = redactor.value
                extra = {key: value(key, fields[key]) for key in keys}
    exception = _NO_FIELDS
    exc_info = record.exc_info
    if exc_info and exc_info[0] is not None:
        exception = exception_fields(exc_info)
        if redactor is not None:
            clean_exception_fields(redactor, exception)
    done = Prepared(message, format_error, extra, exception, current_span_context(), redactor, record.msg,
                    record.args, len(fields) + 1)
    fields[ATTRIBUTE] = done
    return done


def access_prepared(message: str, format_error: str | None, extra: dict[str, Any], redactor: Redactor,
                    msg: Any = None, args: Any = None, size: int = 0) -> Prepared:
    """The access line's shared fields, from what the access filter has just redacted: its
    ``extra`` (the line's only extra fields) and the message made of them. Every output takes
    these as they are, so nothing on the access line is redacted twice or looked for again."""
    return Prepared(message, format_error, extra, _NO_FIELDS, current_span_context(), redactor, msg, args, size)


def prepare_access_line(record: logging.LogRecord, redactor: Redactor, extra: dict[str, Any]) -> Prepared:
    """:func:`access_prepared` for an access record, kept on it for its handlers."""
    message, format_error = message_of(record)
    fields = record.__dict__
    fields.pop(ATTRIBUTE, None)
    done = access_prepared(message, format_error, extra, redactor, record.msg, record.args, len(fields) + 1)
    fields[ATTRIBUTE] = done
    return done
