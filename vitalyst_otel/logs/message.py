"""A log record's message, even when its arguments do not fit its format (``log.info("%d", "x")``).

``record.getMessage()`` raises then, and the stdlib's answer is a "--- Logging error ---" report
on stderr and no line at all. Here the unformatted template stands in for the message and the
error is returned beside it (``log.format_error``); the arguments are never rendered (they are
what did not fit, and may hold anything).
"""

from __future__ import annotations

import logging

from vitalyst_otel.safe_values import safe_str

ERROR_FIELD = "log.format_error"
_MAX_ERROR = 200


def message_of(record: logging.LogRecord) -> tuple[str, str | None]:
    """``(message, None)``, or ``(the template, "ErrorType: what went wrong")``."""
    try:
        return record.getMessage(), None
    except Exception as exc:  # noqa: BLE001 - whatever a format or an argument's __str__ raises
        return _failed(record.msg, exc)


def message_from(msg: object, args: tuple) -> tuple[str, str | None]:
    """:func:`message_of` for a template and its arguments that are not (yet) a record: the
    message ``LogRecord.getMessage`` would make of them."""
    try:
        message = str(msg)
        return (message % args if args else message), None
    except Exception as exc:  # noqa: BLE001
        return _failed(msg, exc)


def _failed(msg: object, exc: Exception) -> tuple[str, str]:
    template, _ = safe_str(msg)
    detail, _ = safe_str(exc)
    return template, f"{type(exc).__name__}: {detail}"[:_MAX_ERROR]
