"""Throughput of one collector core with our config.yaml: spans/s into Jaeger and log records/s
into the Elasticsearch bulk-API stand-in, end to end (accepted, queued on disk, exported). The
collector runs pinned to one CPU with GOMAXPROCS=1; the load generator, Jaeger and the stand-in
share the other. Figures are printed (run with -s) and recorded in docs/operations.md; the
assertions only catch a collapse."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import require
from tests.integration.e2e_support import (
    collector_component, collector_metric, collector_ports, eventually, jaeger_component, port_block,
)
from tests.integration.otlp_client import logs_request, new_trace_ids, post_http, traces_request
from devstack.stack import HOST, Component, Stack

pytestmark = pytest.mark.integration

SECONDS = 15
SENDERS = 4


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(collector_binary: Path, jaeger_binary: Path, tmp_path: Path, signal: str) -> dict[str, float]:
    free = iter(port_block(14))
    ports = collector_ports(free)
    jaeger = {n: next(free) for n in ("grpc", "http", "query", "query_grpc", "health", "metrics")}
    es_port = next(free)
    supervisor = Stack(tmp_path, tmp_path)
    # Backends of their own: Jaeger keeping few traces, a stand-in that only counts documents.
    supervisor.components["jaeger"] = jaeger_component(jaeger_binary, jaeger, JAEGER_MAX_TRACES="20000")
    supervisor.components["es-standin"] = Component(
        "es-standin", [sys.executable, "-m", "devstack.es_standin", "--port", str(es_port),
                       "--max-docs", "1000"], f"http://{HOST}:{es_port}", f"http://{HOST}:{es_port}/")
    component = collector_component("collector", collector_binary, ["config.yaml"], ports, tmp_path, {
        "VITALYST_TEMPO_ENDPOINT": f"{HOST}:{jaeger['grpc']}",
        "VITALYST_ELASTICSEARCH_ENDPOINT": f"http://{HOST}:{es_port}",
        "VITALYST_ELASTICSEARCH_FLUSH_INTERVAL": "1s",
        "VITALYST_TEMPO_QUEUE_SIZE": "100000",
        "VITALYST_ELASTICSEARCH_QUEUE_SIZE": "100000",
        "GOMAXPROCS": "1",
    })
    component.argv = ["taskset", "-c", "0", *component.argv]
    supervisor.components["collector"] = component
    if signal == "spans":
        payload, path, unit = traces_request(new_trace_ids(100), spans_per_trace=5), "/v1/traces", 500
        accepted_metric, sent_metric = "otelcol_receiver_accepted_spans", "otelcol_exporter_sent_spans"
    else:
        payload, path, unit = logs_request(new_trace_ids(500), body_bytes=100), "/v1/logs", 500
        accepted_metric, sent_metric = "otelcol_receiver_accepted_log_records", "otelcol_exporter_sent_log_records"
    stop = threading.Event()

    def sender() -> None:
        while not stop.is_set():
            post_http(f"{HOST}:{ports['http']}", path, payload, timeout=30)

    try:
        for name in supervisor.components:
            supervisor.start(name)
        supervisor.wait_healthy(list(supervisor.components), timeout=60)
        pid = supervisor.running()["collector"]
        threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
        start, cpu_start = time.monotonic(), _cpu_seconds(pid)
        for thread in threads:
            thread.start()
        time.sleep(SECONDS)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        accepted = collector_metric(ports["metrics"], accepted_metric)
        eventually(lambda: collector_metric(ports["metrics"], sent_metric) >= accepted, 300,
                   f"every accepted {signal} exported", interval=0.5)
        elapsed = time.monotonic() - start
        cpu = _cpu_seconds(pid) - cpu_start
        return {"accepted": accepted, "seconds": elapsed, "per_second": accepted / elapsed,
                "collector_cpu_share": cpu / elapsed, "per_cpu_second": accepted / cpu, "batch": unit}
    finally:
        stop.set()
        supervisor.down()


@pytest.mark.parametrize("signal", ["spans", "logs"])
def test_one_collector_core_throughput(collector_binary, jaeger_binary, tmp_path, signal) -> None:
    import shutil

    require(shutil.which("taskset") is not None, "taskset is not installed (util-linux)")
    figures = _measure(collector_binary, jaeger_binary, tmp_path, signal)
    print(f"\nthroughput {signal}: {figures['accepted']:.0f} in {figures['seconds']:.1f} s = "
          f"{figures['per_second']:.0f}/s end to end; collector used {figures['collector_cpu_share']:.2f} of its core "
          f"= {figures['per_cpu_second']:.0f} {signal} per collector CPU second")
    assert figures["per_second"] > 1000
