import json
import time
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.otlp_receiver import OtlpReceiver

CLI = str(Path(sys.executable).parent / "vitalyst-otel")


def doctor(*args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment.update(env)
    return subprocess.run([CLI, "doctor", *args], capture_output=True, text=True, env=environment, timeout=60)


def test_json_report_shows_sources_masks_credentials_and_flags_problems():
    result = doctor("--json", OTEL_SERVICE_NAME="graph-api", OTEL_EXPORTER_OTLP_HEADERS="api-key=topsecret",
                    OTEL_TRACES_EXPORTER="zipkin", OTEL_SERVCE_NAME="typo", OTEL_PYTHON_FASTAPI_EXCLUDED_URL="/x")
    assert result.returncode == 1  # there is a problem
    data = json.loads(result.stdout)
    assert data["service.name"] == "graph-api" and data["service.name source"] == "environment"
    assert "topsecret" not in result.stdout and "topsecret" not in result.stderr
    assert data["signals"]["traces"]["headers"] == "api-key=***"
    assert any("OTEL_TRACES_EXPORTER='zipkin'" in p for p in data["problems"])
    assert any("OTEL_SERVCE_NAME" in p and "OTEL_SERVICE_NAME" in p for p in data["problems"])  # a problem
    assert any("OTEL_PYTHON_FASTAPI_EXCLUDED_URL" in p and "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS" in p
               for p in data["problems"])  # a misspelt contrib variable too (issue 11)
    assert data["verdict"] == {"ok": False, "problems": len(data["problems"]), "failed_sends": []}
    rows = {row["variable"]: row for row in data["settings"]}
    assert rows["OTEL_SERVICE_NAME"]["source"] == "environment"
    assert rows["OTEL_BSP_MAX_QUEUE_SIZE"] == {"variable": "OTEL_BSP_MAX_QUEUE_SIZE", "value": "2048", "source": "default"}


def test_send_reports_each_signal_accepted_by_a_real_receiver():
    with OtlpReceiver() as receiver:
        result = doctor("--send", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_SERVICE_NAME="doc")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().splitlines()[-1] == "Verdict: OK (no problems, every test send accepted)"
        for signal in ("traces", "metrics", "logs"):
            assert f"accepted by {receiver.endpoint}/v1/{signal}" in result.stdout
        assert [s.name for _, s in receiver.received.spans()] == ["vitalyst-otel doctor"]
        assert receiver.received.log_records() and receiver.received.metrics()


def test_send_says_which_signal_was_not_accepted():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = doctor("--send", OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}", OTEL_METRICS_EXPORTER="none")
    assert time.monotonic() - started < 5, "a refusing endpoint is reported at once, not after retries"
    assert result.returncode == 1
    assert "Problems: none" in result.stdout  # the settings are fine ...
    assert result.stdout.strip().splitlines()[-1] == "Verdict: NOT OK: 2 test send(s) not accepted (traces, logs)"
    assert "traces   NOT accepted" in result.stdout and "Connection refused" in result.stdout
    assert "metrics  skipped" in result.stdout
    assert "Traceback" not in result.stderr


def test_send_honours_the_otlp_timeout_against_an_endpoint_that_never_answers():
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        result = doctor("--send", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_TIMEOUT="700")
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert result.stdout.count("NOT accepted") == 3
    # one bounded attempt per signal: retry waits would take the default 10 s export timeout per signal
    assert 3 * 0.7 <= elapsed < 3 * 0.7 + 8, elapsed


def test_a_bad_generic_endpoint_is_reported_for_every_signal_it_affects():
    result = doctor("--json", OTEL_EXPORTER_OTLP_ENDPOINT="localhost:4318",
                    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="http://127.0.0.1:4318/v1/logs", OTEL_METRICS_EXPORTER="none")
    data = json.loads(result.stdout)
    (problem,) = [p for p in data["problems"] if p.startswith("OTEL_EXPORTER_OTLP_ENDPOINT=")]
    assert problem.endswith("Affects: traces.")  # metrics are off, logs have their own endpoint
    everything = doctor("--json", OTEL_EXPORTER_OTLP_ENDPOINT="localhost:4318")
    assert any(p.endswith("Affects: traces, metrics, logs.") for p in json.loads(everything.stdout)["problems"])
    assert everything.returncode == 1


def test_values_from_a_configuration_file_show_it_as_their_source(tmp_path):
    config = tmp_path / "otel.yaml"
    config.write_text('file_format: "1.0"\nresource:\n  attributes:\n    - name: service.name\n      value: kg-file\n'
                      "tracer_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_http:\n"
                      "            headers:\n              - name: api-key\n                value: filesecret\n"
                      "  id_generator:\n    random:\n")
    result = doctor("--json", OTEL_CONFIG_FILE=str(config), OTEL_BSP_MAX_QUEUE_SIZE="9")
    data = json.loads(result.stdout)
    origin = f"config file {config}"
    assert data["service.name"] == "kg-file" and data["service.name source"] == origin
    rows = {row["variable"]: row for row in data["settings"]}
    assert rows["OTEL_TRACES_EXPORTER"] == {"variable": "OTEL_TRACES_EXPORTER", "value": "otlp", "source": origin}
    assert rows["OTEL_METRICS_EXPORTER"]["value"] == "none" and rows["OTEL_METRICS_EXPORTER"]["source"] == origin
    assert rows["OTEL_BSP_MAX_QUEUE_SIZE"]["source"] == "default"  # the environment is not read
    assert "filesecret" not in result.stdout and rows["OTEL_EXPORTER_OTLP_TRACES_HEADERS"]["value"] == "api-key=***"
    assert any("tracer_provider.id_generator is not supported" in p for p in data["problems"])
