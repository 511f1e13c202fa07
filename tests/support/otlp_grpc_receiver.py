"""A real OTLP/gRPC receiver for tests: a grpcio server with the official service definitions,
keeping every request it receives."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class OtlpGrpcReceiver:
    def __init__(self):
        self.requests: dict[str, list] = {"traces": [], "metrics": [], "logs": []}
        self.metadata: list = []
        self._lock = threading.Lock()
        receiver = self

        def keep(signal, request, context):
            with receiver._lock:
                receiver.requests[signal].append(request)
                receiver.metadata.append(dict(context.invocation_metadata()))

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request, context):  # noqa: N802
                keep("traces", request, context)
                return trace_service_pb2.ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request, context):  # noqa: N802
                keep("metrics", request, context)
                return metrics_service_pb2.ExportMetricsServiceResponse()

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request, context):  # noqa: N802
                keep("logs", request, context)
                return logs_service_pb2.ExportLogsServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), self.server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), self.server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OtlpGrpcReceiver:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop(0)

    def spans(self) -> list:
        with self._lock:
            return [span for request in self.requests["traces"] for rs in request.resource_spans
                    for ss in rs.scope_spans for span in ss.spans]

    def wait_for(self, predicate, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not predicate(self):
            time.sleep(0.1)
        return predicate(self)
