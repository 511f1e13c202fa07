"""A real OTLP/HTTP receiver for tests: a local HTTP server that decodes the protobuf payloads
with the official opentelemetry-proto classes and keeps them, so tests can check exactly what
went over the wire. It can also be told to answer with an error status for a while."""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

MESSAGES = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
}


def attrs(key_values) -> dict:
    """Protobuf KeyValue list -> plain dict (scalars only; arrays/maps as their repr)."""
    out = {}
    for kv in key_values:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = getattr(value, kind) if kind in ("string_value", "bool_value", "int_value", "double_value", "bytes_value") else str(value)
    return out


@dataclass
class Received:
    requests: list = field(default_factory=list)  # (path, message, headers)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, path: str) -> list:
        with self.lock:
            return [message for p, message, _ in self.requests if p == path]

    def spans(self) -> list[tuple[dict, object]]:
        """(resource attributes, Span) for every span received."""
        return [(attrs(rs.resource.attributes), span)
                for message in self.of("/v1/traces") for rs in message.resource_spans
                for ss in rs.scope_spans for span in ss.spans]

    def log_records(self) -> list[tuple[dict, object]]:
        return [(attrs(rl.resource.attributes), record)
                for message in self.of("/v1/logs") for rl in message.resource_logs
                for sl in rl.scope_logs for record in sl.log_records]

    def metrics(self) -> list[tuple[dict, object]]:
        return [(attrs(rm.resource.attributes), metric)
                for message in self.of("/v1/metrics") for rm in message.resource_metrics
                for sm in rm.scope_metrics for metric in sm.metrics]

    def headers(self, path: str) -> list:
        with self.lock:
            return [h for p, _, h in self.requests if p == path]


class OtlpReceiver:
    def __init__(self, port: int = 0):
        self.received = Received()
        self.fail_with: int | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.fail_with is not None:
                    self.send_response(receiver.fail_with)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                message_type = MESSAGES.get(self.path)
                if message_type is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                message = message_type()
                message.ParseFromString(body)
                with receiver.received.lock:
                    receiver.received.requests.append((self.path, message, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate, timeout: float = 30.0, interval: float = 0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate(self.received)
            if result:
                return result
            time.sleep(interval)
        return predicate(self.received)
