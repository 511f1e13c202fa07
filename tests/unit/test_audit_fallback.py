"""Audit records in the fallback file are sent again when the endpoint comes back: exactly once,
in order. The endpoint is a real OTLP receiver (tests/support/otlp_receiver.py) that is down
(nothing listens on its port) and then comes up on that port."""

from __future__ import annotations

import json
import socket
import time

from tests.support.otlp_receiver import OtlpReceiver, attrs
from vitalyst_otel.audit import AuditTrail
from vitalyst_otel.audit_fallback import FallbackFile
from vitalyst_otel.config import OtlpSettings
from vitalyst_otel.export.otlp import OtlpLogExporter
from vitalyst_otel.redaction import Redactor


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _trail(port: int, path) -> AuditTrail:
    exporter = OtlpLogExporter(OtlpSettings(f"http://127.0.0.1:{port}/v1/logs", "http/protobuf", {}, 1.0, "none", None))
    return AuditTrail("svc", Redactor(()), exporters=[exporter], fallback_path=str(path))


def _until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _audit(receiver: OtlpReceiver) -> list[dict]:
    return [attrs(r.attributes) for _, r in receiver.received.log_records()
            if attrs(r.attributes).get("log.type") == "audit"]


def test_the_fallback_is_sent_again_once_and_in_order_when_the_endpoint_is_back(tmp_path):
    port = _free_port()
    trail = _trail(port, tmp_path / "audit.jsonl")
    for i in range(30):
        trail.record("u", "node.create", f"r/{i}", "success", {"i": i})
    assert _until(lambda: len(trail.fallback.unsent()) == 30), "the endpoint is down: all 30 in the file"
    with OtlpReceiver(port=port) as receiver:
        for i in range(30, 35):
            trail.record("u", "node.create", f"r/{i}", "success", {"i": i})
        assert _until(lambda: len(_audit(receiver)) >= 35)
        time.sleep(1.5)  # a further worker round: nothing may come twice
        trail.shutdown(2)
    received = _audit(receiver)
    assert [a["resource"] for a in received] == [f"r/{i}" for i in range(35)]  # once each, in order
    assert [a.get("audit.replayed", False) for a in received] == [True] * 30 + [False] * 5
    assert received[0]["details.i"] == 0 and received[0]["action"] == "node.create"
    assert trail.fallback.unsent() == [] and not trail.fallback.pending()


def test_what_a_previous_process_left_in_the_file_is_sent_by_the_next_one(tmp_path):
    port = _free_port()
    first = _trail(port, tmp_path / "audit.jsonl")
    for i in range(300):  # more than one replay batch
        first.record("u", "a", f"r/{i}", "success", {})
    first.shutdown(1)
    assert len(first.fallback.unsent()) == 300
    with OtlpReceiver(port=port) as receiver:
        second = _trail(port, tmp_path / "audit.jsonl")  # no record of its own: replayed when idle
        assert _until(lambda: len(_audit(receiver)) >= 300)
        second.shutdown(2)
    assert [a["resource"] for a in _audit(receiver)] == [f"r/{i}" for i in range(300)]
    assert not second.fallback.pending()


def test_a_replay_that_fails_halfway_resumes_after_the_last_acknowledged_batch(tmp_path):
    file = FallbackFile(str(tmp_path / "f.jsonl"))
    assert file.write([json.dumps({"i": i}).encode() for i in range(600)])
    sent: list[int] = []

    def send_two_batches(records):
        if len(sent) >= 512:
            return False
        sent.extend(record["i"] for record in records)
        return True

    assert not file.replay(send_two_batches, json.loads)
    assert sent == list(range(512))
    assert [json.loads(line)["i"] for line in file.unsent()] == list(range(512, 600))
    assert file.replay(lambda records: sent.extend(r["i"] for r in records) or True, json.loads)
    assert sent == list(range(600)) and not file.pending()
