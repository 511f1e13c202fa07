"""A raw OTLP client for the reliability tests: builds export requests with known trace ids and
log records, and sends encoded bytes (valid or not) over OTLP/HTTP and OTLP/gRPC, reporting the
collector's answer instead of retrying, so a test knows exactly what was acknowledged."""

from __future__ import annotations

import http.client
import ssl
import secrets
import time
from dataclasses import dataclass

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

TRACES_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
METRICS_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


def _attrs(**values: str) -> list[KeyValue]:
    return [KeyValue(key=k.replace("__", "."), value=AnyValue(string_value=v)) for k, v in values.items()]


def _resource(service: str) -> Resource:
    return Resource(attributes=_attrs(service__name=service, service__instance__id="raw-client-1"))


def traces_request(trace_ids: list[bytes], spans_per_trace: int = 3, service: str = "raw-client",
                   attribute_bytes: int = 0) -> bytes:
    """One ExportTraceServiceRequest: for each trace id a root span and children."""
    now = time.time_ns()
    spans = []
    padding = "p" * attribute_bytes
    for trace_id in trace_ids:
        root_id = secrets.token_bytes(8)
        for i in range(spans_per_trace):
            spans.append(Span(
                trace_id=trace_id, span_id=root_id if i == 0 else secrets.token_bytes(8),
                parent_span_id=b"" if i == 0 else root_id, name=f"raw-{i}", kind=Span.SPAN_KIND_SERVER if i == 0 else Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=now, end_time_unix_nano=now + 1_000_000,
                attributes=_attrs(padding=padding) if padding else []))
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=_resource(service), scope_spans=[ScopeSpans(spans=spans)])])
    return request.SerializeToString()


def logs_request(trace_ids: list[bytes], service: str = "raw-client", body_bytes: int = 0) -> bytes:
    """One ExportLogsServiceRequest: one log record per trace id, carrying that trace id."""
    now = time.time_ns()
    records = [LogRecord(time_unix_nano=now, severity_number=9, severity_text="INFO",
                         body=AnyValue(string_value="raw record " + trace_id.hex() + " " + "b" * body_bytes),
                         trace_id=trace_id, span_id=secrets.token_bytes(8)) for trace_id in trace_ids]
    request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(
        resource=_resource(service), scope_logs=[ScopeLogs(log_records=records)])])
    return request.SerializeToString()


def metrics_request(name: str = "raw.client.value", value: float = 1.0, service: str = "raw-client",
                    resource: dict[str, str] | None = None) -> bytes:
    """One ExportMetricsServiceRequest with one gauge data point; ``resource`` replaces the
    default resource attributes."""
    point = NumberDataPoint(time_unix_nano=time.time_ns(), as_double=value)
    own = Resource(attributes=[KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in resource.items()]) \
        if resource else _resource(service)
    request = ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(
        resource=own, scope_metrics=[ScopeMetrics(metrics=[
            Metric(name=name, unit="1", gauge=Gauge(data_points=[point]))])])])
    return request.SerializeToString()


def new_trace_ids(n: int) -> list[bytes]:
    return [secrets.token_bytes(16) for _ in range(n)]


@dataclass
class Answer:
    ok: bool
    status: str  # HTTP status code or gRPC status name; "error: ..." when the connection failed


def post_http(host_port: str, path: str, body: bytes, headers: dict[str, str] | None = None,
              timeout: float = 10.0, tls: ssl.SSLContext | None = None) -> Answer:
    """POST to host:port (an http:// or https:// prefix is dropped); over TLS with ``tls``."""
    host, port = host_port.split("://", 1)[-1].split(":")
    conn = (http.client.HTTPSConnection(host, int(port), timeout=timeout, context=tls) if tls is not None
            else http.client.HTTPConnection(host, int(port), timeout=timeout))
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/x-protobuf", **(headers or {})})
        response = conn.getresponse()
        try:
            response.read()
        except OSError:  # a server that closes right after its answer (a TLS port asked in plaintext)
            pass
        return Answer(200 <= response.status < 300, str(response.status))
    except OSError as exc:
        return Answer(False, f"error: {exc}")
    finally:
        conn.close()


class GrpcSender:
    """Raw bytes to the collector's OTLP gRPC services (no protobuf check on our side)."""

    def __init__(self, target: str, max_message_bytes: int = 64 * 1024 * 1024):
        import grpc

        self._grpc = grpc
        self.channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes)])

    def send(self, method: str, body: bytes, metadata: list[tuple[str, str]] | None = None,
             timeout: float = 10.0) -> Answer:
        call = self.channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        try:
            call(body, timeout=timeout, metadata=metadata)
            return Answer(True, "OK")
        except self._grpc.RpcError as exc:
            return Answer(False, exc.code().name)

    def close(self) -> None:
        self.channel.close()
