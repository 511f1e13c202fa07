import json
import socket
import threading
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
    lines = [json.loads(line) for line in trail.fallback.unsent()]
    assert sorted(line["resource"] for line in lines) == sorted(f"node/{i}" for i in range(25))
    assert all(line["log.type"] == "audit" and line["fallback_reason"] for line in lines)
    assert all("tok-secret" not in path.read_text() for path in fallback.parent.iterdir())
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
    lines = [json.loads(line) for line in trail.fallback.unsent()]
    assert sorted(line["resource"] for line in lines) == sorted(f"r/{i}" for i in range(40))  # every one
    reasons = {line["fallback_reason"] for line in lines}
    assert "export queue full" in reasons
    assert otel_capture.metric_total("vitalyst.audit.records", **{"vitalyst.audit.destination": "fallback"}) == 40


def test_the_queue_is_bounded_in_bytes_and_what_does_not_fit_goes_to_the_fallback_file(otel_capture, tmp_path):
    from vitalyst_otel.audit import AuditLimits

    class Stuck:  # a stand-in exporter whose collector never answers
        def __init__(self):
            self.release = threading.Event()

        def export(self, batch):
            self.release.wait(30)
            raise ConnectionError("never answered")

        def shutdown(self):
            self.release.set()

    stuck = Stuck()
    limit = 64 * 1024
    trail = AuditTrail("svc", Redactor(()), exporters=[stuck], fallback_path=str(tmp_path / "f.jsonl"),
                       max_queue=10_000, limits=AuditLimits(queue_max_bytes=limit))
    try:
        for i in range(60):  # 60 records of about 10 KB: ten times the byte limit, far below the count
            trail.record("u", "a", f"r/{i}", "success", {"note": "n" * 10_000})
        assert trail.queue.queued_bytes <= limit
        spilled = [json.loads(line) for line in trail.fallback.unsent()]
        assert len(spilled) >= 40 and {line["fallback_reason"] for line in spilled} == {"export queue full"}
    finally:
        stuck.release.set()
        trail.shutdown(3.0)


def test_the_fallback_file_rotates_into_numbered_segments_and_stays_bounded(tmp_path, caplog):
    from vitalyst_otel.audit_fallback import FallbackFile

    file = FallbackFile(str(tmp_path / "f.jsonl"), max_bytes=1000, backup_count=2)
    for i in range(100):
        assert file.write([json.dumps({"i": i, "pad": "x" * 50}).encode()])
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert names[0] == "f.jsonl" and len(names) == 3 and all(n.startswith("f.jsonl.0") for n in names[1:])
    kept = [json.loads(line)["i"] for line in file.unsent()]
    assert kept == list(range(100 - len(kept), 100))  # the newest, in order
    assert file.lost == 100 - len(kept) > 0
    assert len([r for r in caplog.records if "oldest segment was deleted" in r.getMessage()]) == 1


class _Unprintable:
    def __str__(self):
        raise RuntimeError("no text for you")

    __repr__ = __str__


def test_a_value_that_cannot_be_encoded_is_replaced_and_marked_never_raised(otel_capture, caplog):
    audit.record("user:\udcff", "node.delete", _Unprintable(), "success",
                 note="bad \ud800 text", thing=_Unprintable(), fine="ok", nested={"k": ["\udfff"]})
    (line,) = audit_lines(caplog)
    assert line["actor"] == "user:\\udcff"
    assert line["resource"] == "<unprintable _Unprintable: RuntimeError>"
    assert line["details"]["note"] == "bad \\ud800 text" and line["details"]["fine"] == "ok"
    assert line["details"]["thing"].startswith("<un")  # the redactor's rendering of an unprintable object
    assert line["details"]["nested"] == {"k": ["\\udfff"]}
    assert sorted(line["repaired"]) == sorted(["actor", "resource", "details.note", "details.thing",
                                               "details.nested.k[0]"])
    deadline = time.monotonic() + 5
    while not otel_capture.logs(**{"log.type": "audit"}) and time.monotonic() < deadline:
        time.sleep(0.05)
    (record,) = otel_capture.logs(**{"log.type": "audit"})
    assert record.attributes["actor"] == "user:\\udcff" and "details.thing" in record.attributes["repaired"]


def test_a_clean_record_has_no_repaired_field(otel_capture, caplog):
    audit.record("user:ana", "node.read", "node/1", "success", n=1)
    (line,) = audit_lines(caplog)
    assert "repaired" not in line


def test_a_bug_inside_the_trail_still_keeps_the_record(otel_capture, caplog, tmp_path, monkeypatch):
    trail = AuditTrail("svc", Redactor(()), exporters=[closed_port_exporter()],
                       fallback_path=str(tmp_path / "f.jsonl"))
    monkeypatch.setattr(trail, "_record", lambda *a: 1 / 0)
    entry = trail.record("u", "a", "r/1", "success", {})
    trail.shutdown(0.5)
    (kept,) = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert kept["resource"] == "r/1" and kept["fallback_reason"] == "record error: ZeroDivisionError"
    assert entry["resource"] == "r/1"


def test_fallback_line_is_the_records_own_entry_and_replays_to_the_same_attributes(tmp_path):
    from opentelemetry.sdk.resources import Resource

    from vitalyst_otel.audit import _record_of

    trail = AuditTrail("svc", Redactor(DEFAULT_REDACT_KEYS), exporters=[closed_port_exporter()],
                       fallback_path=str(tmp_path / "f.jsonl"), synchronous=True)
    try:
        entry = trail.record("ana", "node.create", "node/1", "success",
                             {"count": 3, "tags": ["a", "b"], "password": "hunter2"})
        (line,) = trail.fallback.unsent()
        saved = json.loads(line)
        assert {k: v for k, v in saved.items() if k not in ("time_unix_nano", "trace_flags", "fallback_reason")} \
            == entry
        assert saved["details"] == {"count": 3, "tags": ["a", "b"], "password": "[REDACTED]"}
        replayed = _record_of(line, Resource.get_empty(), trail.scope)
        assert replayed.attributes["details.tags"] == '["a","b"]' and replayed.attributes["details.count"] == 3
        assert replayed.attributes["details.password"] == "[REDACTED]" and replayed.attributes["audit.replayed"]
        assert replayed.entry == entry and replayed.timestamp == saved["time_unix_nano"]
    finally:
        trail.shutdown(1.0)


def test_plain_and_structured_details_are_cleaned_alike():
    trail = AuditTrail("svc", Redactor(DEFAULT_REDACT_KEYS))
    plain = trail.record("a", "b", "c", "success", {"n": 1, "ok": True, "x": None, "password": "p", "big": 1 << 70})
    assert plain["details"] == {"n": 1, "ok": True, "x": None, "password": "[REDACTED]", "big": str(1 << 70)}
    bad = trail.record("a", "b", "c", "success", {"s": "\udcff"})
    assert bad["details"] == {"s": "\\udcff"} and bad["repaired"] == ["details.s"]


def test_audit_limits_default_to_the_variable_table():
    from vitalyst_otel.audit import AuditLimits
    from vitalyst_otel.config.variables import BY_NAME

    limits = AuditLimits()
    assert limits.queue_max_bytes == BY_NAME["VITALYST_EXPORT_QUEUE_MAX_BYTES"].default
    assert limits.max_length == BY_NAME["VITALYST_RECORD_MAX_LENGTH"].default
    assert limits.fallback_max_bytes == BY_NAME["VITALYST_AUDIT_FALLBACK_MAX_BYTES"].default
    assert limits.fallback_backup_count == BY_NAME["VITALYST_AUDIT_FALLBACK_BACKUP_COUNT"].default


def _trail_writing_to(stream, monkeypatch, tmp_path) -> AuditTrail:
    import logging
    import sys

    logger = logging.getLogger("vitalyst.audit")
    monkeypatch.setattr(logger, "handlers", [])  # restored after the test: the capture's trail keeps its own
    monkeypatch.setattr(sys, "stdout", stream)
    return AuditTrail("svc", Redactor(DEFAULT_REDACT_KEYS), fallback_path=str(tmp_path / "f.jsonl"))


def test_the_stdout_line_goes_to_the_stream_as_one_json_line_per_record(monkeypatch, tmp_path):
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8")
    stream.write("before ")  # text still held by the text layer is written first
    trail = _trail_writing_to(stream, monkeypatch, tmp_path)
    trail.record("ana", "node.create", "node/1", "success", {"password": "hunter2", "note": "a\u2028b"})
    trail.record("bo", "node.delete", "node/2", "denied", {})
    text = raw.getvalue().decode()
    assert text.startswith("before {") and text.endswith("}\n") and text.count("\n") == 2
    first, second = (json.loads(line) for line in text[len("before "):].splitlines())
    assert first["details"] == {"password": "[REDACTED]", "note": "a\u2028b"} and "hunter2" not in text
    assert "\u2028" not in text  # escaped: the line stays one line for every reader
    assert (first["actor"], second["actor"], second["outcome"]) == ("ana", "bo", "denied")


def test_a_handler_someone_adds_to_the_audit_logger_still_gets_every_record(monkeypatch, tmp_path):
    import io
    import logging

    stream = io.StringIO()  # no byte buffer: the text path
    trail = _trail_writing_to(stream, monkeypatch, tmp_path)
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logging.getLogger("vitalyst.audit").addHandler(Keep())
    trail.record("ana", "node.create", "node/1", "success", {})
    (line,) = stream.getvalue().splitlines()
    assert [json.loads(m)["resource"] for m in seen] == ["node/1"] and json.loads(line)["resource"] == "node/1"


def test_each_record_carries_the_trace_ids_of_its_own_span(otel_capture, caplog):
    tracer = trace.get_tracer("t")
    expected = []
    for name in ("first", "second"):
        with tracer.start_as_current_span(name) as span:
            audit.record("u", "node.read", f"node/{name}", "success")
            audit.record("u", "node.read", f"node/{name}", "success")
            context = span.get_span_context()
            expected += [(format(context.trace_id, "032x"), format(context.span_id, "016x"))] * 2
    audit.record("u", "node.read", "node/none", "success")
    expected.append((None, None))
    assert [(line["trace_id"], line["span_id"]) for line in audit_lines(caplog)] == expected


def test_a_queued_record_counts_twice_its_line_against_the_byte_bound(tmp_path):
    from vitalyst_otel.audit import AuditLimits, record_size
    from vitalyst_otel.export.sizes import ITEM_OVERHEAD, log_record_size

    class Held:  # a stand-in exporter that holds the batch until released
        def __init__(self):
            self.release = threading.Event()
            self.batches = []

        def export(self, batch):
            self.batches.append(list(batch))
            self.release.wait(30)

        def shutdown(self):
            self.release.set()

    held = Held()
    trail = AuditTrail("svc", Redactor(()), exporters=[held], fallback_path=str(tmp_path / "f.jsonl"),
                       limits=AuditLimits(queue_max_bytes=10**9))
    try:
        entry = trail.record("u", "node.create", "node/1", "success", {"note": "n" * 500, "count": 3})
        # Queued, or taken by the worker and held in export: counted against the bound either way.
        deadline = time.monotonic() + 10
        while True:
            found = list(trail.queue._queue) or [r for batch in held.batches for r in batch]
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        (record,) = found
        line = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        assert record.size == record_size(line) == ITEM_OVERHEAD + 2 * len(line)
        assert trail.queue.queued_bytes == record.size >= log_record_size(record)
    finally:
        held.release.set()
        trail.shutdown(3.0)
