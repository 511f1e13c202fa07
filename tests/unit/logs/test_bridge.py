import logging
import sys

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber

log = logging.getLogger("bridge.test")


def test_records_carry_body_severity_trace_context_and_redacted_attributes(otel_capture):
    tracer = trace.get_tracer("bridge.test")
    with tracer.start_as_current_span("op") as span:
        log.warning("node %s created", "n1", extra={"node.id": "n1", "password": "hunter2"})
    (record,) = otel_capture.logs(message="node n1 created")
    assert record.severity_number is SeverityNumber.WARN and record.severity_text == "WARN"
    assert record.trace_id == span.get_span_context().trace_id
    assert record.span_id == span.get_span_context().span_id
    assert record.attributes["node.id"] == "n1"
    assert record.attributes["password"] == "[REDACTED]"
    assert "hunter2" not in repr(dict(record.attributes))


def test_exceptions_become_exception_attributes(otel_capture):
    try:
        raise KeyError("missing")
    except KeyError:
        log.error("lookup failed", exc_info=sys.exc_info())
    (record,) = otel_capture.logs(message="lookup failed")
    assert record.attributes["exception.type"] == "KeyError"
    assert "Traceback" in record.attributes["exception.stacktrace"]
    assert record.severity_number is SeverityNumber.ERROR


def test_each_log_call_makes_exactly_one_record(otel_capture):
    for i in range(5):
        log.info("count %d", i)
    assert [r.body for r in otel_capture.logs() if str(r.body).startswith("count")] == [f"count {i}" for i in range(5)]


def test_the_distributions_own_export_diagnostics_do_not_feed_back(otel_capture):
    logging.getLogger("vitalyst_otel.export").warning("export failed")
    assert otel_capture.logs(message="export failed") == []


def test_uvicorns_color_message_never_reaches_the_otlp_record(otel_capture):
    log.info("Started server process [%d]", 43, extra={"color_message": "\x1b[32mStarted\x1b[0m [%d]"})
    (record,) = otel_capture.logs(message="Started server process [43]")
    assert "color_message" not in record.attributes
