"""The logging variants: one INFO line with two arguments, written to the same /dev/null sink by
each formatter or handler we compare. Each setup returns a zero-argument function that logs one
line, and a function that flushes and stops whatever the variant started.

The JSON variants correlate the line with the active span (trace_id, span_id): the benchmark
process runs every variant inside one active span. To add a variant: write a setup function and
add it to :data:`SETUPS` and the suite's variant list.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from benchmarks.apps import Recorder, Unavailable, endpoint

FMT = "%(asctime)s %(levelname)s %(name)s %(message)s"
MESSAGE = "item %s fetched in %d ms"
ARGS = ("abc", 12)

Setup = Callable[["Sinks"], Recorder]


class Sinks:
    """The one sink every variant writes to: /dev/null, as a text stream and as a byte stream."""

    def __init__(self) -> None:
        self.text = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        self.binary = open(os.devnull, "wb")  # noqa: SIM115


def _logger(handler: logging.Handler, formatter: logging.Formatter | None = None,
            filters=()) -> logging.Logger:
    if formatter is not None:
        handler.setFormatter(formatter)
    for item in filters:
        handler.addFilter(item)
    logger = logging.getLogger("bench.app")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def _stdlib(logger: logging.Logger, **kwargs) -> Recorder:
    def one() -> None:
        logger.info(MESSAGE, *ARGS)

    return Recorder(one, **kwargs)


class TraceIdFilter(logging.Filter):
    """What python-json-logger users add for correlation: the active span's ids on the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from opentelemetry.trace import get_current_span

        context = get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = f"{context.trace_id:032x}"
            record.span_id = f"{context.span_id:016x}"
        return True


def plain(sinks: Sinks):
    return _stdlib(_logger(logging.StreamHandler(sinks.text), logging.Formatter(FMT)))


def pjl(sinks: Sinks):
    from pythonjsonlogger.json import JsonFormatter

    return _stdlib(_logger(logging.StreamHandler(sinks.text), JsonFormatter(FMT)))


def pjl_trace(sinks: Sinks):
    from pythonjsonlogger.json import JsonFormatter

    logger = _logger(logging.StreamHandler(sinks.text), JsonFormatter(FMT), [TraceIdFilter()])
    return _stdlib(logger)


def pjl_orjson_trace(sinks: Sinks):
    try:
        from pythonjsonlogger.orjson import OrjsonFormatter
    except ImportError as exc:
        raise Unavailable(f"python-json-logger without its orjson formatter ({exc})") from exc
    logger = _logger(logging.StreamHandler(sinks.text), OrjsonFormatter(FMT), [TraceIdFilter()])
    return _stdlib(logger)


def structlog_orjson(sinks: Sinks):
    try:
        import orjson
        import structlog
    except ImportError as exc:
        raise Unavailable(f"structlog or orjson is not installed ({exc})") from exc
    from opentelemetry.trace import get_current_span

    def add_trace(logger, method, event_dict):
        context = get_current_span().get_span_context()
        if context.is_valid:
            event_dict["trace_id"] = f"{context.trace_id:032x}"
            event_dict["span_id"] = f"{context.span_id:016x}"
        return event_dict

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_trace,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.BytesLoggerFactory(file=sinks.binary),
        cache_logger_on_first_use=True,
    )
    log = structlog.get_logger("bench.app")

    def one() -> None:  # structlog's idiom: the values as key-value pairs
        log.info("item fetched", item_id=ARGS[0], duration_ms=ARGS[1])

    return Recorder(one)


def ours_formatter(sinks: Sinks):
    from vitalyst_otel.logs import JsonFormatter

    logger = _logger(logging.StreamHandler(sinks.text), JsonFormatter(service_name="bench"))
    return _stdlib(logger)


def ours_configure(sinks: Sinks):
    """Our handlers as configure() installs them on the root logger: the JSON console handler
    on stdout (here the sink) and the OTLP log bridge exporting to the receiver."""
    handle = _configured(sinks)
    logger = logging.getLogger("bench.app")
    return _stdlib(logger, flush=_flush_logs, stop=lambda: handle.shutdown(10.0),
                   otlp=True)


ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'
ACCESS_ARGS = ("127.0.0.1:50000", "GET", "/items/7?q=widget", "1.1", 200)


def ours_access_line(sinks: Sinks):
    """One access line as uvicorn writes it (logger ``uvicorn.access``, its format and five
    arguments, a query string) through configure()'s access filter, JSON line and OTLP record:
    the direct path (vitalyst_otel/logs/access_line.py)."""
    handle = _configured(sinks)
    logger = logging.getLogger("uvicorn.access")
    logger.setLevel(logging.INFO)

    def one() -> None:
        logger.info(ACCESS_FORMAT, *ACCESS_ARGS)

    return Recorder(one, flush=_flush_logs, stop=lambda: handle.shutdown(10.0), otlp=True)


def ours_access_line_logging(sinks: Sinks):
    """ours_access_line with a pass-through filter on ``uvicorn.access`` (as a user's would be):
    the line through logging, the path every access line took before the direct one."""
    recorder = ours_access_line(sinks)
    logging.getLogger("uvicorn.access").addFilter(lambda record: True)
    return recorder


def ours_configure_old_redactor(sinks: Sinks):
    """ours_configure with the redactor as it was before issue 10 (benchmarks/old_redaction.py):
    the baseline of the new redactor's per-line cost."""
    from benchmarks.old_redaction import install_baseline

    install_baseline()
    return ours_configure(sinks)


def _logger_provider(exporter):
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    return provider


def _flush_logs(timeout_s: float = 10.0) -> bool:
    """Export what the log bridge's and the audit trail's queues hold, on this thread, and
    nothing else. ``handle.force_flush()`` would also collect and export every metric (and end
    a thread per call): paid once per export interval in a service, it is not a log line's cost,
    yet flushed every ``chunk`` lines it added several µs to each."""
    from vitalyst_otel.logs.bridge import OtlpLogHandler
    from vitalyst_otel.setup.lifecycle import lifecycle

    queues = [h.queue for h in logging.getLogger().handlers if isinstance(h, OtlpLogHandler)]
    audit = lifecycle.audit
    if audit is not None and audit.queue is not None:
        queues.append(audit.queue)
    return all([queue.force_flush(timeout_s) for queue in queues])


def _configured(sinks: Sinks, **env: str):
    """``vitalyst_otel.configure()`` with ``env`` on top of the defaults, stdout on the sink."""
    import vitalyst_otel

    os.environ.setdefault("OTEL_LOGS_EXPORTER", "otlp")
    os.environ.update(env)
    sys.stdout = sinks.text
    return vitalyst_otel.configure()


def bridge_ours(sinks: Sinks):
    """Our OTLP log bridge alone, as configure() builds and installs it (traces, metrics and the
    stdout JSON handler off), exporting to the receiver."""
    handle = _configured(sinks, OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none",
                         VITALYST_LOG_FORMAT="none")
    logger = logging.getLogger("bench.app")
    logger.setLevel(logging.INFO)  # with VITALYST_LOG_FORMAT=none the root level is left alone
    return _stdlib(logger, flush=_flush_logs, stop=lambda: handle.shutdown(10.0),
                   otlp=True)


def bridge_sdk(sinks: Sinks):
    """The SDK's own logging.Handler with the SDK's OTLP/HTTP log exporter."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggingHandler

    provider = _logger_provider(OTLPLogExporter(endpoint=f"{endpoint()}/v1/logs"))
    logger = _logger(LoggingHandler(logger_provider=provider))
    return _stdlib(logger, flush=provider.force_flush, stop=provider.shutdown, otlp=True)


def ours_audit(sinks: Sinks):
    """One audit record (issue 4) with configure()'s defaults: a JSON line on stdout and an OTLP
    log record on the audit queue."""
    try:
        from vitalyst_otel import audit
    except ImportError as exc:
        raise Unavailable(f"vitalyst_otel.audit does not exist ({exc})") from exc
    handle = _configured(sinks)

    def one() -> None:
        audit.record("alice", "node.create", "node/42", "success", node_type="concept")

    return Recorder(one, flush=_flush_logs, stop=lambda: handle.shutdown(10.0), otlp=True)


def ours_business(sinks: Sinks):
    """One business-meter recording (issue 4), here as a ratio to a plain log line."""
    from benchmarks.metric_variants import ours_business as setup

    sys.stdout = sinks.text
    return setup()


SETUPS: dict[str, Setup] = {
    "plain": plain,
    "pjl": pjl,
    "pjl_trace": pjl_trace,
    "pjl_orjson_trace": pjl_orjson_trace,
    "structlog_orjson": structlog_orjson,
    "ours_formatter": ours_formatter,
    "ours_configure": ours_configure,
    "ours_access_line": ours_access_line,
    "ours_access_line_logging": ours_access_line_logging,
    "ours_configure_old_redactor": ours_configure_old_redactor,
    "bridge_ours": bridge_ours,
    "bridge_sdk": bridge_sdk,
    "ours_audit": ours_audit,
    "ours_business": ours_business,
}

DESCRIPTIONS = {
    "plain": "stdlib logging.Formatter text line (baseline)",
    "pjl": "python-json-logger JsonFormatter, no trace ids",
    "pjl_trace": "python-json-logger JsonFormatter + trace-id filter",
    "pjl_orjson_trace": "python-json-logger OrjsonFormatter + trace-id filter",
    "structlog_orjson": "structlog, JSONRenderer(orjson), BytesLogger, trace-id processor",
    "ours_formatter": "vitalyst_otel.logs.JsonFormatter on a StreamHandler",
    "ours_configure": "root logger as configure() leaves it: JSON stdout + OTLP bridge (exporting)",
    "ours_access_line": "one uvicorn access line through configure()'s access filter: JSON stdout + OTLP record",
    "ours_access_line_logging": "ours_access_line with a pass-through filter on uvicorn.access (the logging path)",
    "ours_configure_old_redactor": "ours_configure with the pre-issue-10 redactor (baseline of the new one)",
    "bridge_ours": "our OTLP bridge only, as configure() installs it (JSON stdout, traces, metrics off)",
    "bridge_sdk": "SDK LoggingHandler only, LoggerProvider + batch + SDK OTLP/HTTP exporter",
    "ours_audit": "vitalyst_otel.audit.record(...) after configure(): JSON line + OTLP record",
    "ours_business": "one business-meter recording (meters.validation_processed), configure()d",
}
