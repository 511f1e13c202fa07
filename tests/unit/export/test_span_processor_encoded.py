"""Spans encoded on the thread that ends them (our OTLP/HTTP exporter alone behind the span
queue) against the span objects queued for the worker's encoder (the path before, which every
other exporter still takes). The same script runs both ways in a fresh process under
``configure()``, exporting to a real OTLP receiver (tests/support/otlp_receiver.py, decoded with
the official protobuf definitions); every span must be equal field by field, ids and
timestamps apart (they differ from process to process; the script pins what it can).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from google.protobuf.json_format import MessageToDict

from tests.support.otlp_receiver import OtlpReceiver, attrs

SCRIPT = r"""
import asyncio, json, os
import httpx
from fastapi import FastAPI
import vitalyst_otel.export.span_processor as span_processor
if os.environ["ENCODE"] == "0":
    span_processor.encoding_redactor = lambda exporters: None
import vitalyst_otel
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags, TraceState

app = FastAPI()


@app.get("/items/{item}")
async def item(item: int):
    return {"item": item}


@app.get("/boom")
async def boom():
    raise ValueError("failed with password=hunter2")


handle = vitalyst_otel.configure(app=app, service_name="svc")
provider = trace.get_tracer_provider()
ours = [p for p in provider._active_span_processor._span_processors
        if type(p) is span_processor.QueueSpanProcessor]
other = TracerProvider(resource=Resource({"service.name": "other", "tier": 2}))
for processor in ours:
    other.add_span_processor(processor)  # a second resource in the same queue


async def requests():
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/items/7?token=tokvalue1&q=w", headers={"authorization": "Bearer sekrit"})
        await client.get("/boom")


asyncio.run(requests())
T = 1_700_000_000_000_000_000
remote = SpanContext(0x0123456789ABCDEF0123456789ABCDEF, 0x0123456789ABCDEF, True, TraceFlags(1),
                     TraceState([("vendor", "v1")]))
local = SpanContext(0x0123456789ABCDEF0123456789ABCDEE, 0x0123456789ABCDEE, False, TraceFlags(1))
for tracer in (trace.get_tracer("app.orders", "1.2", schema_url="https://opentelemetry.io/schemas/1.21.0"),
               trace.get_tracer("app.billing"), other.get_tracer("other.scope", attributes={"a": 1})):
    with trace.use_span(NonRecordingSpan(remote)):
        span = tracer.start_span("db query password=hunter2", start_time=T, links=[
            Link(remote, {"token": "t0k", "n": 1}), Link(local, {"l": "x"}), Link(local)])
    span.set_attributes({"db.statement": "SELECT * FROM users WHERE password='hunter2'",
                         "db.query.text": "UPDATE t SET api_key = 'abcdef123456'", "user_id": 7, "ratio": 0.5,
                         "flag": True, "tags": ("a", "b"), "nums": (1, 2, 3), "bad": "\ud800 here",
                         "url.full": "https://x.test/p?token=tokvalue2&ok=1",
                         "http.request.header.authorization": ("Bearer sekrit",), "note": "n" * 900})
    span.add_event("retry", {"attempt": 1, "password": "hunter2"}, timestamp=T + 1)
    span.add_event("plain", timestamp=T + 2)
    span.add_event("lone \udcff", {"s": "\udc80"}, timestamp=T + 3)
    try:
        raise RuntimeError("boom token=abc123")
    except RuntimeError as exc:
        span.record_exception(exc, timestamp=T + 4)
    span.set_status(Status(StatusCode.ERROR, "failed for password=hunter2"))
    span.end(end_time=T + 10)
    with tracer.start_as_current_span("parent", start_time=T, kind=trace.SpanKind.CLIENT,
                                      links=[Link(local, {"a": 1, "b": 2}), Link(local), Link(local)]) as parent:
        child = tracer.start_span("child", start_time=T, kind=trace.SpanKind.PRODUCER)
        child.set_status(Status(StatusCode.OK))
        child.end(end_time=T + 5)
        parent.set_attributes({f"many.{n}": n for n in range(5)})
        for n in range(3):
            parent.add_event(f"step {n}", {"n": n, "m": -n})
    unsampled = SpanContext(0x0123456789ABCDEF0123456789ABCDED, 0x0123456789ABCDED, True, TraceFlags(0))
    with trace.use_span(NonRecordingSpan(unsampled)):
        tracer.start_span("not sampled").end()
encode = [p.redactor is not None for p in ours]
handle.shutdown(10.0)
print(json.dumps({"encode": encode}))
"""

VOLATILE_RESOURCE = ("service.instance.id", "process.pid", "process.parent_pid")
IDS = ("traceId", "spanId", "parentSpanId")


def _run(endpoint: str, encode: bool, extra_env: dict) -> list[bool]:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_EXPORTER": "otlp",
           "OTEL_LOGS_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "VITALYST_RUNTIME_METRICS": "false",
           "ENCODE": "1" if encode else "0", "PYTHONHASHSEED": "0", **extra_env}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])["encode"]


def _spans(receiver: OtlpReceiver) -> list[str]:
    """Every span with its resource and scope; ids and the server spans' clock times checked and
    replaced by what they relate to, sorted."""
    out = []
    for message in receiver.received.of("/v1/traces"):
        for resource_spans in message.resource_spans:
            resource = {k: v for k, v in attrs(resource_spans.resource.attributes).items()
                        if k not in VOLATILE_RESOURCE}
            for scope_spans in resource_spans.scope_spans:
                scope = MessageToDict(scope_spans.scope)
                for span in scope_spans.spans:
                    assert len(span.trace_id) == 16 and len(span.span_id) == 8 and span.end_time_unix_nano > 0
                    fields = MessageToDict(span)
                    fields["ids"] = [name for name in IDS if fields.pop(name, None)]
                    if span.kind == span.SPAN_KIND_SERVER or span.name in ("parent", "child"):
                        fields.pop("startTimeUnixNano")
                        fields.pop("endTimeUnixNano")
                        for event in fields.get("events", ()):
                            event.pop("timeUnixNano")
                    for link in fields.get("links", ()):
                        assert link.pop("traceId") and link.pop("spanId")
                    out.append(json.dumps({"resource": resource, "scope": scope, "span": fields}, sort_keys=True))
    return sorted(out)


def _both(extra_env: dict) -> dict:
    seen = {}
    for encode in (True, False):
        with OtlpReceiver() as receiver:
            seen[encode] = _run(receiver.endpoint, encode, extra_env), _spans(receiver)
    return seen


CASES = {"defaults": {},
         "limits": {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "3", "OTEL_SPAN_EVENT_COUNT_LIMIT": "2",
                    "OTEL_SPAN_LINK_COUNT_LIMIT": "1", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "1",
                    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "16"}}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return request.param, _both(CASES[request.param])


def test_spans_encoded_at_the_end_equal_the_spans_encoded_on_the_worker(case):
    _, seen = case
    (encoded_flag, encoded), (plain_flag, plain) = seen[True], seen[False]
    assert encoded_flag == [True] and plain_flag == [False]  # each run took the path it names
    assert len(encoded) == len(plain) == 2 + 3 * 3  # two server spans, three spans per tracer
    assert encoded == plain


def test_the_cases_cover_what_they_name(case):
    name, seen = case
    spans = [json.loads(item) for item in seen[True][1]]
    everything = json.dumps(spans)
    for secret in ("hunter2", "tokvalue1", "tokvalue2", "sekrit", "abc123", "abcdef123456", "t0k"):
        assert secret not in everything
    assert "\\\\udcff" in everything or "\\\\ud800" in everything  # repaired, not lost
    assert {json.dumps(s["resource"].get("tier")) for s in spans} == {"null", "2"}
    assert len({json.dumps(s["scope"], sort_keys=True) for s in spans}) >= 4
    server = [s["span"] for s in spans if s["span"]["kind"] == "SPAN_KIND_SERVER"]
    assert len(server) == 2 and any(s["status"].get("code") == "STATUS_CODE_ERROR" for s in server)
    queried = [s["span"] for s in spans if s["span"]["name"].startswith("db query")]
    assert len(queried) == 3 and all(s["status"]["code"] == "STATUS_CODE_ERROR" for s in queried)
    assert all(s["traceState"] == "vendor=v1" or "traceState" not in s for s in queried)
    parents = [s["span"] for s in spans if s["span"]["name"] == "parent"]
    if name == "limits":
        # A span the redactor rebuilds loses its dropped counts on both paths (redaction/spans.py).
        assert all(len(s["links"]) == 1 and len(s["events"]) == 2 and len(s["attributes"]) == 3 for s in queried)
        assert all(s["droppedAttributesCount"] == 2 and s["droppedEventsCount"] == 1 and s["droppedLinksCount"] == 2
                   for s in parents)
    else:
        assert all("droppedAttributesCount" not in s and len(s["events"]) == 3 for s in parents)
        assert all(len(s["events"]) == 4 and len(s["links"]) == 3 for s in queried)
        assert any(e["name"] == "exception" for s in queried for e in s["events"])


def _queue_to(endpoint: str, max_bytes: int):
    from vitalyst_otel.config import OtlpSettings
    from vitalyst_otel.export.batch import BatchQueue
    from vitalyst_otel.export.otlp import OtlpSpanExporter
    from vitalyst_otel.export.redacting import RedactingSpanExporter
    from vitalyst_otel.export.sizes import span_size
    from vitalyst_otel.export.span_processor import QueueSpanProcessor
    from vitalyst_otel.redaction import Redactor

    exporter = OtlpSpanExporter(OtlpSettings(endpoint + "/v1/traces", "http/protobuf", {}, 5.0, "none", None))
    queue = BatchQueue([RedactingSpanExporter(exporter, Redactor(("password",)))], "traces", max_batch=64,
                       delay_s=0.05, max_bytes=max_bytes, size_of=span_size)
    return QueueSpanProcessor(queue), exporter


def test_a_silent_collector_never_lets_encoded_spans_overfill_the_queue():
    from opentelemetry.sdk.trace import TracerProvider

    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        processor, _ = _queue_to(f"http://127.0.0.1:{silent.getsockname()[1]}", max_bytes=64 * 1024)
        assert processor.redactor is not None
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("bound")
        queue = processor.queue
        peak = 0
        for n in range(3000):
            with tracer.start_as_current_span(f"span {n}", attributes={"payload": "x" * 200, "password": "p"}):
                pass
            peak = max(peak, queue.queued_bytes)
        assert queue.dropped > 0  # the bound was reached ...
        assert peak <= queue.max_bytes  # ... and never passed, the batch in flight counted
        queue.shutdown(1.0)


def test_a_repaired_string_in_an_encoded_span_is_counted_by_the_exporter_that_sends_it():
    from opentelemetry.sdk.trace import TracerProvider

    with OtlpReceiver() as receiver:
        processor, exporter = _queue_to(receiver.endpoint, max_bytes=1 << 20)
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("repairs")
        with tracer.start_as_current_span("lone \udcff", attributes={"also": "\ud800", "password": "hunter2"}):
            pass
        assert processor.queue.force_flush(10.0)
        processor.queue.shutdown(5.0)
    spans = [span for _, span in receiver.received.spans()]
    assert [span.name for span in spans] == ["lone \\udcff"]
    assert exporter.status.snapshot().repaired_items == 2
    assert "hunter2" not in str(spans[0].attributes)


def test_other_exporters_keep_getting_span_objects():
    from vitalyst_otel.export.batch import BatchQueue
    from vitalyst_otel.export.console import CompactConsoleSpanExporter
    from vitalyst_otel.export.otlp import OtlpSpanExporter
    from vitalyst_otel.export.redacting import RedactingSpanExporter
    from vitalyst_otel.export.span_processor import QueueSpanProcessor, encoding_redactor
    from vitalyst_otel.redaction import Redactor

    class Mine(OtlpSpanExporter):
        """A user's subclass may read the spans."""

    redactor = Redactor(("password",))
    otlp = OtlpSpanExporter.__new__(OtlpSpanExporter)
    assert encoding_redactor([RedactingSpanExporter(otlp, redactor)]) is redactor
    assert encoding_redactor([otlp]) is None  # not redacted on the way: never encode it here
    assert encoding_redactor([RedactingSpanExporter(Mine.__new__(Mine), redactor)]) is None
    assert encoding_redactor([RedactingSpanExporter(otlp, redactor)] * 2) is None
    assert encoding_redactor([RedactingSpanExporter(CompactConsoleSpanExporter.__new__(CompactConsoleSpanExporter),
                                                    redactor)]) is None
    assert QueueSpanProcessor(BatchQueue([], "traces", synchronous=True)).redactor is None


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
