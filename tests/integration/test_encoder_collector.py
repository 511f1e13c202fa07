"""Our OTLP encoder against the real collector (vitalyst-otelcol, built from collector/manifest.yaml).

Payloads from vitalyst_otel.export.protobuf are posted to the collector's OTLP/HTTP receiver; each
must be accepted (HTTP 200, no partial_success rejections) and come out of the file exporter
(format: proto, each message preceded by its 4-byte big-endian length) as the same message:
SDK-made telemetry with every feature, then random batches from the equivalence test's strategies.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import HealthCheck, assume, given, settings
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from tests.conftest import require
from tests.unit.export.otlp_strategies import log_batches, metrics_data, span_batches
from vitalyst_otel.export import protobuf as encoder

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SIGNALS = {
    "traces": (trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse,
               "rejected_spans"),
    "logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse,
             "rejected_log_records"),
    "metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse,
                "rejected_data_points"),
}
CONFIG = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
{exporters}
service:
  telemetry:
    metrics:
      level: none
  pipelines:
{pipelines}
"""


def collector_binary() -> Path | None:
    """$VITALYST_OTELCOL, else the build of collector/manifest.yaml in the cache build.sh fills,
    else the newest build there (any build has the OTLP receiver and the file exporter)."""
    if os.environ.get("VITALYST_OTELCOL"):
        path = Path(os.environ["VITALYST_OTELCOL"])
        return path if path.is_file() else None
    cache = Path(os.environ.get("VITALYST_CACHE", Path.home() / ".cache" / "vitalyst-otel")) / "collector"
    manifest = ROOT / "collector" / "manifest.yaml"
    if manifest.is_file():
        exact = cache / hashlib.sha256(manifest.read_bytes()).hexdigest()[:16] / "vitalyst-otelcol"
        if exact.is_file():
            return exact
    built = sorted(cache.glob("*/vitalyst-otelcol"), key=lambda p: p.stat().st_mtime)
    return built[-1] if built else None


_ZERO_IDS = {"AAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAA=="}  # 8 and 16 zero bytes, base64


def canonical(message) -> dict:
    """The message as a dict, without what the collector's data model cannot tell from absent:
    empty sub-messages (it always writes a Span's status, for one) and all-zero trace/span ids
    (its "empty" id). Everything else must match as sent."""
    def strip(value):
        if isinstance(value, dict):
            items = ((k, strip(v)) for k, v in value.items())
            return {k: v for k, v in items
                    if v != {} and not (k.endswith(("trace_id", "span_id")) and v in _ZERO_IDS)}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return strip(MessageToDict(message, preserving_proto_field_name=True))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FileOutput:
    """Messages the file exporter (format: proto) appends to one file, read in order."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def next_message(self, timeout: float = 15.0) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            data = self.path.read_bytes() if self.path.exists() else b""
            if len(data) >= self.offset + 4:
                (size,) = struct.unpack(">I", data[self.offset:self.offset + 4])
                end = self.offset + 4 + size
                if len(data) >= end:
                    message, self.offset = data[self.offset + 4:end], end
                    return message
            if time.monotonic() > deadline:
                raise AssertionError(f"the collector wrote nothing new to {self.path} in {timeout} s")
            time.sleep(0.05)


class Collector:
    def __init__(self, binary: Path, workdir: Path):
        self.port = _free_port()
        self.outputs = {signal: FileOutput(workdir / f"{signal}.bin") for signal in SIGNALS}
        exporters = "".join(f"  file/{s}:\n    path: {o.path}\n    format: proto\n    flush_interval: 50ms\n"
                            for s, o in self.outputs.items())
        pipelines = "".join(f"    {s}:\n      receivers: [otlp]\n      exporters: [file/{s}]\n" for s in SIGNALS)
        config = workdir / "config.yaml"
        config.write_text(CONFIG.format(port=self.port, exporters=exporters, pipelines=pipelines))
        self.log = workdir / "collector.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([str(binary), "--config", str(config)], stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"the collector exited: {self.log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"the collector did not listen: {self.log.read_text()[-3000:]}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def roundtrip(self, signal: str, body: bytes):
        """Post ``body``; check it is accepted whole; return (sent, written) as parsed messages."""
        request_class, response_class, rejected_field = SIGNALS[signal]
        post = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/{signal}", data=body, method="POST",
                                      headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(post, timeout=10) as response:
            assert response.status == 200
            answer = response_class.FromString(response.read())
        assert getattr(answer.partial_success, rejected_field) == 0, answer
        assert answer.partial_success.error_message == "", answer
        sent = request_class.FromString(body)
        if signal == "metrics" and not _data_points(sent):
            return sent, None  # the receiver passes nothing on without data points
        return sent, request_class.FromString(self.outputs[signal].next_message())


def _data_points(request) -> int:
    return sum(len(getattr(metric, metric.WhichOneof("data")).data_points)
               for rm in request.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics
               if metric.WhichOneof("data"))


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    binary = collector_binary()
    require(binary is not None, "vitalyst-otelcol is not built (make collector)")
    running = Collector(binary, tmp_path_factory.mktemp("collector"))
    yield running
    running.stop()


# --- telemetry made by the SDK, every feature ---------------------------------------------------

RESOURCE = Resource.create({"service.name": "encoder-it", "service.instance.id": "it-1", "process.pid": 42})


def _spans():
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("encoder.it", "1.0", schema_url="https://opentelemetry.io/schemas/1.26.0",
                                 attributes={"scope.attr": "x"})
    remote = SpanContext(0xABCDEF, 0x1234, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with tracer.start_as_current_span("GET /nodes/{id}", context=set_span_in_context(NonRecordingSpan(remote)),
                                      kind=SpanKind.SERVER, links=[Link(remote, {"link.kind": "cause"})],
                                      attributes={"http.route": "/nodes/{id}", "http.response.status_code": 500,
                                                  "ratio": 0.25, "cached": False, "tags": ["a", "b"],
                                                  "ids": [1, 2, 3], "empty": ""}) as span:
        span.add_event("exception", {"exception.type": "ValueError", "exception.message": "boom"})
        with tracer.start_as_current_span("db.query", kind=SpanKind.CLIENT) as child:
            child.set_attribute("db.system.name", "postgresql")
        span.set_status(Status(StatusCode.ERROR, "boom"))
    with tracer.start_as_current_span("background", kind=SpanKind.INTERNAL):
        pass
    return list(memory.get_finished_spans())


def _log_records():
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("encoder.it", "1.0")
    tracer = TracerProvider(resource=RESOURCE).get_tracer("t")
    with tracer.start_as_current_span("in-span"):
        logger.emit(LogRecord(severity_number=SeverityNumber.WARN, severity_text="WARN", body="queue above 100",
                              attributes={"queue.length": 101, "queue.name": "validation"}))
    logger.emit(LogRecord(severity_number=SeverityNumber.INFO, body={"node": {"id": "n1", "labels": ["a", 1]}},
                          event_name="vitalyst.node.enriched"))
    logger.emit(LogRecord(body=None, attributes={"bytes": b"\x00\x01"}))
    return list(memory.get_finished_logs())


def _metrics_data():
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader],
                             views=[View(instrument_name="exp.*", aggregation=ExponentialBucketHistogramAggregation()),
                                    View(instrument_name="*")])
    meter = provider.get_meter("encoder.it", "1.0")
    tracer = TracerProvider(resource=RESOURCE).get_tracer("t")
    requests = meter.create_counter("http.requests", unit="{request}")
    active = meter.create_up_down_counter("http.active", unit="{request}")
    duration = meter.create_histogram("http.duration", unit="s")
    exp = meter.create_histogram("exp.duration", unit="s")
    meter.create_observable_gauge("queue.length", [lambda options: [__import__(
        "opentelemetry.metrics", fromlist=["Observation"]).Observation(7.5, {"queue": "validation"})]])
    with tracer.start_as_current_span("with-exemplars"):  # sampled span: exemplars carry its ids
        for i in range(20):
            requests.add(1, {"route": "/nodes", "code": 200 + i % 2})
            active.add(1 if i % 3 else -1)
            duration.record(0.001 * i, {"route": "/nodes"})
            exp.record(0.5 + i, {"route": "/nodes"})
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def test_sdk_telemetry_is_accepted_and_comes_out_intact(collector):
    for signal, body in (("traces", encoder.encode_spans(_spans())), ("logs", encoder.encode_logs(_log_records())),
                         ("metrics", encoder.encode_metrics(_metrics_data()))):
        sent, written = collector.roundtrip(signal, body)
        assert written == sent, signal
    assert any(dp.exemplars for rm in sent.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
               for dp in m.sum.data_points), "no exemplars were exercised"


# --- random batches -------------------------------------------------------------------------

RANDOM = settings(max_examples=int(os.environ.get("VITALYST_HYPOTHESIS_COLLECTOR_EXAMPLES", "40")), deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])


def _encodable(encode, data) -> bytes:
    logging.getLogger("vitalyst_otel.export").setLevel(logging.CRITICAL)
    try:
        body = encode(data)
    except Exception:  # data both encoders refuse: nothing to send
        body = b""
    assume(body)
    return body


@RANDOM
@given(batch=span_batches())
def test_random_spans_come_out_intact(collector, batch):
    sent, written = collector.roundtrip("traces", _encodable(encoder.encode_spans, batch))
    assert canonical(written) == canonical(sent)


@RANDOM
@given(batch=log_batches())
def test_random_log_records_come_out_intact(collector, batch):
    sent, written = collector.roundtrip("logs", _encodable(encoder.encode_logs, batch))
    assert canonical(written) == canonical(sent)


@RANDOM
@given(data=metrics_data())
def test_random_metrics_come_out_intact(collector, data):
    sent, written = collector.roundtrip("metrics", _encodable(encoder.encode_metrics, data))
    if written is not None:
        assert canonical(written) == canonical(sent)
