"""OTEL_CONFIG_FILE on the decoded OTLP wire (tests/support/otlp_receiver.py), under the launcher
and configure(): the file is the configuration (the environment only through substitution),
its views apply, and an invalid file costs the app nothing but one error line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.otlp_receiver import OtlpReceiver, attrs

BIN = Path(sys.executable).parent
SCRIPT = """
import sys, vitalyst_otel
from opentelemetry import metrics, trace
if sys.argv[1] == "configure":
    vitalyst_otel.configure()
trace.get_tracer("probe").start_span("probe").end()
metrics.get_meter("probe").create_counter("graph.lookups").add(3, {"user.id": "u1", "kind": "read"})
print("APP STARTED", flush=True)
vitalyst_otel.shutdown(10)
"""
FILE = """file_format: "1.0"
resource:
  attributes:
    - name: service.name
      value: kg-from-file
    - name: deployment.environment.name
      value: ${DEPLOY_ENV:-staging}
tracer_provider:
  processors:
    - batch:
        schedule_delay: 100
        exporter:
          otlp_http:
            endpoint: ${RECEIVER}/v1/traces
meter_provider:
  readers:
    - periodic:
        interval: 60000
        exporter:
          otlp_http:
            endpoint: ${RECEIVER}/v1/metrics
  views:
    - selector:
        instrument_name: graph.lookups
      stream:
        name: vitalyst.graph.lookups
        attribute_keys:
          included: [kind]
distribution:
  vitalyst:
    runtime_metrics: false
"""


def run(mode: str, config: Path, endpoint: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OTEL_CONFIG_FILE": str(config), "RECEIVER": endpoint,
                   # not read while a file is given: the file's values win, and what it omits is off
                   "OTEL_SERVICE_NAME": "from-environment", "OTEL_TRACES_EXPORTER": "console",
                   "OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    argv = [sys.executable, "-c", SCRIPT, mode]
    if mode == "launcher":
        argv = [str(BIN / "opentelemetry-instrument"), *argv]
    return subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=120)


@pytest.mark.parametrize("mode", ["configure", "launcher"])
def test_the_file_is_the_configuration_on_the_wire(mode, tmp_path):
    config = tmp_path / "otel.yaml"
    config.write_text(FILE)
    with OtlpReceiver() as receiver:
        result = run(mode, config, receiver.endpoint)
        assert result.returncode == 0, result.stderr
        spans = receiver.received.spans()
        metrics = {m.name: m for _, m in receiver.received.metrics()}
        logs = receiver.received.log_records()
    ((resource, span),) = [(r, s) for r, s in spans if s.name == "probe"]
    assert resource["service.name"] == "kg-from-file" and resource["deployment.environment.name"] == "staging"
    assert "graph.lookups" not in metrics
    (point,) = metrics["vitalyst.graph.lookups"].sum.data_points
    assert attrs(point.attributes) == {"kind": "read"} and point.as_int == 3
    assert not any(name.startswith("process.") for name in metrics)  # distribution.vitalyst.runtime_metrics
    assert logs == []  # no logger_provider in the file: no OTLP logs, whatever the environment says
    assert "APP STARTED" in result.stdout and '"name": "probe"' not in result.stdout + result.stderr


@pytest.mark.parametrize("mode", ["configure", "launcher"])
def test_an_invalid_file_is_one_error_and_the_app_starts(mode, tmp_path):
    config = tmp_path / "otel.yaml"
    config.write_text('file_format: "1.0"\ntracer_provider:\n  processors:\n    - batch:\n        schedule_delay: soon\n'
                      '        exporter:\n          console:\n')
    with OtlpReceiver() as receiver:
        result = run(mode, config, receiver.endpoint)
    assert result.returncode == 0, result.stderr
    assert "APP STARTED" in result.stdout
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    errors = [line for line in lines if "is not valid" in line.get("message", "")]
    assert len(errors) == 1 and errors[0]["level"] == "ERROR"
    assert str(config) in errors[0]["message"] and "line 5" in errors[0]["message"]
    assert "Traceback" not in result.stderr
