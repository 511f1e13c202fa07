"""The redaction corpus end to end: a child process sends every credential shape and every
look-alike through every channel (tests/support/redaction_channels_app.py); this test reads what
came out of stdout, stderr, the decoding OTLP receiver (spans with events, OTLP logs, metrics)
and the audit fallback file, and finds 0 leaks and 0 false positives."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.otlp_receiver import OtlpReceiver, attrs
from tests.unit.redaction.corpus import FIELDS, LOOKALIKE_FIELDS, LOOKALIKE_TEXTS, NESTED, TEXTS

ROOT = Path(__file__).parents[2]
SECRETS = [s.secret for s in (*TEXTS, *FIELDS, *NESTED)]
MASK = "[REDACTED]"


def run_child(endpoint: str, fallback: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VITALYST_"))}
    env.update({
        "PYTHONPATH": str(ROOT), "OTEL_SERVICE_NAME": "corpus", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_LOGS_EXPORTER": "otlp", "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "500", "OTEL_EXPORTER_OTLP_TIMEOUT": "2000",
        "OTEL_BSP_MAX_QUEUE_SIZE": "8192", "OTEL_BLRP_MAX_QUEUE_SIZE": "16384",
        "VITALYST_AUDIT_FALLBACK_FILE": str(fallback), "VITALYST_SHUTDOWN_TIMEOUT": "15000",
    })
    return subprocess.run([sys.executable, "-m", "tests.support.redaction_channels_app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def leaks(name: str, text: str) -> list[str]:
    return [f"{name}: {secret}" for secret in SECRETS if secret in text]


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    fallback = tmp_path_factory.mktemp("audit") / "fallback.jsonl"
    with OtlpReceiver() as receiver:
        child = run_child(receiver.endpoint, fallback)
        received = receiver.received
    assert child.returncode == 0, child.stderr[-3000:]
    return child, received


@pytest.fixture(scope="module")
def fallback_run(tmp_path_factory):
    """The same child with the collector unreachable: audit records land in the fallback file."""
    fallback = tmp_path_factory.mktemp("audit-down") / "fallback.jsonl"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    child = run_child(f"http://127.0.0.1:{port}", fallback)
    assert child.returncode == 0, child.stderr[-3000:]
    return child, fallback


def stdout_lines(child) -> list[dict]:
    return [json.loads(line) for line in child.stdout.splitlines()]


def test_every_stdout_line_is_one_json_object(delivered):
    child, _ = delivered
    for line in child.stdout.splitlines():
        assert isinstance(json.loads(line), dict), line[:200]
    for separator in ("\u2028", "\u2029", "\u0085"):
        assert separator not in child.stdout
    assert any(line.get("message") == "line\u2028separator\u2029paragraph\u0085next" for line in stdout_lines(child))


def test_no_secret_on_stdout_or_stderr(delivered):
    child, _ = delivered
    assert leaks("stdout", child.stdout) == []
    assert leaks("stderr", child.stderr) == []
    lines = stdout_lines(child)
    # the channels carried the shapes: every shape's message line is there, masked
    for index in range(len(TEXTS)):
        messages = [line for line in lines if line.get("shape") == index and line.get("logger") == "corpus"]
        assert len(messages) >= 4, index
        assert MASK in messages[0]["message"], (TEXTS[index].name, messages[0]["message"])
        exceptions = [line for line in messages if "exception.stacktrace" in line]
        assert exceptions and MASK in exceptions[0]["exception.message"]
    fingerprints = [line for line in lines if line.get("logger") == "vitalyst.errors"]
    assert len(fingerprints) == len(TEXTS) and all("error.fingerprint" in line for line in fingerprints)
    assert all(MASK in line["exception.message"] for line in fingerprints)
    audits = [line for line in lines if line.get("log.type") == "audit"]
    assert len(audits) >= len(TEXTS) + len(FIELDS) + len(NESTED)
    # a log call whose arguments do not fit its template still gives its line, arguments unrendered
    failed = [line for line in lines if line.get("logger") == "corpus" and "log.format_error" in line]
    assert len(failed) == len(TEXTS) and all(line["message"] == "%d items" for line in failed)
    assert "--- Logging error ---" not in child.stderr


def test_no_secret_in_anything_the_collector_received(delivered):
    _, received = delivered
    for path in ("/v1/traces", "/v1/logs", "/v1/metrics"):
        messages = received.of(path)
        assert messages, path
        assert leaks(path, "".join(str(m) for m in messages)) == []
    spans = [span for _, span in received.spans()]
    noted = [span for span in spans if "app.note" in attrs(span.attributes)]
    assert len(noted) >= len(TEXTS)
    exceptions = [event for span in spans for event in span.events if event.name == "exception"]
    assert len(exceptions) >= 2 * len(TEXTS)  # recorded by hand and by the unhandled request
    records = [record for _, record in received.log_records()]
    assert sum(1 for r in records if MASK in r.body.string_value) >= len(TEXTS)
    points = [metric for _, metric in received.metrics() if metric.name == "corpus.events"]
    assert points and MASK in str(points[-1])


def test_lookalikes_pass_every_channel_untouched(delivered):
    child, received = delivered
    lines = stdout_lines(child)
    for index, text in enumerate(LOOKALIKE_TEXTS):
        (line,) = [line for line in lines if line.get("lookalike") == index]
        assert line["message"] == text
        (entry,) = [line for line in lines if line.get("resource") == f"lookalike/{index}"]
        assert entry["details"] == {"note": text}
    for index, (key, value) in enumerate(LOOKALIKE_FIELDS):
        (line,) = [line for line in lines if line.get("lookalike_field") == index]
        assert line[key] == value
        (entry,) = [line for line in lines if line.get("resource") == f"lookalike_field/{index}"]
        assert entry["details"] == {key: value}
    spans = [attrs(span.attributes) for _, span in received.spans()]
    for index, text in enumerate(LOOKALIKE_TEXTS):
        assert [s["app.note"] for s in spans if s.get("lookalike") == index] == [text]
    for index, (key, value) in enumerate(LOOKALIKE_FIELDS):
        assert [s[key] for s in spans if s.get("lookalike_field") == index] == [value]
    bodies = {record.body.string_value for _, record in received.log_records()}
    assert set(LOOKALIKE_TEXTS) <= bodies


def test_no_secret_in_the_audit_fallback_file(fallback_run):
    child, fallback = fallback_run
    written = "".join(p.read_text() for p in fallback.parent.glob("fallback.jsonl*"))
    entries = [json.loads(line) for line in written.splitlines()]
    assert len(entries) >= len(TEXTS) + len(FIELDS) + len(NESTED)
    assert leaks("fallback file", written) == []
    assert leaks("stdout", child.stdout) == [] and leaks("stderr", child.stderr) == []
    notes = {e["resource"]: e["details"] for e in entries}
    for index, text in enumerate(LOOKALIKE_TEXTS):
        assert notes[f"lookalike/{index}"] == {"note": text}
