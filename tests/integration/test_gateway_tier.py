"""The two-tier setup for real: an agent (config.yaml + overlays/to-gateway.yaml) routes spans by
trace id to two gateways (gateway.yaml) that tail-sample into Jaeger. Every error trace and
every slow trace arrives whole; the others are sampled at the configured percentage (0 here)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from vitalyst_otel.stack.stack import HOST, Component, Ports, Stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _port_block(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        ports.extend(p for p in vars(Ports.free()).values() if p not in ports)
    return ports[:count]


def _collector(name: str, binary: Path, files: list[str], ports: dict[str, int], state: Path,
               extra: dict[str, str]) -> Component:
    argv = [str(binary)]
    for f in files:
        argv += ["--config", str(ROOT / "collector" / f)]
    env = {
        "VITALYST_OTLP_GRPC_ENDPOINT": f"{HOST}:{ports['grpc']}",
        "VITALYST_OTLP_HTTP_ENDPOINT": f"{HOST}:{ports['http']}",
        "VITALYST_OTELCOL_HEALTH_ENDPOINT": f"{HOST}:{ports['health']}",
        "VITALYST_OTELCOL_METRICS_HOST": HOST,
        "VITALYST_OTELCOL_METRICS_PORT": str(ports["metrics"]),
        "VITALYST_OTELCOL_PPROF_ENDPOINT": f"{HOST}:{ports['pprof']}",
        "VITALYST_OTELCOL_ZPAGES_ENDPOINT": f"{HOST}:{ports['zpages']}",
        "VITALYST_OTELCOL_STORAGE_DIR": str(state / f"{name}-queue"),
        **extra,
    }
    return Component(name, argv, f"http://{HOST}:{ports['http']}", f"http://{HOST}:{ports['health']}/", env=env)


def _accepted_spans(metrics_port: int) -> float:
    with urllib.request.urlopen(f"http://{HOST}:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("otelcol_receiver_accepted_spans"))


def _jaeger_spans(query_port: int, trace_id: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{query_port}/api/traces/{trace_id}", timeout=5) as response:
            return len(json.loads(response.read())["data"][0]["spans"])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return 0
        raise


def test_agents_route_by_trace_id_to_tail_sampling_gateways(collector_binary, jaeger_binary, tmp_path) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import Status, StatusCode, set_span_in_context

    free = iter(_port_block(30))
    names = ("grpc", "http", "health", "metrics", "pprof", "zpages", "prometheus")
    agent_ports = {n: next(free) for n in names}
    gateway_ports = [{n: next(free) for n in names} for _ in range(2)]
    jaeger = {n: next(free) for n in ("grpc", "http", "query", "query_grpc", "health", "metrics")}

    supervisor = Stack(tmp_path, ROOT, scrape_interval="1s")
    supervisor.components["jaeger"] = Component(
        "jaeger", [str(jaeger_binary), "--config", str(ROOT / "tools/jaeger/config.yaml")],
        f"http://{HOST}:{jaeger['query']}", f"http://{HOST}:{jaeger['health']}/status", env={
            "JAEGER_OTLP_GRPC_PORT": str(jaeger["grpc"]), "JAEGER_OTLP_HTTP_PORT": str(jaeger["http"]),
            "JAEGER_QUERY_HTTP_PORT": str(jaeger["query"]), "JAEGER_QUERY_GRPC_PORT": str(jaeger["query_grpc"]),
            "JAEGER_HEALTH_PORT": str(jaeger["health"]), "JAEGER_METRICS_PORT": str(jaeger["metrics"])})
    tail = {
        "VITALYST_TEMPO_ENDPOINT": f"{HOST}:{jaeger['grpc']}",
        "VITALYST_TAIL_DECISION_WAIT": "2s",
        "VITALYST_TAIL_LATENCY_THRESHOLD_MS": "500",
        "VITALYST_TAIL_SAMPLE_PERCENT": "0",
    }
    for i, ports in enumerate(gateway_ports):
        supervisor.components[f"gateway-{i}"] = _collector(
            f"gateway-{i}", collector_binary, ["gateway.yaml"], ports, tmp_path, tail)
    hostnames = "[" + ", ".join(f"{HOST}:{p['grpc']}" for p in gateway_ports) + "]"
    supervisor.components["agent"] = _collector(
        "agent", collector_binary, ["config.yaml", "overlays/to-gateway.yaml"], agent_ports, tmp_path, {
            "VITALYST_GATEWAY_HOSTNAMES": hostnames,
            "VITALYST_PROMETHEUS_EXPORTER_ENDPOINT": f"{HOST}:{agent_ports['prometheus']}",
            "VITALYST_ELASTICSEARCH_ENDPOINT": f"http://{HOST}:9",  # no logs in this test
        })
    try:
        for name in supervisor.components:
            supervisor.start(name)
        supervisor.wait_healthy(list(supervisor.components), timeout=60)

        provider = TracerProvider(resource=Resource.create({"service.name": "tier-test"}))
        # One export request per span: the agent must route each by its trace id on its own.
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://{HOST}:{agent_ports['http']}/v1/traces")))
        tracer = provider.get_tracer("tier-test")
        kinds: dict[str, list[str]] = {"error": [], "slow": [], "normal": []}
        for kind in kinds:
            for _ in range(15):
                start = time.time_ns()
                duration = 2_000_000_000 if kind == "slow" else 5_000_000
                root = tracer.start_span(f"{kind}-root", start_time=start)
                ctx = set_span_in_context(root)
                for child in range(2):
                    tracer.start_span(f"{kind}-child-{child}", context=ctx, start_time=start + 1000).end(
                        end_time=start + duration // 2)
                if kind == "error":
                    root.set_status(Status(StatusCode.ERROR, "boom"))
                root.end(end_time=start + duration)
                kinds[kind].append(format(root.get_span_context().trace_id, "032x"))
        provider.shutdown()

        kept = kinds["error"] + kinds["slow"]
        deadline = time.monotonic() + 60
        while True:
            complete = [t for t in kept if _jaeger_spans(jaeger["query"], t) == 3]
            if len(complete) == len(kept):
                break
            assert time.monotonic() < deadline, f"{len(complete)}/{len(kept)} kept traces complete in Jaeger"
            time.sleep(1)
        time.sleep(3)  # past another decision period: nothing else may arrive
        assert [t for t in kinds["normal"] if _jaeger_spans(jaeger["query"], t)] == []
        per_gateway = [_accepted_spans(p["metrics"]) for p in gateway_ports]
        assert sum(per_gateway) == 135 and all(n > 0 for n in per_gateway), per_gateway
    finally:
        supervisor.down()
