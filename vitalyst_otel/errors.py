"""Error tracking for unhandled exceptions in requests.

The server middleware hands every exception that escapes the app to :class:`ErrorTracker`: the
span already has the error status and the exception event; this adds one ERROR record on the
``vitalyst.errors`` logger with the stack and a stable ``error.fingerprint``, and counts
``vitalyst.exceptions`` by ``error.type`` (the first 50 types; later ones as ``other``). uvicorn
would log the same exception again ("Exception in ASGI application"); that line is dropped, so an
exception is logged once per request.

The fingerprint is a hash of the exception type and the innermost three frames of application
code (module and function, not line numbers), so the same bug groups together across releases
and processes, and a different call path does not.
"""

from __future__ import annotations

import hashlib
import logging
import sysconfig
import traceback

from opentelemetry import metrics

from vitalyst_otel.cardinality import FirstSeen

_log = logging.getLogger("vitalyst.errors")
MARK = "__vitalyst_logged__"
_LIBRARY_ROOTS = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")})


def error_type(exc: BaseException | type[BaseException]) -> str:
    """The exception's class as ``error.type`` and ``exception.type`` name it: fully qualified,
    except for builtins and classes of the main script."""
    # A group of one (anyio's task group around a streaming response, Starlette < 0.38) is named
    # by what went wrong, not by the wrapper.
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    cls = exc if isinstance(exc, type) else type(exc)
    return cls.__qualname__ if cls.__module__ in ("builtins", "__main__") else f"{cls.__module__}.{cls.__qualname__}"


def _is_app_frame(filename: str) -> bool:
    return not filename.startswith(_LIBRARY_ROOTS) and "site-packages" not in filename and not filename.startswith("<")


def fingerprint(exc: BaseException, frames: int = 3) -> str:
    stack = [(frame.f_globals.get("__name__", "?"), frame.f_code.co_name, frame.f_code.co_filename)
             for frame, _ in traceback.walk_tb(exc.__traceback__)]
    app = [entry for entry in stack if _is_app_frame(entry[2])] or stack
    parts = [error_type(exc), *(f"{module}:{function}" for module, function, _ in app[-frames:])]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


class DuplicateExceptionFilter(logging.Filter):
    """Drops a server's own log line for an exception we already logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and getattr(exc, MARK, False))


class ErrorTracker:
    def __init__(self, meter_provider=None, type_limit: int = 50):
        self.types = FirstSeen("error.type", limit=type_limit)
        meter = metrics.get_meter("vitalyst_otel", meter_provider=meter_provider)
        self.counter = meter.create_counter("vitalyst.exceptions", unit="{exception}",
                                            description="Unhandled exceptions in requests, by type.")

    def unhandled(self, exc: BaseException, method: str, route: str | None, path: str) -> None:
        if getattr(exc, MARK, False) or not isinstance(exc, Exception):
            return
        kind = error_type(exc)
        self.counter.add(1, {"error.type": self.types(kind)})
        extra = {"error.type": kind, "error.fingerprint": fingerprint(exc), "http.request.method": method}
        if route:
            extra["http.route"] = route
        _log.error("Unhandled %s in %s %s", kind, method, route or path,
                   exc_info=(type(exc), exc, exc.__traceback__), extra=extra)
        try:
            setattr(exc, MARK, True)
        except AttributeError:  # exceptions with __slots__: the server may log it once more
            pass


def install_duplicate_filter(logger_names=("uvicorn.error", "hypercorn.error")) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DuplicateExceptionFilter) for f in logger.filters):
            logger.addFilter(DuplicateExceptionFilter())
