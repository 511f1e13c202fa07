"""configure() as a whole, in this process: ``lifecycle.isolated()`` gives each case a clean
registry and puts the session's back after. The OpenTelemetry API's own globals are set-once per
process, so the cases read the providers from the handle; the one case about those globals runs
in a process of its own."""

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from vitalyst_otel.setup import steps
from vitalyst_otel.setup.configure import configure
from vitalyst_otel.setup.lifecycle import lifecycle
from vitalyst_otel.testing import capture_telemetry


@pytest.fixture
def isolated(monkeypatch, caplog):
    for name in list(os.environ):
        if name.startswith(("OTEL_", "VITALYST_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    caplog.set_level(logging.INFO)
    # The session's capture first: the API's set-once globals then stay with it whatever order
    # the tests run in, and tests after these still see their spans and metrics.
    capture_telemetry()
    with lifecycle.isolated():
        yield


def warnings_in(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "vitalyst_otel"]


def test_bad_configuration_is_reported_once_each_and_the_app_runs_on_fallbacks(isolated, monkeypatch, caplog):
    for name, value in dict(OTEL_TRACES_EXPORTER="bogus", OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318",
                            OTEL_TRACES_SAMPLER_ARG="x", OTEL_TRACES_SAMPLER="traceidratio",
                            OTEL_EXPORTER_OTLP_HEADERS="Authorization Bearer leak", OTEL_LOGS_EXPORTER="none").items():
        monkeypatch.setenv(name, value)
    handle = configure()
    with handle.tracer_provider.get_tracer("t").start_as_current_span("work") as span:
        assert span.is_recording()
    warnings = warnings_in(caplog)
    for variable in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_SAMPLER_ARG",
                     "OTEL_EXPORTER_OTLP_HEADERS"):
        assert sum(1 for w in warnings if w.startswith(variable + "=")) == 1, (variable, warnings)
    assert "leak" not in caplog.text
    assert handle.settings.traces_exporter == ("otlp",)
    assert handle.settings.otlp["traces"].endpoint == "http://localhost:4318/v1/traces"
    assert dict(handle.settings.otlp["traces"].headers) == {} and handle.failed_steps == []


def test_a_failing_step_is_reported_and_the_rest_still_works(isolated, monkeypatch, caplog, capsys):
    def broken(names):
        raise OSError("disk on fire")

    monkeypatch.setattr(steps, "propagators", broken)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    handle = configure(service_name="svc")
    logging.getLogger("app").info("still logging")
    assert handle.failed_steps == ["propagators"] and handle.tracer_provider is not None
    assert any("'propagators' failed (OSError: disk on fire)" in w and "without context propagation" in w
               for w in warnings_in(caplog))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(line["message"] == "still logging" and line["service.name"] == "svc" for line in lines)


def test_a_second_configure_returns_the_first_handle_with_one_warning(isolated, monkeypatch, caplog):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    first = configure(service_name="one")
    second = configure(service_name="two")
    assert first is second and second.settings.service_name == "one"
    assert sum("already configured" in w for w in warnings_in(caplog)) == 1


def test_grpc_without_the_extra_falls_back_to_http_with_one_message(isolated, monkeypatch, caplog):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    handle = configure(service_name="svc")
    try:
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
        grpc_installed = True
    except ImportError:
        grpc_installed = False
    if grpc_installed:
        assert handle.statuses["traces"].endpoint == "http://localhost:4317"
    else:
        assert handle.statuses["traces"].endpoint == "http://localhost:4318/v1/traces"
        assert sum("vitalyst-otel[grpc]" in w for w in warnings_in(caplog)) == 1


def test_sdk_disabled_sets_no_providers_but_keeps_json_logs():
    # The OpenTelemetry API's globals are set once per process: only a fresh one shows them untouched.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VITALYST_"))}
    environment.update(OTEL_SDK_DISABLED="true")
    result = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import logging
        from opentelemetry import trace, metrics
        import vitalyst_otel
        handle = vitalyst_otel.configure(service_name="svc")
        print("PROVIDERS", type(trace.get_tracer_provider()).__name__, type(metrics.get_meter_provider()).__name__)
        logging.getLogger("app").info("json still")
    """)], capture_output=True, text=True, env=environment, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "PROVIDERS ProxyTracerProvider _ProxyMeterProvider" in result.stdout
    assert any(line.startswith("{") and json.loads(line)["message"] == "json still" for line in result.stdout.splitlines())
