"""OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram end
to end: our encoder on the decoded OTLP wire (launcher and configure()), then the real collector's
prometheus exporter and Prometheus 2.42 with and without --enable-feature=native-histograms
(what each stores is what docs/metrics.md says)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import require
from tests.integration.test_encoder_collector import collector_binary
from tests.support.otlp_receiver import OtlpReceiver, attrs

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
EXPONENTIAL = {"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": "base2_exponential_bucket_histogram"}
SCRIPT = """
import sys, time, vitalyst_otel
from opentelemetry import metrics
if sys.argv[1] == "configure":
    vitalyst_otel.configure()
histogram = metrics.get_meter("probe").create_histogram("probe.duration", unit="s")
for value in (0.003, 0.02, 0.02, 0.15, 1.5, 12.0):
    histogram.record(value, {"route": "/nodes"})
time.sleep(float(sys.argv[2]))
assert vitalyst_otel.shutdown(10)
"""


def run_probe(mode: str, endpoint: str, linger_s: float = 0.0) -> subprocess.CompletedProcess:
    environment = {**os.environ, **EXPONENTIAL, "OTEL_SERVICE_NAME": "exp-probe",
                   "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_METRIC_EXPORT_INTERVAL": "500",
                   "OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", "VITALYST_RUNTIME_METRICS": "false"}
    argv = [sys.executable, "-c", SCRIPT, mode, str(linger_s)]
    if mode == "launcher":
        argv = [str(BIN / "opentelemetry-instrument"), *argv]
    return subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=120)


@pytest.mark.parametrize("mode", ["configure", "launcher"])
def test_histograms_leave_as_exponential_histograms_on_the_wire(mode):
    with OtlpReceiver() as receiver:
        result = run_probe(mode, receiver.endpoint)
        assert result.returncode == 0, result.stderr
        metrics = [m for _, m in receiver.received.metrics() if m.name == "probe.duration"]
    assert metrics and all(m.WhichOneof("data") == "exponential_histogram" for m in metrics)
    point = metrics[-1].exponential_histogram.data_points[0]
    assert metrics[-1].exponential_histogram.aggregation_temporality == 2  # cumulative
    assert point.count == 6 and abs(point.sum - 13.693) < 1e-9
    assert point.min == 0.003 and point.max == 12.0 and attrs(point.attributes) == {"route": "/nodes"}
    assert sum(point.positive.bucket_counts) == 6 and -10 <= point.scale <= 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited: {log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{process.args[0]} did not listen: {log.read_text()[-3000:]}") from None
            time.sleep(0.1)


class Pipeline:
    """The collector (OTLP/HTTP in, prometheus exporter out) and two Prometheus servers scraping
    it every second: one with native histograms enabled, one without."""

    def __init__(self, collector: Path, prometheus: str, workdir: Path):
        self.otlp, self.exporter = _free_port(), _free_port()
        self.processes: list[subprocess.Popen] = []
        config = workdir / "collector.yaml"
        config.write_text(f"""
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{self.otlp}
exporters:
  prometheus:
    endpoint: 127.0.0.1:{self.exporter}
    resource_to_telemetry_conversion:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
""")
        self._start([str(collector), "--config", str(config)], self.otlp, workdir / "collector.log")
        self.prometheus = {}
        for name, flags in (("native", ["--enable-feature=native-histograms"]), ("classic", [])):
            port = _free_port()
            (workdir / name).mkdir()
            scrape = workdir / name / "prometheus.yml"
            scrape.write_text(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: exp
    static_configs:
      - targets: ["127.0.0.1:{self.exporter}"]
""")
            self._start([prometheus, f"--config.file={scrape}", f"--storage.tsdb.path={workdir / name / 'data'}",
                         f"--web.listen-address=127.0.0.1:{port}", *flags], port, workdir / name / "log")
            self.prometheus[name] = port

    def _start(self, argv: list[str], port: int, log: Path) -> None:
        with log.open("wb") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(process)
        _wait_listening(port, process, log)

    def query(self, which: str, expr: str) -> list:
        url = f"http://127.0.0.1:{self.prometheus[which]}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)["data"]["result"]

    def wait_for(self, which: str, expr: str, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(which, expr)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def test_collector_makes_native_histograms_that_only_a_native_enabled_prometheus_keeps(tmp_path):
    collector = collector_binary()
    require(collector is not None, "vitalyst-otelcol is not built (make collector)")
    require(shutil.which("prometheus") is not None, "prometheus is not installed (apt-get install prometheus)")
    pipeline = Pipeline(collector, shutil.which("prometheus"), tmp_path)
    try:
        result = run_probe("configure", f"http://127.0.0.1:{pipeline.otlp}", linger_s=4.0)
        assert result.returncode == 0, result.stderr
        native = pipeline.wait_for("native", 'histogram_count(probe_duration_seconds{job="exp"})')
        classic_count = pipeline.wait_for("classic", 'probe_duration_seconds_count{job="exp"}')
        classic_buckets = pipeline.query("classic", 'probe_duration_seconds_bucket{job="exp"}')
        native_p50 = pipeline.query("native", 'histogram_quantile(0.5, probe_duration_seconds{job="exp"})')
        native_classic = pipeline.query("native", 'probe_duration_seconds_count{job="exp"}')
    finally:
        pipeline.stop()
    # With the feature flag Prometheus scrapes the protobuf format and stores one native series.
    assert [float(r["value"][1]) for r in native] == [6.0]
    assert 0.01 < float(native_p50[0]["value"][1]) < 0.2  # the median of the six values, 0.02-0.15
    assert native_classic == []  # no _count/_sum/_bucket series beside the native one
    # Without it the text format carries only _count, _sum and the +Inf bucket.
    assert [float(r["value"][1]) for r in classic_count] == [6.0]
    assert [r["metric"]["le"] for r in classic_buckets] == ["+Inf"]
