"""The bridge's records encoded on the caller's thread (our OTLP/HTTP exporter alone reads the
queue) against the records it queues for any other exporter, which our exporter encodes on its
worker (the path before). The same script runs both ways in a fresh process under
``configure()``, exporting to a real OTLP receiver (tests/support/otlp_receiver.py, decoded with
the official protobuf definitions); every record must be equal field by field, timestamps apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from google.protobuf.json_format import MessageToDict

from tests.support.otlp_receiver import OtlpReceiver, attrs

SCRIPT = r"""
import json, logging, os, sys
import vitalyst_otel.logs.pipeline as pipeline
if os.environ["ENCODE"] == "0":
    pipeline.only_our_encoder = lambda exporters: False
import vitalyst_otel
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from vitalyst_otel import audit
from vitalyst_otel.logs.bridge import OtlpLogHandler

handle = vitalyst_otel.configure(service_name="svc")
bridge = next(h for h in logging.getLogger().handlers if isinstance(h, OtlpLogHandler))
log = logging.getLogger("app.orders")
other = logging.getLogger("app.billing")
access = logging.getLogger("uvicorn.access")
access.setLevel(logging.INFO)
logging.addLevelName(25, "NOTICE")
ACCESS = '%s - "%s %s HTTP/%s" %d'


class Odd:
    def __repr__(self):
        return "odd value"


def lines():
    log.info("ordinary %s", "line")
    other.warning("with extra", extra={"user_id": 7, "password": "hunter2", "obj": Odd(), "ratio": 0.5,
                                       "flag": True, "note": "n" * 900})
    try:
        raise ValueError("boom token=abc123")
    except ValueError:
        log.exception("failed for password=hunter2")
    log.error("long " + "x" * 5000)
    log.info("lone \udcff surrogate", extra={"bad": "\ud800 here"})
    log.log(25, "custom level")
    log.log(35, "between warning and error")
    log.info("%d", "not a number")
    log.info("unicode ✓ é 漢字")
    access.info(ACCESS, "127.0.0.1:50000", "GET", "/items/7?token=tokvalue1&q=w", "1.1", 200)
    keep = lambda record: True
    access.addFilter(keep)  # a user's filter: the access line through logging
    access.info(ACCESS, "127.0.0.1:50001", "POST", "/items?password=p", "1.1", 500)
    access.removeFilter(keep)
    audit.record("alice", "node.create", "node/42", "success", node_type="concept", token="t0k")


context = SpanContext(0x0123456789ABCDEF0123456789ABCDEF, 0x0123456789ABCDEF, False, TraceFlags(1))
with trace.use_span(NonRecordingSpan(context)):
    lines()
lines()  # outside any span
encode = bridge.encode
handle.shutdown(10.0)
print(json.dumps({"encode": encode}))
"""

# Differ from process to process, not from path to path.
VOLATILE_RESOURCE = ("service.instance.id", "process.pid", "process.parent_pid")


def _run(endpoint: str, encode: bool, extra_env: dict) -> tuple[bool, list[dict]]:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_LOGS_EXPORTER": "otlp",
           "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "VITALYST_RUNTIME_METRICS": "false",
           "ENCODE": "1" if encode else "0",
           "PYTHONHASHSEED": "0", **extra_env}  # the extra fields' order is a set's
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])["encode"], []


def _records(receiver: OtlpReceiver) -> list[str]:
    """Every record with its resource and scope, timestamps checked and left out, sorted."""
    out = []
    for message in receiver.received.of("/v1/logs"):
        for resource_logs in message.resource_logs:
            resource = {k: v for k, v in attrs(resource_logs.resource.attributes).items() if k not in VOLATILE_RESOURCE}
            for scope_logs in resource_logs.scope_logs:
                scope = MessageToDict(scope_logs.scope)
                for record in scope_logs.log_records:
                    assert record.time_unix_nano > 0 and record.observed_time_unix_nano > 0
                    fields = MessageToDict(record)
                    fields.pop("timeUnixNano")
                    fields.pop("observedTimeUnixNano")
                    out.append(json.dumps({"resource": resource, "scope": scope, "record": fields}, sort_keys=True))
    return sorted(out)


def _both(extra_env: dict) -> dict:
    seen = {}
    for encode in (True, False):
        with OtlpReceiver() as receiver:
            seen[encode] = _run(receiver.endpoint, encode, extra_env)[0], _records(receiver)
    return seen


CASES = {"defaults": {}, "record limit 64": {"VITALYST_RECORD_MAX_LENGTH": "64"},
         "three attributes": {"OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": "3"}}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return request.param, _both(CASES[request.param])


def test_encoded_records_equal_the_records_encoded_on_the_worker(case):
    _, seen = case
    (encoded_flag, encoded), (plain_flag, plain) = seen[True], seen[False]
    assert encoded_flag is True and plain_flag is False  # each run took the path it names
    assert len(encoded) == len(plain) == 2 * 12  # eleven lines and one audit record, in and out of a span
    assert encoded == plain


def test_the_cases_cover_what_they_name(case):
    name, seen = case
    records = [json.loads(item)["record"] for item in seen[True][1]]
    bodies = [r["body"]["stringValue"] for r in records]
    everything = json.dumps(records)
    assert "hunter2" not in everything and "tokvalue1" not in everything and "abc123" not in everything
    assert any("\\udcff" in body for body in bodies)  # the surrogate repaired, not the record lost
    assert sum("traceId" in r for r in records) == 12 and sum("traceId" not in r for r in records) == 12
    exceptions = [r for r in records if any(a["key"] == "exception.stacktrace" for a in r.get("attributes", ()))]
    assert len(exceptions) == 2
    access = [r for r in records if any(a["key"] == "http.request.method" for a in r.get("attributes", ()))]
    assert len(access) == 4
    if name == "record limit 64":
        assert any("truncated" in body for body in bodies)
        assert all(len(body) < 64 + 40 for body in bodies if body.startswith("long"))
    elif name == "three attributes":
        assert max(len(r.get("attributes", ())) for r in records if r["body"]["stringValue"] == "with extra") == 3
    else:
        assert any(len(body) > 5000 for body in bodies)


def _bridge(queue, encode: bool = True):
    import logging

    from vitalyst_otel.logs.bridge import OtlpLogHandler
    from vitalyst_otel.redaction import Redactor

    handler = OtlpLogHandler(queue, None, Redactor(("password",)), encode=encode)
    logger = logging.getLogger(f"encoded.{id(queue)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, handler


def _exporter(endpoint: str, timeout_s: float = 5.0):
    from vitalyst_otel.config import OtlpSettings
    from vitalyst_otel.export.otlp import OtlpLogExporter

    return OtlpLogExporter(OtlpSettings(endpoint + "/v1/logs", "http/protobuf", {}, timeout_s, "none", None))


def test_a_repaired_string_is_counted_by_the_exporter_that_sends_it():
    from vitalyst_otel.export.batch import BatchQueue

    with OtlpReceiver() as receiver:
        exporter = _exporter(receiver.endpoint)
        queue = BatchQueue([exporter], "logs", max_bytes=1 << 20, size_of=len)
        logger, _ = _bridge(queue)
        logger.info("lone \udcff", extra={"also": "\ud800"})  # the body: encoded on the worker
        logger.info("fine", extra={"only": "\udc80"})  # an attribute: repaired here, counted there
        logger.info("fine")
        assert queue.force_flush(10.0)
        queue.shutdown(5.0)
    bodies = [record.body.string_value for _, record in receiver.received.log_records()]
    assert bodies == ["lone \\udcff", "fine", "fine"]
    assert exporter.status.snapshot().repaired_items == 3


def test_encoded_records_count_their_bytes_and_a_silent_collector_never_overfills_the_queue():
    import socket

    from vitalyst_otel.export.batch import BatchQueue
    from vitalyst_otel.export.protobuf.logs import EncodedRecord
    from vitalyst_otel.export.sizes import ENCODED_ITEM_OVERHEAD

    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        exporter = _exporter(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout_s=2.0)
        limit = 64 * 1024
        queue = BatchQueue([exporter], "logs", max_batch=64, delay_s=0.01, max_bytes=limit, size_of=len)
        logger, _ = _bridge(queue)
        most = 0
        for i in range(3000):
            logger.info("line %d %s", i, "y" * 200)
            with queue._lock:
                held = list(queue._queue)
                most = max(most, queue.queued_bytes)
                assert queue.queued_bytes <= limit
        assert held and all(type(item) is EncodedRecord for item in held)
        assert sum(queue._sizes) == sum(len(item.encoded) + ENCODED_ITEM_OVERHEAD for item in held)
        assert queue.dropped > 0 and 0 < most <= limit
        queue.shutdown(1.0)


def test_without_encode_the_queue_gets_records_any_exporter_reads():
    from vitalyst_otel.export.batch import BatchQueue
    from vitalyst_otel.logs.pipeline import only_our_encoder

    class Reader:  # a user's exporter: reads the fields
        def __init__(self):
            self.bodies = []

        def export(self, batch):
            self.bodies += [item.log_record.body for item in batch]

    reader = Reader()
    queue = BatchQueue([reader], "logs", synchronous=True)
    assert not only_our_encoder([reader]) and not only_our_encoder([])
    logger, handler = _bridge(queue, encode=only_our_encoder([reader]))
    logger.info("seen as a record")
    assert reader.bodies == ["seen as a record"] and handler.encode is False


@pytest.mark.parametrize("body", ["", "short", "ü" * 1500, "x" * 3000, "漢" * 700])
@pytest.mark.parametrize("ids", [(0, 0, 0), (0x0123456789ABCDEF0123456789ABCDEF, 0x0123456789ABCDEF, 1),
                                 (0x0123456789ABCDEF0123456789ABCDEF, 0x0123456789ABCDEF, 0),
                                 (5, 0, 1), (0, 7, 255)])
@pytest.mark.parametrize("level", [10, 20, 25, 30, 40, 50, 55])
def test_the_line_encoder_writes_what_the_record_encoder_writes(body, ids, level):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import TraceFlags

    from vitalyst_otel.export.protobuf.logs import context_fields, encode_line, encode_log_record, severity_fields
    from vitalyst_otel.logs.bridge import BridgeRecord, severity

    tid, sid, flags = ids
    attributes = {"user_id": 7, "ok": True, "ratio": 0.5, "name": "n" * (level * 3)} if level % 20 else {}
    number, text = severity(level)
    record = BridgeRecord(1764614400123456789, 1764614400123499999, number, text, body, attributes, tid, sid,
                          TraceFlags(flags), Resource.get_empty(), InstrumentationScope("s"))
    line = encode_line(1764614400123456789, severity_fields(number, text), body, attributes,
                       context_fields(TraceFlags(flags), tid, sid), 1764614400123499999)
    assert line == encode_log_record(record)
