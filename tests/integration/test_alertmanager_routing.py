"""The real Alertmanager with prometheus/alertmanager.yml: routing, inhibition and the bearer
token read from a file reach a webhook receiver.

Alerts are posted to Alertmanager's API directly (no Prometheus, no demo), so this runs in
seconds; the end-to-end test through the demo and Prometheus builds on the same helpers
(tests/alerting_support.py).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerting_support import Delivery, WebhookRecorder, render_alertmanager_config
from tests.conftest import require

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return 0


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, WebhookRecorder, dict[str, str]]]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    require(binary is not None, "Alertmanager is not installed (Debian: prometheus-alertmanager)")
    with WebhookRecorder() as recorder:
        text, tokens = render_alertmanager_config(recorder.url, tmp_path / "secrets", group_wait="1s")
        config = tmp_path / "alertmanager.yml"
        config.write_text(text)
        port = _free_port()
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "alertmanager.log").open("w"),
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while _get(f"{base}/-/ready") != 200:
                assert process.poll() is None, (tmp_path / "alertmanager.log").read_text()
                assert time.monotonic() < deadline, "Alertmanager did not become ready"
                time.sleep(0.2)
            yield base, recorder, tokens
        finally:
            process.terminate()
            process.wait(timeout=10)


def _post(base: str, alerts: list[dict[str, str]]) -> None:
    body = json.dumps([{"labels": labels, "annotations": {"summary": labels["alertname"]}} for labels in alerts])
    request = urllib.request.Request(
        f"{base}/api/v2/alerts", data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _wait_for(recorder: WebhookRecorder, receivers: set[str], timeout: float = 20) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = recorder.received()
        if receivers <= {d.receiver for d in got}:
            time.sleep(2)  # let any (wrong) extra notifications arrive too
            return recorder.received()
        time.sleep(0.2)
    raise AssertionError(f"expected deliveries to {receivers}, got {[(d.receiver, d.alertnames) for d in recorder.received()]}")


def test_routes_inhibits_and_authenticates(alertmanager: tuple[str, WebhookRecorder, dict[str, str]]) -> None:
    base, recorder, tokens = alertmanager
    _post(base, [
        {"alertname": "CollectorDown", "severity": "critical", "job": "otelcol", "instance": "otelcol:8888"},
        {"alertname": "ServiceTelemetryAbsent", "severity": "critical", "job": "vitalyst/knowledge-graph"},
        {"alertname": "AuthFailureSpike", "severity": "warning", "category": "security", "job": "vitalyst/knowledge-graph"},
        {"alertname": "HighRequestLatencyP95", "severity": "warning", "job": "vitalyst/knowledge-graph"},
    ])
    deliveries = _wait_for(recorder, {"pager", "chat", "security"})

    by_receiver: dict[str, set[str]] = {}
    for delivery in deliveries:
        by_receiver.setdefault(delivery.receiver, set()).update(delivery.alertnames)
        assert delivery.path == f"/alerts/{delivery.receiver}"
        assert delivery.authorization == f"Bearer {tokens[delivery.receiver]}", "token read from credentials_file"

    assert by_receiver["pager"] == {"CollectorDown"}, "ServiceTelemetryAbsent is inhibited by CollectorDown"
    assert by_receiver["security"] == {"AuthFailureSpike"}
    assert by_receiver["chat"] == {"AuthFailureSpike", "HighRequestLatencyP95"}
