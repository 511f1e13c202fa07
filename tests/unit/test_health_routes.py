"""/health/live and /health/ready answer whatever happens to telemetry: on, switched off with
OTEL_SDK_DISABLED=true (a fresh process: configure() runs once per process), or left to
contrib's FastAPI instrumentor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI

from tests.conftest import require
from tests.unit.http.test_route_template import call

ROOT = Path(__file__).parents[2]


def app_with_a_route() -> FastAPI:
    app = FastAPI()

    @app.get("/items")
    async def items():
        return []

    return app


def statuses(app) -> list[int]:
    return [r.status_code for r in call(app, ("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/items"))]


def test_health_answers_with_telemetry_on(otel_capture):
    assert statuses(app_with_a_route()) == [200, 200, 200]


def test_health_answers_on_an_app_left_to_contrib(otel_capture):
    require(find_spec("opentelemetry.instrumentation.fastapi") is not None,
            "opentelemetry-instrumentation-fastapi (the [test] extra) is not installed")
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    app = app_with_a_route()
    FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])
    try:
        assert statuses(app) == [200, 200, 200]
    finally:
        FastAPIInstrumentor.uninstrument_app(app)


PROGRAM = """
import json
import vitalyst_otel
from tests.unit.http.test_route_template import call
from tests.unit.test_health_routes import app_with_a_route, statuses
before = app_with_a_route()  # created before configure(): the class patch covers it
explicit = app_with_a_route()
handle = vitalyst_otel.configure(app=explicit)
after = app_with_a_route()
print(json.dumps({"statuses": [statuses(before), statuses(explicit), statuses(after)],
                  "tracer": type(handle.tracer_provider).__name__,
                  "metrics": [r.status_code for r in call(after, ("GET", "/metrics"))]}))
"""


def test_health_answers_with_the_sdk_disabled():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OTEL_SDK_DISABLED": "true", "OTEL_METRICS_EXPORTER": "prometheus"}
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["statuses"] == [[200, 200, 200]] * 3
    assert result["tracer"] == "NoneType"  # no telemetry at all
    assert result["metrics"] == [404]  # no metrics endpoint without metrics
