"""Installing the log handlers: once, idempotently, and again after anyone's ``dictConfig``.

- The root logger gets the JSON (or text) console handler and the OTLP bridge, each tagged, so a
  second install replaces rather than adds. A plain console handler already on the root logger
  (from ``basicConfig``, say) is set aside, since it would print every line twice; ``remove()``
  puts it back. ``logging.basicConfig`` is never called.
- Server loggers (uvicorn, gunicorn, hypercorn) lose their own handlers and propagate to the root
  logger, so their lines come out in the same JSON shape; uvicorn's access log lines get
  structured fields, a redacted query string, and are dropped for excluded paths (health,
  metrics); while only our handlers listen, they are written without a ``LogRecord``
  (:mod:`vitalyst_otel.logs.access_line`).
- ``logging.config.dictConfig``/``fileConfig`` are wrapped once: after the original runs (uvicorn
  calls it at start-up), the handlers and server loggers are put back as they were.
"""

from __future__ import annotations

import logging
import logging.config
import logging.handlers
import sys
from dataclasses import dataclass, field

from vitalyst_otel.config import Settings
from vitalyst_otel.http.access_log import ACCESS_LOGGERS, route_access_lines
from vitalyst_otel.logs import access_line
from vitalyst_otel.logs.access_filter import AccessLogFilter
from vitalyst_otel.logs.bridge import OtlpLogHandler
from vitalyst_otel.logs.json_format import JsonFormatter, JsonLineHandler, TextFormatter
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.redaction.records import guard_error_report

TAG = "_vitalyst_otel"
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn", "gunicorn.error",
                  "gunicorn.access", "hypercorn.error", "hypercorn.access")


@dataclass
class LoggingSetup:
    settings: Settings
    redactor: Redactor
    hasher: object | None = None
    handlers: list[logging.Handler] = field(default_factory=list)
    displaced: list[logging.Handler] = field(default_factory=list)

    def apply(self) -> None:
        """(Re)attach our handlers to the root logger and adopt the server loggers."""
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, TAG, False) and handler not in self.handlers:
                root.removeHandler(handler)
        for handler in self.handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        if self.settings.log_format != "none":
            # Exactly one console handler: ours. Others would print every line twice.
            for handler in list(root.handlers):
                if _is_console(handler) and not getattr(handler, TAG, False):
                    root.removeHandler(handler)
                    self.displaced.append(handler)
            root.setLevel(self.settings.log_level)
            for name in SERVER_LOGGERS:
                logger = logging.getLogger(name)
                for handler in list(logger.handlers):
                    if not getattr(handler, TAG, False):
                        logger.removeHandler(handler)
                logger.propagate = True
        excluded = self.settings.excluded_paths
        for name in ACCESS_LOGGERS:
            logger = logging.getLogger(name)
            for existing in [f for f in logger.filters if isinstance(f, AccessLogFilter)]:
                logger.removeFilter(existing)
            access_filter = AccessLogFilter(excluded, self.redactor, self.settings.access_log, self.hasher)
            logger.addFilter(access_filter)
            access_line.install(logger, access_filter, TAG)

    def activate(self) -> None:
        """Apply now, and again after every ``dictConfig``/``fileConfig``."""
        self.apply()
        _hook(self)

    def add_bridge(self, handler: OtlpLogHandler) -> None:
        """Attach the OTLP log bridge (replacing any earlier one)."""
        self.remove_bridge()
        route_access_lines(handler, self.settings.access_log_otlp)
        self.handlers.append(_tag(guard_error_report(handler, self.redactor)))
        self.apply()

    def remove_bridge(self) -> None:
        root = logging.getLogger()
        for handler in [h for h in self.handlers if isinstance(h, OtlpLogHandler)]:
            root.removeHandler(handler)
            self.handlers.remove(handler)


def _tag(handler: logging.Handler) -> logging.Handler:
    setattr(handler, TAG, True)
    return handler


def _is_console(handler: logging.Handler) -> bool:
    return (type(handler) in (logging.StreamHandler, JsonLineHandler)
            and getattr(handler, "stream", None) in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__))


def formatter_for(settings: Settings, redactor: Redactor) -> logging.Formatter:
    if settings.log_format == "text":
        return TextFormatter(redactor)
    return JsonFormatter(service_name=settings.service_name, redactor=redactor)


def install(settings: Settings, redactor: Redactor, hasher=None) -> LoggingSetup:
    setup = LoggingSetup(settings, redactor, hasher)
    if settings.log_format != "none":
        console = _tag(guard_error_report(JsonLineHandler(sys.stdout), redactor))
        console.setFormatter(formatter_for(settings, redactor))
        setup.handlers.append(console)
        if settings.log_file is not None:
            setup.handlers.append(_tag(guard_error_report(_file_handler(settings, redactor), redactor)))
    setup.activate()
    return setup


def _file_handler(settings: Settings, redactor: Redactor) -> logging.Handler:
    if settings.log_file_rotation == "time":
        handler: logging.Handler = logging.handlers.TimedRotatingFileHandler(
            settings.log_file, when=settings.log_file_when, backupCount=settings.log_file_backup_count,
            utc=True, delay=True, encoding="utf-8")
    else:
        handler = logging.handlers.RotatingFileHandler(
            settings.log_file, maxBytes=settings.log_file_max_bytes,
            backupCount=settings.log_file_backup_count, delay=True, encoding="utf-8")
    handler.setFormatter(JsonFormatter(service_name=settings.service_name, redactor=redactor))
    return handler


# --- surviving dictConfig -------------------------------------------------------------------

def _hook(setup: LoggingSetup) -> None:
    for name in ("dictConfig", "fileConfig"):
        current = getattr(logging.config, name)
        original = getattr(current, "__wrapped__", current)

        def wrapper(*args, __original=original, **kwargs):
            result = __original(*args, **kwargs)
            wrapper.setup.apply()
            return result

        wrapper.__wrapped__ = original
        wrapper.setup = setup
        setattr(logging.config, name, wrapper)
