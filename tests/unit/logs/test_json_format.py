import json
import logging
import sys

from opentelemetry.sdk.trace import TracerProvider

from vitalyst_otel.logs.json_format import JsonFormatter, TextFormatter
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.config.variables import DEFAULT_REDACT_KEYS

tracer = TracerProvider().get_tracer("test")


def record(msg="hello %s", args=("world",), level=logging.INFO, exc_info=None, **extra):
    rec = logging.LogRecord("app.module", level, __file__, 10, msg, args, exc_info)
    rec.__dict__.update(extra)
    return rec


def fmt(rec, **kwargs):
    formatter = JsonFormatter(service_name="graph-api", redactor=Redactor(DEFAULT_REDACT_KEYS), **kwargs)
    line = formatter.format(rec)
    assert "\n" not in line
    return json.loads(line)


def test_fields_have_otel_names_and_rfc3339_utc_time():
    data = fmt(record())
    assert data["message"] == "hello world"
    assert data["level"] == "INFO" and data["logger"] == "app.module"
    assert data["service.name"] == "graph-api"
    assert data["timestamp"].endswith("Z") and data["timestamp"][10] == "T" and len(data["timestamp"]) == 24
    assert "trace_id" not in data


def test_trace_context_of_the_current_span_as_lowercase_hex():
    with tracer.start_as_current_span("op") as span:
        data = fmt(record())
        ctx = span.get_span_context()
    assert data["trace_id"] == format(ctx.trace_id, "032x")
    assert data["span_id"] == format(ctx.span_id, "016x")
    assert data["trace_flags"] == format(ctx.trace_flags, "02x")


def test_exception_fields():
    try:
        raise ValueError("bad input")
    except ValueError:
        data = fmt(record(level=logging.ERROR, exc_info=sys.exc_info()))
    assert data["exception.type"] == "ValueError"
    assert data["exception.message"] == "bad input"
    assert "Traceback" in data["exception.stacktrace"] and "bad input" in data["exception.stacktrace"]


def test_extras_are_kept_and_sensitive_ones_masked():
    data = fmt(record(**{"node.id": "n1", "password": "hunter2", "count": 3, "nested": {"api_key": "k"}}))
    assert data["node.id"] == "n1" and data["count"] == 3
    assert data["password"] == "[REDACTED]" and data["nested"] == {"api_key": "[REDACTED]"}
    assert "hunter2" not in json.dumps(data)


def test_a_message_cannot_forge_a_second_line():
    forged = 'ok\n{"level":"ERROR","message":"forged"}\r\x1b[31m'
    rec = record(msg=forged, args=())
    line = JsonFormatter(service_name="s").format(rec)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert json.loads(line)["message"] == forged
    text = TextFormatter().format(record(msg=forged, args=()))
    assert "\n" not in text and "\r" not in text


def test_unserialisable_extras_do_not_break_the_line():
    class Thing:
        def __repr__(self):
            return "<thing>"

    data = fmt(record(thing=Thing(), raw=b"bytes"))
    assert data["thing"] == "<thing>" and data["raw"] == "bytes"


def test_secrets_in_the_message_text_are_masked():
    data = fmt(record(msg="calling %s", args=("https://u:pw123@db/x?token=abc",)))
    assert "pw123" not in data["message"] and "abc" not in data["message"]


def test_usable_from_dict_config():
    import logging.config

    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False,
                               "formatters": {"json": {"()": "vitalyst_otel.logs.JsonFormatter", "service_name": "svc"}},
                               "handlers": {"h": {"class": "logging.NullHandler", "formatter": "json"}},
                               "loggers": {"dictcfg": {"handlers": ["h"]}}})
    handler = logging.getLogger("dictcfg").handlers[0]
    assert isinstance(handler.formatter, JsonFormatter) and handler.formatter.service_name == "svc"
    logging.getLogger("dictcfg").handlers.clear()


def test_uvicorns_color_message_never_reaches_the_line():
    colored = "\x1b[32mINFO\x1b[0m:     Started server process [\x1b[36m42\x1b[0m]"
    line = JsonFormatter(service_name="svc").format(
        record("Started server process [%d]", (42,), color_message=colored, **{"node.id": "n1"}))
    assert "color_message" not in line and "\x1b" not in line and "\\u001b" not in line
    assert json.loads(line)["node.id"] == "n1"
