"""The two-tier collector at 1, 2 and 4 gateways, as processes on this machine (no cluster):
``python -m benchmarks.gateway_scaling [--seconds 15] [--gateways 0,1,2,4] [--series 10000,...]
[--out PATH]``.

One agent (collector/config.yaml + overlays/to-gateway.yaml, static resolver) receives OTLP/HTTP
trace requests from a load generator (4 threads, 100 fresh traces of 5 spans per request) and
routes them by trace id to N gateways (collector/gateway.yaml: 2 s decision wait, nothing kept,
so no backend is needed). ``0`` gateways is the baseline: one gateway behind the agent's plain
otlp_grpc exporter, so the difference in agent CPU per span is the loadbalancing exporter's own
cost. Each gateway runs with GOMAXPROCS=1.

Reported per run: spans/s accepted by the agent, spans/s and CPU share per gateway, CPU seconds
per million spans for the agent and for the gateways together. The machine's cores are shared
by every process here (and by whatever else runs on it), so total throughput cannot grow with N
here: what carries over to a cluster is the cost per span of each tier and whether the sum over
gateways stays flat as N grows (no coordination cost).

The series runs hold N active series of a cumulative counter in one agent's prometheus exporter,
updated continuously: CPU per data point, memory per series and the time of one scrape of the
exporter (what Prometheus waits for). docs/operations.md, "Capacity planning",
has the figures and the derivation.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import threading
import time
from pathlib import Path

from devstack.stack import HOST, Stack
from tests.integration.e2e_support import collector_component, collector_metric, collector_ports, port_block
from tests.integration.otlp_client import post_http, traces_request

ROOT = Path(__file__).resolve().parent.parent
SENDERS = 4
TRACES_PER_REQUEST = 100
SPANS_PER_TRACE = 5


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class TraceLoad:
    """Export requests whose trace ids are fresh every time: a template with a random 12-byte
    prefix on each trace id, replaced by a new random prefix per request (one bytes.replace)."""

    def __init__(self) -> None:
        self.prefix = secrets.token_bytes(12)
        ids = [self.prefix + i.to_bytes(4, "big") for i in range(TRACES_PER_REQUEST)]
        self.template = traces_request(ids, spans_per_trace=SPANS_PER_TRACE)

    def next(self) -> bytes:
        return self.template.replace(self.prefix, secrets.token_bytes(12))


def run(collector: Path, state: Path, gateways: int, seconds: float) -> dict:
    """``gateways`` behind the agent's loadbalancing exporter; 0: one gateway behind the agent's
    plain otlp_grpc exporter (the baseline for the loadbalancer's cost)."""
    replicas = max(gateways, 1)
    free = iter(port_block(7 * (replicas + 1)))
    agent_ports = collector_ports(free)
    gateway_ports = [collector_ports(free) for _ in range(replicas)]
    state.mkdir(parents=True, exist_ok=True)
    supervisor = Stack(state, state)
    for i, ports in enumerate(gateway_ports):
        # Nothing is kept (no error, no slow trace, 0 %): the gateways receive, hold and decide,
        # and their export to Tempo, the same per span as the agent's, is left out.
        supervisor.components[f"gateway-{i}"] = collector_component(
            f"gateway-{i}", collector, ["gateway.yaml"], ports, state,
            {"GOMAXPROCS": "1", "VITALYST_TEMPO_ENDPOINT": f"{HOST}:9",
             "VITALYST_TAIL_DECISION_WAIT": "2s", "VITALYST_TAIL_SAMPLE_PERCENT": "0"})
    files = ["config.yaml"]
    agent_env = {"VITALYST_ELASTICSEARCH_ENDPOINT": f"http://{HOST}:9", "VITALYST_TEMPO_QUEUE_SIZE": "100000",
                 "VITALYST_GATEWAY_QUEUE_SIZE": "100000", "VITALYST_TEMPO_ENDPOINT": f"{HOST}:{gateway_ports[0]['grpc']}"}
    if gateways:
        files.append("overlays/to-gateway.yaml")
        agent_env["VITALYST_GATEWAY_HOSTNAMES"] = "[" + ", ".join(f"{HOST}:{p['grpc']}" for p in gateway_ports) + "]"
    supervisor.components["agent"] = collector_component("agent", collector, files, agent_ports, state, agent_env)
    load = TraceLoad()
    stop = threading.Event()

    def sender() -> None:
        while not stop.is_set():
            post_http(f"{HOST}:{agent_ports['http']}", "/v1/traces", load.next(), timeout=30)

    try:
        for name in supervisor.components:
            supervisor.start(name)
        supervisor.wait_healthy(list(supervisor.components), timeout=90)
        pids = supervisor.running()
        tiers = ["agent", *[f"gateway-{i}" for i in range(replicas)]]
        cpu0 = {name: cpu_seconds(pids[name]) for name in tiers}
        accepted0 = {name: collector_metric(p["metrics"], "otelcol_receiver_accepted_spans")
                     for name, p in zip(tiers, [agent_ports, *gateway_ports])}
        threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        load_seconds = time.monotonic() - start

        def accepted_now() -> dict[str, float]:
            return {name: collector_metric(p["metrics"], "otelcol_receiver_accepted_spans") - accepted0[name]
                    for name, p in zip(tiers, [agent_ports, *gateway_ports])}

        # CPU is counted until the gateways hold every span the agent accepted.
        deadline = time.monotonic() + 120
        accepted = accepted_now()
        while sum(accepted[g] for g in tiers[1:]) < accepted["agent"] and time.monotonic() < deadline:
            time.sleep(0.5)
            accepted = accepted_now()
        elapsed = time.monotonic() - start
        cpu = {name: cpu_seconds(pids[name]) - cpu0[name] for name in tiers}
        agent_spans = accepted["agent"]
        gateway_names = tiers[1:]
        gateway_spans = sum(accepted[g] for g in gateway_names)
        return {
            "gateways": gateways,
            "load_seconds": round(load_seconds, 1),
            "drained_seconds": round(elapsed, 1),
            "agent_spans_per_s": round(agent_spans / load_seconds),
            "agent_cpu_share": round(cpu["agent"] / elapsed, 2),
            "agent_cpu_s_per_million_spans": round(cpu["agent"] / agent_spans * 1e6, 1),
            "agent_peak_rss_mib": round(rss_mib(pids["agent"])),
            "gateway_spans_per_s": [round(accepted[g] / load_seconds) for g in gateway_names],
            "gateway_cpu_share": [round(cpu[g] / elapsed, 2) for g in gateway_names],
            "gateway_peak_rss_mib": [round(rss_mib(pids[g])) for g in gateway_names],
            "gateways_cpu_s_per_million_spans": round(sum(cpu[g] for g in gateway_names) / gateway_spans * 1e6, 1),
            "gateways_received_share": round(gateway_spans / agent_spans, 3),
        }
    finally:
        stop.set()
        supervisor.down()


def metrics_request(first: int, count: int, value: float) -> bytes:
    """One export request: ``count`` series of a cumulative counter, series ids from ``first``."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.metrics.v1.metrics_pb2 import (AggregationTemporality, Metric, NumberDataPoint,
                                                            ResourceMetrics, ScopeMetrics, Sum)
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    now = time.time_ns()
    points = [NumberDataPoint(start_time_unix_nano=now - 10**9, time_unix_nano=now, as_double=value,
                              attributes=[KeyValue(key="series", value=AnyValue(string_value=str(first + i)))])
              for i in range(count)]
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="series-load")),
                                    KeyValue(key="service.instance.id", value=AnyValue(string_value="load-1"))])
    metric = Metric(name="vitalyst.load.items", unit="{item}", sum=Sum(
        data_points=points, is_monotonic=True,
        aggregation_temporality=AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE))
    return ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(
        resource=resource, scope_metrics=[ScopeMetrics(metrics=[metric])])]).SerializeToString()


def series_run(collector: Path, state: Path, series: int, seconds: float) -> dict:
    """One agent holding ``series`` active series in its prometheus exporter, each updated
    continuously: CPU per data point, memory per series, and the time of one scrape."""
    import urllib.request

    free = iter(port_block(8))
    ports = collector_ports(free)
    state.mkdir(parents=True, exist_ok=True)
    supervisor = Stack(state, state)
    supervisor.components["agent"] = collector_component("agent", collector, ["config.yaml"], ports, state, {
        "VITALYST_TEMPO_ENDPOINT": f"{HOST}:9", "VITALYST_ELASTICSEARCH_ENDPOINT": f"http://{HOST}:9"})
    chunk = 1000
    requests = [metrics_request(first, min(chunk, series - first), 1.0) for first in range(0, series, chunk)]
    try:
        supervisor.start("agent")
        supervisor.wait_healthy(["agent"], timeout=60)
        pid = supervisor.running()["agent"]
        idle_rss = rss_mib(pid)
        host = f"{HOST}:{ports['http']}"
        for body in requests:  # every series exists before the clock starts
            post_http(host, "/v1/metrics", body, timeout=30)
        cpu0, points0 = cpu_seconds(pid), collector_metric(ports["metrics"], "otelcol_receiver_accepted_metric_points")
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            for body in requests:
                post_http(host, "/v1/metrics", body, timeout=30)
        elapsed = time.monotonic() - start
        points = collector_metric(ports["metrics"], "otelcol_receiver_accepted_metric_points") - points0
        cpu = cpu_seconds(pid) - cpu0
        scrape_start = time.monotonic()
        with urllib.request.urlopen(f"http://{HOST}:{ports['prometheus']}/metrics", timeout=60) as response:
            size = len(response.read())
        scrape = time.monotonic() - scrape_start
        return {"series": series, "points_per_s": round(points / elapsed),
                "cpu_s_per_million_points": round(cpu / points * 1e6, 1),
                "peak_rss_mib": round(rss_mib(pid)), "idle_rss_mib": round(idle_rss),
                "kib_per_series": round((rss_mib(pid) - idle_rss) * 1024 / series, 2),
                "scrape_s": round(scrape, 3), "scrape_mib": round(size / 2**20, 1)}
    finally:
        supervisor.down()


def main() -> int:
    from devstack.binaries import collector_binary

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--gateways", default="0,1,2,4")
    parser.add_argument("--series", default="10000,50000,200000",
                        help="active metric series held by one agent (empty: skip the series runs)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gateway_scaling.json")
    args = parser.parse_args()
    collector = collector_binary(ROOT)
    results = []
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gateway-scaling-") as tmp:
        for n in (int(x) for x in args.gateways.split(",")):
            figures = run(collector, Path(tmp) / f"n{n}", n, args.seconds)
            print(json.dumps(figures), flush=True)
            results.append(figures)
        series_results = []
        for n in (int(x) for x in args.series.split(",") if x):
            figures = series_run(collector, Path(tmp) / f"s{n}", n, args.seconds)
            print(json.dumps(figures), flush=True)
            series_results.append(figures)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
                                    "gateway_runs": results, "series_runs": series_results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
