"""The access line written directly, while only our handlers listen to it.

uvicorn writes one access line per request, ``logging.getLogger("uvicorn.access").info(fmt,
*args)``; through logging that is ``findCaller``, ``makeRecord``, the filter and each handler
under its lock. When nothing but ours would see the line, the same line is built once, without a
``LogRecord``: the access filter's :meth:`~vitalyst_otel.logs.access_filter.AccessLogFilter.reshape`
of the arguments, one set of shared fields, the JSON line (the console handler's formatter,
written under its lock) and the OTLP record (the bridge's). The output is the logging path's,
field for field (``tests/unit/logs/test_access_line.py``).

"Only ours" is checked on every call, so whatever changes at any time takes the logging path at
once: the logger with a handler or any filter besides ours, or not propagating; a logger between
it and the root with a handler; on the root a handler that is not our tagged JSON console handler
or OTLP bridge (a user's, a file handler, the text format), a handler filter (other than the
bridge's ``VITALYST_ACCESS_LOG_OTLP=false`` one), a handler level above INFO; a log record factory
of someone's; a call with keyword arguments (``exc_info``, ``extra``, ...); arguments that are not
an access line's five.
"""

from __future__ import annotations

import logging
import time

from vitalyst_otel.http.access_log import SkipAccessLines
from vitalyst_otel.logs.access_filter import DROP, NOT_ACCESS, AccessLogFilter
from vitalyst_otel.logs.bridge import OtlpLogHandler
from vitalyst_otel.logs.json_format import JsonFormatter, JsonLineHandler
from vitalyst_otel.logs.line_output import passes_all, write_through
from vitalyst_otel.logs.message import message_from
from vitalyst_otel.logs.prepared import access_prepared

_INFO = logging.INFO
_DEFAULT_FACTORY = logging.getLogRecordFactory()


class DirectAccessLine:
    """``logger.info`` for an access logger: direct while only ours listen, logging otherwise."""

    __slots__ = ("logger", "access_filter", "tag")

    def __init__(self, logger: logging.Logger, access_filter: AccessLogFilter, tag: str) -> None:
        self.logger = logger
        self.access_filter = access_filter
        self.tag = tag

    def info(self, msg, *args, **kwargs) -> None:
        logger = self.logger
        if not logger.isEnabledFor(_INFO):
            return
        sinks = None if kwargs else self.sinks()
        if sinks is not None:
            shaped = self.access_filter.reshape(args)
            if shaped is DROP:
                return
            if shaped is not NOT_ACCESS:
                self._write(msg, shaped, *sinks)
                return
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1  # the caller's frame, not this one
        logging.Logger.info(logger, msg, *args, **kwargs)

    def sinks(self) -> tuple[JsonLineHandler | None, OtlpLogHandler | None] | None:
        """(our console handler or None, our bridge or None when it takes no access lines), or
        None when anyone else would see the line."""
        logger = self.logger
        filters = logger.filters
        if (logger.handlers or not logger.propagate or len(filters) != 1 or filters[0] is not self.access_filter
                or logging.getLogRecordFactory() is not _DEFAULT_FACTORY):
            return None
        node = logger.parent
        while node.parent is not None:  # the loggers between it and the root ("uvicorn")
            if node.handlers or not node.propagate:
                return None
            node = node.parent
        redactor = self.access_filter.redactor
        tag = self.tag
        console = bridge = None
        bridge_seen = False
        for handler in node.handlers:
            if not getattr(handler, tag, False) or handler.level > _INFO:
                return None
            kind = type(handler)
            if kind is JsonLineHandler and console is None and passes_all(handler, _INFO):
                formatter = handler.formatter
                if (type(formatter) is not JsonFormatter or formatter.redactor is not redactor
                        or getattr(handler.stream, "buffer", None) is None):
                    return None
                console = handler
            elif kind is OtlpLogHandler and not bridge_seen and handler.redactor is redactor:
                bridge_seen = True
                if not handler.filters:
                    bridge = handler
                elif not all(type(f) is SkipAccessLines for f in handler.filters):
                    return None
            else:
                return None
        if console is None and not bridge_seen:
            return None
        return console, bridge

    def _write(self, msg, shaped: tuple, console: JsonLineHandler | None, bridge: OtlpLogHandler | None) -> None:
        args, extra = shaped
        created = time.time()
        message, format_error = message_from(msg, args)
        shared = access_prepared(message, format_error, extra, self.access_filter.redactor)
        name = self.logger.name
        if console is not None:
            try:
                write_through(console, console.formatter.prepared_line(created, logging.getLevelName(_INFO), name,
                                                                       shared))
            except RecursionError:
                raise
            except Exception:  # noqa: BLE001 - reported as the handler reports its own errors
                console.handleError(self._record(msg, args))
        if bridge is not None:
            try:
                bridge.enqueue(name, _INFO, created, shared)
            except Exception:  # noqa: BLE001 - telemetry must never break a log call
                bridge.handleError(self._record(msg, args))

    def _record(self, msg, args) -> logging.LogRecord:
        """A record for an error report only (it names the logger and the template)."""
        return logging.LogRecord(self.logger.name, _INFO, "(direct access line)", 0, msg, args, None)


def install(logger: logging.Logger, access_filter: AccessLogFilter, tag: str) -> None:
    """Let ``logger.info`` write access lines directly (replacing an earlier installation)."""
    logger.info = DirectAccessLine(logger, access_filter, tag).info
