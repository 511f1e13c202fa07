"""The two-tier setup for real: an agent (config.yaml + overlays/to-gateway.yaml) routes spans by
trace id to two gateways (gateway.yaml) that tail-sample into Jaeger. Every error trace and
every slow trace arrives whole; the others are sampled at the configured percentage (0 here)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.e2e_support import (
    collector_component, collector_metric, collector_ports, jaeger_component, jaeger_trace, port_block,
)
from devstack.stack import HOST, Stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_agents_route_by_trace_id_to_tail_sampling_gateways(collector_binary, jaeger_binary, tmp_path) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import Status, StatusCode, set_span_in_context

    free = iter(port_block(30))
    agent_ports = collector_ports(free)
    gateway_ports = [collector_ports(free) for _ in range(2)]
    jaeger = {n: next(free) for n in ("grpc", "http", "query", "query_grpc", "health", "metrics")}

    supervisor = Stack(tmp_path, ROOT, scrape_interval="1s")
    supervisor.components["jaeger"] = jaeger_component(jaeger_binary, jaeger)
    tail = {
        "VITALYST_TEMPO_ENDPOINT": f"{HOST}:{jaeger['grpc']}",
        "VITALYST_TAIL_DECISION_WAIT": "2s",
        "VITALYST_TAIL_LATENCY_THRESHOLD_MS": "500",
        "VITALYST_TAIL_SAMPLE_PERCENT": "0",
    }
    for i, ports in enumerate(gateway_ports):
        supervisor.components[f"gateway-{i}"] = collector_component(
            f"gateway-{i}", collector_binary, ["gateway.yaml"], ports, tmp_path, tail)
    hostnames = "[" + ", ".join(f"{HOST}:{p['grpc']}" for p in gateway_ports) + "]"
    supervisor.components["agent"] = collector_component(
        "agent", collector_binary, ["config.yaml", "overlays/to-gateway.yaml"], agent_ports, tmp_path, {
            "VITALYST_GATEWAY_HOSTNAMES": hostnames,
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
            complete = [t for t in kept if len(jaeger_trace(f"http://{HOST}:{jaeger['query']}", t)) == 3]
            if len(complete) == len(kept):
                break
            assert time.monotonic() < deadline, f"{len(complete)}/{len(kept)} kept traces complete in Jaeger"
            time.sleep(1)
        time.sleep(3)  # past another decision period: nothing else may arrive
        assert [t for t in kinds["normal"] if len(jaeger_trace(f"http://{HOST}:{jaeger['query']}", t))] == []
        per_gateway = [collector_metric(p["metrics"], "otelcol_receiver_accepted_spans") for p in gateway_ports]
        assert sum(per_gateway) == 135 and all(n > 0 for n in per_gateway), per_gateway
    finally:
        supervisor.down()
