"""A local OTLP/HTTP receiver for the benchmarks: accepts and discards.

``python -m benchmarks.receiver --port 0 --ready-file PATH`` serves

- ``POST /v1/traces``, ``/v1/metrics``, ``/v1/logs``: 200 with an empty protobuf body (an empty
  Export*ServiceResponse), whatever the payload. HTTP/1.1 keep-alive, one thread per connection.
- ``GET /stats``: JSON counts per path: requests, bytes, and (unless ``--no-decode``) the items
  they carried: spans, log records, metric data points, and the number of measurements each
  histogram has seen (``histogram_counts``, cumulative series taken at their latest value, delta
  series summed), which tells whether every request fed the duration histogram.
- ``POST /reset``: zero the counters (each benchmark process starts with this).

Decoding uses the official protobuf definitions (opentelemetry-proto, upb backend) and happens
after the response is sent, so the exporter in the measured process never waits for it.
The port actually bound is written to ``--ready-file`` once the server listens.
"""

from __future__ import annotations

import argparse
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIGNAL_PATHS = {"/v1/traces": "traces", "/v1/metrics": "metrics", "/v1/logs": "logs"}


class Counters:
    def __init__(self, decode: bool = True) -> None:
        self.decode = decode
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.signals = {name: {"requests": 0, "bytes": 0, "items": 0, "errors": 0}
                            for name in SIGNAL_PATHS.values()}
            self.other_requests = 0
            # histogram name -> {series key -> count} (cumulative) and name -> count (delta)
            self.cumulative: dict[str, dict[tuple, int]] = {}
            self.delta: dict[str, int] = {}
            self.metric_names: set[str] = set()

    def add(self, signal: str, body: bytes, encoding: str | None) -> None:
        with self.lock:
            entry = self.signals[signal]
            entry["requests"] += 1
            entry["bytes"] += len(body)
        if not self.decode:
            return
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            items = _DECODERS[signal](self, body)
        except Exception:  # noqa: BLE001 - a bad payload is counted, never fatal
            with self.lock:
                self.signals[signal]["errors"] += 1
            return
        with self.lock:
            self.signals[signal]["items"] += items

    def snapshot(self) -> dict:
        with self.lock:
            histograms = {name: sum(series.values()) for name, series in self.cumulative.items()}
            for name, count in self.delta.items():
                histograms[name] = histograms.get(name, 0) + count
            return {
                "signals": json.loads(json.dumps(self.signals)),
                "other_requests": self.other_requests,
                "histogram_counts": histograms,
                "metric_names": sorted(self.metric_names),
            }


def _traces(counters: Counters, body: bytes) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    message = ExportTraceServiceRequest.FromString(body)
    return sum(len(scope.spans) for rs in message.resource_spans for scope in rs.scope_spans)


def _logs(counters: Counters, body: bytes) -> int:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    message = ExportLogsServiceRequest.FromString(body)
    return sum(len(scope.log_records) for rl in message.resource_logs for scope in rl.scope_logs)


def _attributes_key(attributes) -> tuple:
    return tuple(sorted((kv.key, kv.value.SerializeToString()) for kv in attributes))


def _metrics(counters: Counters, body: bytes) -> int:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

    message = ExportMetricsServiceRequest.FromString(body)
    points = 0
    cumulative = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    for rm in message.resource_metrics:
        resource = _attributes_key(rm.resource.attributes)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                data = getattr(metric, kind)
                points += len(data.data_points)
                with counters.lock:
                    counters.metric_names.add(metric.name)
                if kind not in ("histogram", "exponential_histogram"):
                    continue
                with counters.lock:
                    if data.aggregation_temporality == cumulative:
                        series = counters.cumulative.setdefault(metric.name, {})
                        for point in data.data_points:
                            key = (resource, sm.scope.name, _attributes_key(point.attributes),
                                   point.start_time_unix_nano)
                            series[key] = max(series.get(key, 0), point.count)
                    else:
                        counters.delta[metric.name] = (counters.delta.get(metric.name, 0)
                                                       + sum(p.count for p in data.data_points))
    return points


_DECODERS = {"traces": _traces, "metrics": _metrics, "logs": _logs}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bench-otlp-receiver"
    counters: Counters

    def log_message(self, format, *args):  # noqa: A002 - silence the per-request log line
        pass

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        body = self._body()
        signal = SIGNAL_PATHS.get(path)
        if signal is not None:
            self._reply(200, b"", "application/x-protobuf")
            self.counters.add(signal, body, self.headers.get("Content-Encoding"))
        elif path == "/reset":
            self.counters.reset()
            self._reply(200, b"{}", "application/json")
        else:
            with self.counters.lock:
                self.counters.other_requests += 1
            self._reply(404, b"", "text/plain")

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] == "/stats":
            self._reply(200, json.dumps(self.counters.snapshot()).encode(), "application/json")
        else:
            self._reply(404, b"", "text/plain")


def serve(port: int = 0, decode: bool = True, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A started receiver (serving in a daemon thread); ``server.server_address[1]`` is its port."""
    handler = type("BoundHandler", (Handler,), {"counters": Counters(decode)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-decode", action="store_true", help="count requests and bytes only")
    parser.add_argument("--ready-file", help="write the bound port here once listening")
    args = parser.parse_args(argv)
    server = serve(args.port, not args.no_decode, args.host)
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as out:
            out.write(str(server.server_address[1]))
        import os

        os.replace(args.ready_file + ".tmp", args.ready_file)
    threading.Event().wait()


if __name__ == "__main__":
    main()
