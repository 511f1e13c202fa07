"""What configure() puts on the wire: a real OTLP/HTTP receiver (tests/support/otlp_receiver.py)
decodes every payload with the official protobuf definitions."""

import json
import os
import subprocess
import sys
import textwrap
import time
from importlib.util import find_spec

from tests.conftest import require
from tests.support.otlp_receiver import OtlpReceiver, attrs

APP_SCRIPT = """
import asyncio, logging, os, sys, time
import httpx
from fastapi import FastAPI
import vitalyst_otel

app = FastAPI()

@app.get("/nodes/{node_id}")
async def node(node_id: str):
    logging.getLogger("graph").info("read node", extra={"node.id": node_id, "password": "hunter2"})
    return {"id": node_id}

handle = vitalyst_otel.configure(app=app, service_name="wire-test", service_version="9.9.9")

async def main():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for i in range(__REQUESTS__):
            assert (await client.get(f"/nodes/n{i}?token=tok-secret")).status_code == 200

asyncio.run(main())
started = time.monotonic()
ok = handle.shutdown(__TIMEOUT__)
print("SHUTDOWN", round(time.monotonic() - started, 2), ok, file=sys.stderr)
"""


def run_app(endpoint: str, requests: int = 5, shutdown_timeout: float = 5.0, **extra_env) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20wire-token",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "300",
        "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=vitalyst",
        **extra_env,
    }
    script = textwrap.dedent(APP_SCRIPT).replace("__REQUESTS__", str(requests)).replace(
        "__TIMEOUT__", str(shutdown_timeout))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=120)


def test_all_three_signals_arrive_decoded_with_the_resource_and_correlated():
    with OtlpReceiver() as receiver:
        result = run_app(receiver.endpoint)
        assert result.returncode == 0, result.stderr
        spans = receiver.received.spans()
        logs = receiver.received.log_records()
        metrics = receiver.received.metrics()

    assert len(spans) == 5
    resource, span = spans[0]
    assert resource["service.name"] == "wire-test" and resource["service.namespace"] == "vitalyst"
    assert resource["service.version"] == "9.9.9"
    assert resource["telemetry.distro.name"] == "vitalyst-otel" and resource["telemetry.sdk.language"] == "python"
    assert len(resource["service.instance.id"]) == 36
    assert span.name == "GET /nodes/{node_id}" and span.kind == 2  # SERVER
    span_attrs = attrs(span.attributes)
    assert span_attrs["http.route"] == "/nodes/{node_id}" and span_attrs["http.response.status_code"] == 200
    assert "tok-secret" not in repr(span_attrs)

    read_logs = [(r, rec) for r, rec in logs if rec.body.string_value == "read node"]
    assert len(read_logs) == 5
    record = read_logs[0][1]
    assert {rec.trace_id for _, rec in read_logs} == {s.trace_id for _, s in spans}
    log_attrs = attrs(record.attributes)
    assert log_attrs["node.id"].startswith("n") and log_attrs["password"] == "[REDACTED]"
    assert record.severity_text == "INFO" and record.severity_number == 9

    durations = [m for _, m in metrics if m.name == "http.server.request.duration"]
    assert durations and durations[-1].unit == "s"
    point = durations[-1].histogram.data_points[0]
    assert point.count == 5 and list(point.explicit_bounds)[:2] == [0.005, 0.01]
    assert durations[-1].histogram.aggregation_temporality == 2  # cumulative, as Prometheus needs
    assert receiver.received.headers("/v1/traces")[0]["Authorization"] == "Bearer wire-token"

    stdout_lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    stdout_reads = [line for line in stdout_lines if line["message"] == "read node"]
    assert {line["trace_id"] for line in stdout_reads} == {s.trace_id.hex() for _, s in spans}
    assert "hunter2" not in result.stdout and "tok-secret" not in result.stdout


def test_collector_down_costs_the_app_nothing_and_shutdown_is_bounded():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = run_app(f"http://127.0.0.1:{port}", requests=50, shutdown_timeout=5.0)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60  # nothing waits for the missing collector (the cost is measured by make bench)
    shutdown = next(line for line in result.stderr.splitlines() if line.startswith("SHUTDOWN"))
    assert float(shutdown.split()[1]) <= 5.0
    output = result.stdout + result.stderr
    warnings = [json.loads(line) for line in result.stdout.splitlines()
                if line.startswith("{") and "Export of" in line]
    per_signal = {}
    for line in warnings:
        for signal in ("traces", "metrics", "logs"):
            if line["message"].startswith(f"Export of {signal} "):
                per_signal[signal] = per_signal.get(signal, 0) + 1
    assert per_signal and all(count == 1 for count in per_signal.values()), warnings
    assert "Traceback" not in output


def test_grpc_when_asked():
    require(find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None, "the [grpc] extra is not installed")
    from tests.support.otlp_grpc_receiver import OtlpGrpcReceiver

    with OtlpGrpcReceiver() as receiver:
        result = run_app(receiver.endpoint, requests=3, OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
        assert result.returncode == 0, result.stderr
        assert receiver.wait_for(lambda r: len(r.spans()) == 3 and r.requests["logs"] and r.requests["metrics"])
    assert {span.name for span in receiver.spans()} == {"GET /nodes/{node_id}"}
    assert any(m.get("authorization") == "Bearer wire-token" for m in receiver.metadata)
