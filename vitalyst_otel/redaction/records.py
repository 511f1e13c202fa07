"""Log records on the paths that do not pass through our formatters: exception fields, the SDK's
logs API (a processor that cleans each record before the batch processor takes it), and the
stdlib's "--- Logging error ---" report, which would print a failed record's raw arguments."""

from __future__ import annotations

import logging
import sys
import traceback

from opentelemetry.sdk._logs import LogRecordProcessor

from vitalyst_otel.redaction.redactor import Redactor
from vitalyst_otel.redaction.spans import clean_attributes

EXCEPTION_TEXT = ("exception.message", "exception.stacktrace", "stack")


def clean_exception_fields(redactor: Redactor, fields: dict) -> dict:
    """``exception.message``, ``exception.stacktrace`` (and a ``stack``) redacted, in place."""
    for key in EXCEPTION_TEXT:
        value = fields.get(key)
        if isinstance(value, str):
            fields[key] = redactor.text(value)
    return fields


class RedactingLogProcessor(LogRecordProcessor):
    """Add it to a LoggerProvider before the exporting processors: it cleans the body and the
    attributes of every record emitted through the OpenTelemetry logs API."""

    def __init__(self, redactor: Redactor):
        self.redactor = redactor

    def on_emit(self, log_data) -> None:  # LogData (SDK < 1.39) or a ReadWriteLogRecord
        record = getattr(log_data, "log_record", log_data)
        body = record.body
        if body is not None:
            record.body = self.redactor.value("body", body)
        attributes = record.attributes
        cleaned = clean_attributes(self.redactor, attributes)
        if cleaned is not attributes:
            record.attributes = cleaned

    emit = on_emit

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def guard_error_report(handler: logging.Handler, redactor: Redactor) -> logging.Handler:
    """Make ``handler.handleError`` report without the record's arguments, with the message
    template and the error text redacted."""

    def handle_error(record: logging.LogRecord) -> None:
        if not logging.raiseExceptions or sys.stderr is None:
            return
        exc_type, exc, tb = sys.exc_info()
        try:
            error = "".join(traceback.format_exception(exc_type, exc, tb)) if exc_type else "unknown error\n"
            args = record.args
            count = len(args) if isinstance(args, (tuple, list, dict)) else int(args is not None)
            sys.stderr.write(
                f"--- Logging error ---\n{redactor.text(error)}"
                f"Logger {record.name!r}, {record.pathname}:{record.lineno}\n"
                f"Message: {redactor.text(str(record.msg))!r}\n"
                f"Arguments: {count} (not shown)\n")
        except Exception:  # noqa: BLE001 - the report itself must not fail the log call
            pass
        finally:
            del tb

    handler.handleError = handle_error
    return handler
