"""Audit records encoded on the caller's thread (our OTLP/HTTP exporter alone reads the queue)
against the records the export worker encodes (the path before, still taken with any other
exporter): the same OTLP records, the same JSON lines, the same fallback lines, hostile inputs
included; and the queue's byte bound on the encoded records."""

from __future__ import annotations

import json
import socket
import time

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.sdk.trace import TracerProvider

from tests.support.otlp_receiver import OtlpReceiver
from vitalyst_otel.audit import AuditLimits, AuditTrail, EncodedAuditRecord
from vitalyst_otel.config import OtlpSettings
from vitalyst_otel.config.variables import DEFAULT_REDACT_KEYS
from vitalyst_otel.export.otlp import OtlpLogExporter
from vitalyst_otel.redaction import Redactor


class Unprintable:
    def __str__(self):
        raise RuntimeError("no")


CASES = [
    ("alice", "node.create", "node/42", "success", {"node_type": "concept"}),
    ("ålice", "nöde.create", "node/✓", "denied", {"note": "café\u2028line", "ключ": "значение"}),
    ("al\udcffice", "act\udc80", "res\udcff", "success", {"p\udcffath": "v\udcff", "ok": "x"}),
    (42, None, Unprintable(), "failure", {"big": 2**70, "f": 1.5, "nan": float("nan"), "b": True, "none": None,
                                           "list": [1, "a\udcff", {"k": Unprintable()}], "tuple": (1, "two")}),
    ("a" * 300, "act", "r" * 300, "failure", {"long": "x" * 300, "nested": {"deep": "y" * 300}}),
    ("bob", "login", "user/1 password=hunter2", "failure",
     {"password": "hunter2", "token": ["a", "b"], "note": "Authorization: Bearer abc.def.ghi"}),
    ("carol", "node.delete", "node/1", "weird", {}),
    ("dave", "node.delete", "node/2", 5, {"n": -3, "neg": -0.0}),
]
SECRETS = ("hunter2", "abc.def.ghi")


def _exporter(port: int) -> OtlpLogExporter:
    return OtlpLogExporter(OtlpSettings(f"http://127.0.0.1:{port}/v1/logs", "http/protobuf", {}, 1.0, "none", None))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _trails(port: int, tmp_path, encode: bool, **kwargs) -> AuditTrail:
    trail = AuditTrail("svc", Redactor(DEFAULT_REDACT_KEYS), exporters=[_exporter(port)],
                       fallback_path=str(tmp_path / f"fallback-{encode}.jsonl"), **kwargs)
    assert trail.encode  # our exporter alone: the shipped path encodes on the caller
    trail.encode = encode
    return trail


def _without_times(record) -> dict:
    data = MessageToDict(record)
    data.pop("timeUnixNano")
    data.pop("observedTimeUnixNano")
    return data


def _without_timestamp(entry: dict) -> str:
    return json.dumps({k: v for k, v in entry.items() if k not in ("timestamp", "time_unix_nano")}, sort_keys=True)


@pytest.mark.parametrize("max_length", [None, 64])
def test_caller_encoded_records_equal_worker_encoded_ones(tmp_path, max_length):
    tracer = TracerProvider().get_tracer("t")
    with OtlpReceiver() as receiver:
        limits = AuditLimits(max_length=max_length)
        shipped = _trails(receiver.port, tmp_path, True, synchronous=True, limits=limits)
        before = _trails(receiver.port, tmp_path, False, synchronous=True, limits=limits)
        entries = []
        with tracer.start_as_current_span("op"):
            for case in CASES:
                entries.append((shipped.record(*case), before.record(*case)))
        for case in CASES[:2]:  # outside any span too
            entries.append((shipped.record(*case), before.record(*case)))
        records = [record for _, record in receiver.received.log_records()]
    assert len(records) == 2 * len(entries)
    for i, (ours, theirs) in enumerate(entries):
        assert _without_timestamp(ours) == _without_timestamp(theirs)
        assert _without_times(records[2 * i]) == _without_times(records[2 * i + 1]), i
        text = json.dumps(ours) + str(records[2 * i])
        assert not any(secret in text for secret in SECRETS)
    long_actor = MessageToDict(records[8])["body"]["stringValue"]
    assert long_actor.startswith("audit act ") and (max_length is None or "truncated" in long_actor)


def test_fallback_lines_of_caller_encoded_records_equal_the_worker_path(tmp_path):
    port = _closed_port()
    tracer = TracerProvider().get_tracer("t")
    shipped = _trails(port, tmp_path, True)
    before = _trails(port, tmp_path, False)
    with tracer.start_as_current_span("op"):
        for case in CASES:
            shipped.record(*case)
            before.record(*case)
    shipped.shutdown(5)
    before.shutdown(5)
    ours = [json.loads(line) for line in shipped.fallback.unsent()]
    theirs = [json.loads(line) for line in before.fallback.unsent()]
    assert len(ours) == len(theirs) == len(CASES)
    for a, b in zip(ours, theirs):
        assert _without_timestamp(a) == _without_timestamp(b)
        assert type(a["time_unix_nano"]) is int and a["time_unix_nano"] > 0
        assert a["trace_flags"] & 1 and a["fallback_reason"]  # sampled, as its span
    text = "".join(path.read_text() for path in tmp_path.iterdir())
    assert not any(secret in text for secret in SECRETS)


def test_the_byte_bound_holds_for_caller_encoded_records_and_every_refused_one_reaches_the_file(tmp_path):
    listener = socket.socket()  # a collector that accepts connections and never answers
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    limit = 32 * 1024
    try:
        trail = AuditTrail("svc", Redactor(()), exporters=[_exporter(listener.getsockname()[1])],
                           fallback_path=str(tmp_path / "f.jsonl"), max_queue=10_000,
                           limits=AuditLimits(queue_max_bytes=limit))
        for i in range(200):
            trail.record("u", "a", f"r/{i}", "success", {"note": "n" * 1000})
            assert trail.queue.queued_bytes <= limit
            held = list(trail.queue._queue)
            assert all(type(item) is EncodedAuditRecord for item in held)
            assert all(item.size == 128 + len(item.encoded) + len(item.line) for item in held)
            assert sum(trail.queue._sizes) <= trail.queue.queued_bytes
        time.sleep(0.1)
        trail.shutdown(2.0)
    finally:
        listener.close()
    spilled = [json.loads(line) for line in trail.fallback.unsent()]
    assert sorted(line["resource"] for line in spilled) == sorted(f"r/{i}" for i in range(200))
    assert "export queue full" in {line["fallback_reason"] for line in spilled}


def test_any_other_exporter_gets_records_it_can_read(tmp_path):
    class Reader:  # a stand-in for a user's exporter: it reads the records' fields
        def __init__(self):
            self.bodies = []

        def export(self, batch):
            self.bodies += [record.log_record.body for record in batch]

        def shutdown(self):
            pass

    reader = Reader()
    trail = AuditTrail("svc", Redactor(()), exporters=[reader], fallback_path=str(tmp_path / "f.jsonl"),
                       synchronous=True)
    assert not trail.encode
    trail.record("u", "node.create", "node/1", "success", {})
    assert reader.bodies == ["audit node.create node/1 success"]
