"""`python -m devstack`: it starts every backend healthy, reports them, wires them together, and
`down` leaves no process behind. The Elasticsearch here is the bulk-API stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from devstack.stack import ORDER

pytestmark = pytest.mark.integration


def _stack_cli(*args: str, state_dir: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devstack", *args, "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=timeout)


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            alive.append(pid)
    return alive


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return [pid for pid in _pids_alive(found) if pid != os.getpid()]


def test_cli_up_status_down_leaves_no_process(stack_binaries, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    up = _stack_cli("up", "--free-ports", "--scrape-interval", "1s", "--json", state_dir=state_dir)
    assert up.returncode == 0, up.stderr
    started = json.loads(up.stdout)
    try:
        assert set(started["components"]) == set(ORDER)
        status = _stack_cli("status", "--json", state_dir=state_dir)
        assert status.returncode == 0, status.stdout + status.stderr
        components = json.loads(status.stdout)["components"]
        for name, component in components.items():
            assert component["healthy"], name
            assert component["pid"] > 0 and component["url"].startswith("http://127.0.0.1:")
        pids = [c["pid"] for c in components.values()]
        assert _pids_alive(pids) == pids
        second = _stack_cli("up", "--free-ports", state_dir=state_dir)
        assert second.returncode == 1 and "already running" in second.stderr
    finally:
        down = _stack_cli("down", "--json", state_dir=state_dir)
    assert down.returncode == 0, down.stderr
    assert set(json.loads(down.stdout)["stopped"]) == set(ORDER)
    assert _pids_alive(pids) == []
    assert _processes_mentioning(str(state_dir)) == []
    after = _stack_cli("status", "--json", state_dir=state_dir)
    assert after.returncode == 1


def test_prometheus_scrapes_the_collector_with_exemplars_on(stack) -> None:
    flags = _get_json(stack.prometheus + "/api/v1/status/flags")["data"]
    assert "exemplar-storage" in flags["enable-feature"]
    config = _get_json(stack.prometheus + "/api/v1/status/config")["data"]["yaml"]
    assert "honor_labels: true" in config
    deadline = time.monotonic() + 30
    while True:
        targets = _get_json(stack.prometheus + "/api/v1/targets")["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        if health.get("otel-collector") == "up" and health.get("otelcol") == "up":
            break
        assert time.monotonic() < deadline, health
        time.sleep(0.5)


def test_status_reports_every_component_healthy(stack) -> None:
    status = stack.stack.status()
    assert {name: c["healthy"] for name, c in status["components"].items()} == {name: True for name in ORDER}


def _query(prometheus: str, promql: str) -> list[dict]:
    url = prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    return _get_json(url)["data"]["result"]


def test_signals_flow_through_the_collector_to_every_backend(stack) -> None:
    """A span, a counter and a log record sent with the plain OTel SDK arrive in Jaeger,
    Prometheus (job = namespace/name, instance = service.instance.id) and the Elasticsearch
    stand-in (audit record in the audit index only)."""
    import logging
    import warnings

    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    resource = Resource.create({"service.name": "stack-smoke", "service.namespace": "vitalyst",
                                "service.instance.id": "smoke-1"})
    base = stack.otlp_http
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=base + "/v1/traces")))
    meter_provider = MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=base + "/v1/metrics"), export_interval_millis=60_000)])
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=base + "/v1/logs")))
    logger = logging.getLogger("stack-smoke")
    logger.propagate = False
    with warnings.catch_warnings():  # the SDK's handler, deprecated in 1.45: any plain OTel client will do
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(logger_provider=logger_provider)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with tracer_provider.get_tracer("smoke").start_as_current_span("smoke-root") as span:
            with tracer_provider.get_tracer("smoke").start_as_current_span("smoke-child"):
                logger.info("smoke log", extra={"password": "hunter2"})
                logger.info("smoke audit", extra={"log.type": "audit", "actor": "tester", "action": "smoke",
                                                  "resource": "stack", "outcome": "success"})
            trace_id = format(span.get_span_context().trace_id, "032x")
        meter_provider.get_meter("smoke").create_counter("vitalyst.smoke.items", unit="{item}").add(5)
        meter_provider.force_flush()
        tracer_provider.force_flush()
        logger_provider.force_flush()
    finally:
        logger.removeHandler(handler)
        meter_provider.shutdown()
        tracer_provider.shutdown()
        logger_provider.shutdown()

    deadline = time.monotonic() + 60
    found: dict[str, bool] = {}
    while not all(found.get(k) for k in ("jaeger", "prometheus", "logs", "audit")):
        assert time.monotonic() < deadline, found
        try:
            spans = _get_json(f"{stack.jaeger}/api/traces/{trace_id}")["data"][0]["spans"]
            found["jaeger"] = {s["operationName"] for s in spans} == {"smoke-root", "smoke-child"}
        except (OSError, KeyError, IndexError, ValueError):
            pass
        series = _query(stack.prometheus, 'vitalyst_smoke_items_total{job="vitalyst/stack-smoke"}')
        found["prometheus"] = bool(series) and series[0]["metric"].get("instance") == "smoke-1"
        logs = [d for d in stack.es.docs("logs-vitalyst") if d.get("trace_id") == trace_id]
        audit = [d for d in stack.es.docs("audit-vitalyst") if d.get("trace_id") == trace_id]
        found["logs"] = len(logs) == 1 and logs[0]["attributes"]["password"] != "hunter2"
        found["audit"] = len(audit) == 1 and audit[0]["attributes"]["log.type"] == "audit"
        time.sleep(0.5)
    assert all(d.get("attributes", {}).get("log.type") == "audit" for d in stack.es.docs("audit-vitalyst"))
    assert not any(d.get("attributes", {}).get("log.type") == "audit" for d in stack.es.docs("logs-vitalyst"))
