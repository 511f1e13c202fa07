"""The OTLP log bridge: a logging.Handler that turns stdlib records into OpenTelemetry log
records on the SDK LoggerProvider (and so into the batch processor and exporter).

There is one per process: :func:`vitalyst_otel.logs.setup.install` tags it and replaces, never
adds, on a second call or after a ``dictConfig``.
"""

from __future__ import annotations

import logging
import time

from opentelemetry._logs import SeverityNumber
from opentelemetry.context import get_current

from vitalyst_otel.logs.json_format import STANDARD_ATTRS, exception_fields
from vitalyst_otel.redaction import Redactor

_SEVERITY = {
    logging.DEBUG: (SeverityNumber.DEBUG, "DEBUG"),
    logging.INFO: (SeverityNumber.INFO, "INFO"),
    logging.WARNING: (SeverityNumber.WARN, "WARN"),
    logging.ERROR: (SeverityNumber.ERROR, "ERROR"),
    logging.CRITICAL: (SeverityNumber.FATAL, "FATAL"),
}
# Our own export diagnostics must not feed back into the pipeline they report on.
_OWN_LOGGERS = ("vitalyst_otel.export", "opentelemetry.")


def severity(levelno: int) -> tuple[SeverityNumber, str]:
    found = _SEVERITY.get(levelno)
    if found is not None:
        return found
    for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= level:
            return _SEVERITY[level][0], logging.getLevelName(levelno)
    return SeverityNumber.DEBUG, logging.getLevelName(levelno)


class OtlpLogHandler(logging.Handler):
    def __init__(self, logger_provider, redactor: Redactor | None = None,
                 level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.provider = logger_provider
        self.redactor = redactor
        self._loggers: dict[str, object] = {}

    def _logger(self, name: str):
        logger = self._loggers.get(name)
        if logger is None:
            logger = self.provider.get_logger(name)
            if len(self._loggers) < 1024:
                self._loggers[name] = logger
        return logger

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_OWN_LOGGERS):
            return
        try:
            redactor = self.redactor
            message = record.getMessage()
            attributes = {}
            for key, value in record.__dict__.items():
                if key not in STANDARD_ATTRS:
                    attributes[key] = value if isinstance(value, (str, bool, int, float)) else str(value)
            if record.exc_info and record.exc_info[0] is not None:
                attributes.update(exception_fields(record.exc_info))
                attributes["code.file.path"] = record.pathname
                attributes["code.function.name"] = record.funcName
                attributes["code.line.number"] = record.lineno
            if redactor is not None:
                message = redactor.text(message)
                attributes = redactor.mapping(attributes)
            number, text = severity(record.levelno)
            self._logger(record.name).emit(
                timestamp=int(record.created * 1e9),
                observed_timestamp=time.time_ns(),
                context=get_current(),
                severity_number=number,
                severity_text=text,
                body=message,
                attributes=attributes,
            )
        except Exception:  # noqa: BLE001 - telemetry must never break a log call
            self.handleError(record)

    def flush(self) -> None:
        """Nothing to do: the batch processor flushes on its own schedule and at shutdown."""
