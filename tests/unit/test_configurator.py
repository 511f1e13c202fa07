"""configure() as a whole, each case in its own process (the OTel globals are set-once)."""

import json
import os
import subprocess
import sys
import textwrap


def run(code: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VITALYST_"))}
    environment.update({"OTEL_METRICS_EXPORTER": "none", **env})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environment, timeout=60)


def warnings_in(stdout: str) -> list[str]:
    return [json.loads(line)["message"] for line in stdout.splitlines()
            if line.startswith("{") and json.loads(line)["level"] == "WARNING"]


def test_bad_configuration_is_reported_once_each_and_the_app_runs_on_fallbacks():
    result = run("""
        import vitalyst_otel
        from opentelemetry import trace
        handle = vitalyst_otel.configure()
        with trace.get_tracer("t").start_as_current_span("work") as span:
            print("RECORDING", span.is_recording())
        print("TRACES", handle.settings.traces_exporter, handle.settings.otlp["traces"].endpoint)
        print("HEADERS", dict(handle.settings.otlp["traces"].headers))
        print("FAILED_STEPS", handle.failed_steps)
    """, OTEL_TRACES_EXPORTER="bogus", OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318", OTEL_TRACES_SAMPLER_ARG="x",
        OTEL_TRACES_SAMPLER="traceidratio", OTEL_EXPORTER_OTLP_HEADERS="Authorization Bearer leak",
        OTEL_LOGS_EXPORTER="none")
    assert result.returncode == 0, result.stderr
    warnings = warnings_in(result.stdout)
    for variable in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_SAMPLER_ARG",
                     "OTEL_EXPORTER_OTLP_HEADERS"):
        assert sum(1 for w in warnings if w.startswith(variable + "=")) == 1, (variable, warnings)
    assert "leak" not in result.stdout + result.stderr
    assert "RECORDING True" in result.stdout
    assert "TRACES ('otlp',) http://localhost:4318/v1/traces" in result.stdout
    assert "HEADERS {}" in result.stdout and "FAILED_STEPS []" in result.stdout


def test_a_failing_step_is_reported_and_the_rest_still_works():
    result = run("""
        import logging
        from vitalyst_otel import configurator
        def broken(handle):
            raise OSError("disk on fire")
        configurator.STEPS.insert(4, ("broken", broken, "the broken thing"))
        handle = configurator.configure(service_name="svc")
        logging.getLogger("app").info("still logging")
        print("FAILED", handle.failed_steps, handle.tracer_provider is not None)
    """, OTEL_TRACES_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    assert result.returncode == 0, result.stderr
    assert "FAILED ['broken'] True" in result.stdout
    assert any("'broken' failed (OSError: disk on fire)" in w and "without the broken thing" in w
               for w in warnings_in(result.stdout))
    assert "still logging" in result.stdout


def test_sdk_disabled_sets_no_providers_but_keeps_json_logs():
    result = run("""
        import logging
        from opentelemetry import trace, metrics
        import vitalyst_otel
        handle = vitalyst_otel.configure(service_name="svc")
        print("PROVIDERS", type(trace.get_tracer_provider()).__name__, type(metrics.get_meter_provider()).__name__)
        logging.getLogger("app").info("json still")
    """, OTEL_SDK_DISABLED="true")
    assert result.returncode == 0, result.stderr
    assert "PROVIDERS ProxyTracerProvider _ProxyMeterProvider" in result.stdout
    assert any(line.startswith("{") and json.loads(line)["message"] == "json still" for line in result.stdout.splitlines())


def test_a_second_configure_returns_the_first_handle_with_one_warning():
    result = run("""
        import vitalyst_otel
        first = vitalyst_otel.configure(service_name="one")
        second = vitalyst_otel.configure(service_name="two")
        print("SAME", first is second, second.settings.service_name)
    """, OTEL_TRACES_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    assert "SAME True one" in result.stdout
    assert sum("already configured" in w for w in warnings_in(result.stdout)) == 1


def test_grpc_without_the_extra_falls_back_to_http_with_one_message():
    result = run("""
        import vitalyst_otel
        handle = vitalyst_otel.configure(service_name="svc")
        print("STATUS", handle.statuses["traces"].endpoint)
    """, OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_LOGS_EXPORTER="none")
    assert result.returncode == 0, result.stderr
    try:
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
        grpc_installed = True
    except ImportError:
        grpc_installed = False
    if grpc_installed:
        assert "STATUS http://localhost:4317" in result.stdout
    else:
        assert "STATUS http://localhost:4318/v1/traces" in result.stdout
        assert sum("vitalyst-otel[grpc]" in w for w in warnings_in(result.stdout)) == 1
