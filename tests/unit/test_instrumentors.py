"""configure() loads the installed library instrumentors like the launcher (a real one:
opentelemetry-instrumentation-httpx from the test extra), in a fresh process each time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PROGRAM = """
import json, sys
import httpx
import vitalyst_otel
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
handle = vitalyst_otel.configure(service_name="instr-test")
try:
    httpx.get("http://127.0.0.1:9/", timeout=0.2)  # refused: a client span all the same
except httpx.HTTPError:
    pass
print(json.dumps({"loaded": handle.instrumentors,
                  "httpx": HTTPXClientInstrumentor().is_instrumented_by_opentelemetry}))
vitalyst_otel.shutdown()
"""


def client_spans(stderr: str) -> list[dict]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith('{"span"')]
    return [span for span in lines if span["kind"] == "client"]


def run(**extra_env):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none", "VITALYST_LOG_FORMAT": "none", "OTEL_BSP_SCHEDULE_DELAY": "50", **extra_env}
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_configure_instruments_installed_libraries_but_never_the_replaced_ones():
    result, spans = run()
    assert "httpx" in result["loaded"] and result["httpx"] is True
    assert not {"fastapi", "starlette", "logging", "system_metrics"} & set(result["loaded"])
    (span,) = client_spans(spans)
    assert span["span"] == "GET" and span["attributes"]["server.port"] == 9


@pytest.mark.parametrize("disabled", ["httpx", "requests, httpx", "*"])
def test_disabled_instrumentations_are_honoured(disabled):
    result, spans = run(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=disabled)
    assert "httpx" not in result["loaded"] and result["httpx"] is False
    assert client_spans(spans) == []
