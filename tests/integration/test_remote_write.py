"""collector/overlays/remote-write.yaml (the chart's remoteWrite values) against Prometheus's own
remote-write receiver (Debian's Prometheus started with --web.enable-remote-write-receiver):
metrics sent by the OTel SDK arrive with the same series names, job and instance as the
prometheus exporter serves for scraping, so rules and dashboards read both alike. Over plain HTTP
and over HTTPS with a private CA (Prometheus's --web.config.file; the collector trusts the CA
through VITALYST_REMOTE_WRITE_CA_FILE, the file the chart's remoteWrite.caSecret mounts)."""

from __future__ import annotations

import shutil
import ssl
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import require
from tests.integration.e2e_support import (collector_component, collector_ports, eventually, get_json, port_block,
                                           prom_query)
from tests.integration.pki import make_ca, sign
from devstack.stack import HOST, Component, Stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# OTel instrument -> the series the naming contract (DESIGN.md) expects, remote-written or scraped.
EXPECTED = {
    "vitalyst_validation_enqueued_items_total",
    "http_server_request_duration_seconds_bucket",
    "http_server_request_duration_seconds_count",
    "vitalyst_validation_queue_length",
}


def _send_metrics(otlp_http: str) -> None:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"http://{otlp_http}/v1/metrics"),
                                           export_interval_millis=500)
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({
        "service.name": "kg-api", "service.namespace": "vitalyst", "service.instance.id": "pod-a"}))
    meter = provider.get_meter("remote-write-test")
    meter.create_counter("vitalyst.validation.enqueued.items", unit="{item}").add(7, {"outcome": "ok"})
    meter.create_histogram("http.server.request.duration", unit="s").record(
        0.25, {"http.route": "/nodes/{id}", "http.request.method": "GET", "http.response.status_code": 200})
    meter.create_up_down_counter("vitalyst.validation.queue.length", unit="{item}").add(3)
    time.sleep(2)
    provider.shutdown()


def _scraped_names(port: int) -> set[str]:
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {line.split("{", 1)[0].split(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_remote_write_matches_the_scraped_series(collector_binary, tmp_path, monkeypatch, scheme) -> None:
    prometheus = shutil.which("prometheus")
    require(prometheus is not None, "prometheus is not installed (apt-get install prometheus)")
    free = iter(port_block(10))
    ports = collector_ports(free)
    prom_port = next(free)
    (tmp_path / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n")
    tls_args, tls_env = [], {}
    if scheme == "https":
        pki = tmp_path / "pki"
        make_ca(pki)
        sign(pki, "server", "/CN=prometheus", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        (tmp_path / "web.yml").write_text(
            f"tls_server_config:\n  cert_file: {pki / 'server.crt'}\n  key_file: {pki / 'server.key'}\n")
        tls_args = [f"--web.config.file={tmp_path / 'web.yml'}"]
        tls_env = {"VITALYST_REMOTE_WRITE_CA_FILE": str(pki / "ca.crt")}
        # This test's own HTTPS reads (readiness, queries) trust the same CA.
        monkeypatch.setattr(ssl, "_create_default_https_context",
                            lambda: ssl.create_default_context(cafile=str(pki / "ca.crt")))
    prom = f"{scheme}://{HOST}:{prom_port}"
    supervisor = Stack(tmp_path, tmp_path)
    supervisor.components["prometheus"] = Component(
        "prometheus", [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                       f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address={HOST}:{prom_port}",
                       "--web.enable-remote-write-receiver", *tls_args],
        prom, f"{prom}/-/ready")
    supervisor.components["collector"] = collector_component(
        "collector", collector_binary, ["config.yaml", "overlays/remote-write.yaml"], ports, tmp_path, {
            "VITALYST_REMOTE_WRITE_ENDPOINT": f"{prom}/api/v1/write",
            "VITALYST_CLUSTER_NAME": "test-cluster",
            "VITALYST_TEMPO_ENDPOINT": f"{HOST}:9",
            "VITALYST_ELASTICSEARCH_ENDPOINT": f"http://{HOST}:9",
            **tls_env,
        })
    try:
        for name in supervisor.components:
            supervisor.start(name)
        supervisor.wait_healthy(list(supervisor.components), timeout=60)
        _send_metrics(f"{HOST}:{ports['http']}")

        def written() -> set[str] | None:
            names = set(get_json(f"{prom}/api/v1/label/__name__/values")["data"])
            return names if EXPECTED <= names else None

        names = eventually(written, 60, "the metrics remote-written into Prometheus")
        scraped = _scraped_names(ports["prometheus"])
        assert EXPECTED <= scraped
        # Every series family the exporter serves for scraping is remote-written too.
        assert {n for n in scraped if not n.startswith("target_info")} <= names
        series = prom_query(prom, "vitalyst_validation_enqueued_items_total")
        assert [(s["metric"]["job"], s["metric"]["instance"], s["metric"]["cluster"], s["value"][1])
                for s in series] == [("vitalyst/kg-api", "pod-a", "test-cluster", "7")]
        route = prom_query(prom, 'http_server_request_duration_seconds_count{http_route="/nodes/{id}"}')
        assert [s["value"][1] for s in route] == ["1"]
        target = prom_query(prom, 'target_info{job="vitalyst/kg-api"}')
        assert len(target) == 1 and target[0]["metric"]["instance"] == "pod-a"
    finally:
        supervisor.down()
