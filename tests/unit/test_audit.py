import json
import socket
import time

from opentelemetry import trace

from vitalyst_otel import audit
from vitalyst_otel.audit import AuditTrail
from vitalyst_otel.export.otlp import OtlpLogExporter
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.config import OtlpSettings
from vitalyst_otel.config.variables import DEFAULT_REDACT_KEYS


def closed_port_exporter() -> OtlpLogExporter:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return OtlpLogExporter(OtlpSettings(f"http://127.0.0.1:{port}/v1/logs", "http/protobuf", {}, 0.5, "none", None))


def audit_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "vitalyst.audit"]


def test_schema_on_stdout_and_as_otlp_record_with_secrets_masked(otel_capture, caplog):
    tracer = trace.get_tracer("t")
    with tracer.start_as_current_span("request") as span:
        audit.record("user:ana", "node.delete", "node/42", "success", reason="cleanup", password="hunter2",
                     nested={"api_key": "k-123"})
    trace_id = format(span.get_span_context().trace_id, "032x")
    (line,) = audit_lines(caplog)
    assert set(line) == {"timestamp", "log.type", "actor", "action", "resource", "outcome", "trace_id", "span_id",
                         "request_id", "service.name", "details"}
    assert line["actor"] == "user:ana" and line["action"] == "node.delete" and line["resource"] == "node/42"
    assert line["outcome"] == "success" and line["trace_id"] == trace_id
    assert line["details"] == {"reason": "cleanup", "password": "[REDACTED]", "nested": {"api_key": "[REDACTED]"}}
    deadline = time.monotonic() + 5
    while not otel_capture.logs(**{"log.type": "audit"}) and time.monotonic() < deadline:
        time.sleep(0.05)
    (record,) = otel_capture.logs(**{"log.type": "audit"})
    assert record.attributes["action"] == "node.delete" and record.attributes["details.password"] == "[REDACTED]"
    assert "hunter2" not in repr(dict(record.attributes)) and "k-123" not in repr(dict(record.attributes))
    assert format(record.trace_id, "032x") == trace_id


def test_audit_records_ignore_the_root_log_level(otel_capture, caplog):
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        audit.record("svc", "config.change", "settings", "success")
    finally:
        root.setLevel(level)
    assert [line["action"] for line in audit_lines(caplog)] == ["config.change"]


def test_undeliverable_records_go_to_the_fallback_file_and_are_counted(otel_capture, tmp_path):
    fallback = tmp_path / "audit" / "fallback.jsonl"
    trail = AuditTrail("svc", Redactor(DEFAULT_REDACT_KEYS), exporters=[closed_port_exporter()],
                       fallback_path=str(fallback))
    for i in range(25):
        trail.record("user:bo", "node.create", f"node/{i}", "success", {"token": "tok-secret"})
    trail.shutdown()
    lines = [json.loads(l) for l in fallback.read_text().splitlines()]
    assert sorted(l["resource"] for l in lines) == sorted(f"node/{i}" for i in range(25))
    assert all(l["log.type"] == "audit" and l["fallback_reason"] for l in lines)
    assert "tok-secret" not in fallback.read_text()
    assert otel_capture.metric_total("vitalyst.audit.records", **{"vitalyst.audit.destination": "fallback"}) == 25


def test_a_full_export_queue_spills_to_the_fallback_file_not_to_nowhere(otel_capture, tmp_path):
    listener = socket.socket()  # a collector that accepts connections and never answers
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        exporter = OtlpLogExporter(OtlpSettings(f"http://127.0.0.1:{listener.getsockname()[1]}/v1/logs",
                                                "http/protobuf", {}, 1.0, "none", None))
        fallback = tmp_path / "fallback.jsonl"
        trail = AuditTrail("svc", Redactor(()), exporters=[exporter], fallback_path=str(fallback), max_queue=5)
        trail.queue.max_batch = 1  # the worker takes one record and hangs on it
        for i in range(40):
            trail.record("u", "a", f"r/{i}", "success", {})
            time.sleep(0.002)
        trail.shutdown(3.0)
    finally:
        listener.close()
    lines = [json.loads(line) for line in fallback.read_text().splitlines()]
    assert sorted(line["resource"] for line in lines) == sorted(f"r/{i}" for i in range(40))  # every one
    reasons = {line["fallback_reason"] for line in lines}
    assert "export queue full" in reasons
    assert otel_capture.metric_total("vitalyst.audit.records", **{"vitalyst.audit.destination": "fallback"}) == 40


def test_the_fallback_file_rotates(tmp_path):
    from vitalyst_otel.audit import FallbackFile

    file = FallbackFile(str(tmp_path / "f.jsonl"), max_bytes=1000, backup_count=2)
    for i in range(100):
        assert file.write([json.dumps({"i": i, "pad": "x" * 50}).encode()])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.jsonl", "f.jsonl.1", "f.jsonl.2"]
