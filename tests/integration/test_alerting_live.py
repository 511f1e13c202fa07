"""Alerting end to end: the demo misbehaves on purpose, the real Prometheus evaluates the shipped
rules on what the real collector exports, and the real Alertmanager, running the shipped
routing (prometheus/alertmanager.yml as the stack renders it: webhooks to the stack's relay port,
bearer tokens from the stack's token files), delivers to a webhook receiver this test runs on
that relay port (tests/alerting_support.WebhookRecorder).

- enrichment failures (the demo's ``enrich_failure_rate`` knob at 1.0) page nobody but reach the
  chat receiver as AIEnrichmentFailureRatioHigh; the 502s they cause burn the error budget
  (SLOErrorBudgetBurnFast, critical: the pager); wrong API keys raise AuthFailureSpike (security
  and chat);
- with the collector stopped, CollectorDown pages, and ServiceTelemetryAbsent fires in
  Prometheus but Alertmanager holds it back (inhibited by CollectorDown).

What differs from production, and why:
- the stack evaluates the rule groups every second (its scrape interval) instead of every
  minute, and Alertmanager groups for 1 s instead of 10-30 s (session stack options);
- every alert's ``for`` is divided by 60 in the stack's rendered copy of the rules for this
  module (a minute becomes a second: AIEnrichmentFailureRatioHigh waits 10 s instead of 10 min,
  CollectorDown 2 s, ServiceTelemetryAbsent 5 s), and restored afterwards. Unavoidable: the
  shipped ``for`` durations alone add up to more than 15 minutes. Expressions, windows,
  thresholds and volume guards are the shipped ones.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.alerting_support import Delivery, WebhookRecorder, seconds, shorter_for
from tests.integration.e2e_support import DEMO_API_KEY, eventually, get_json, prom_query, running_demo
from tests.naming_contract import ROOT, RULES_DIR

pytestmark = pytest.mark.integration

SERVICE = "alerting-e2e"
JOB = f"vitalyst/{SERVICE}"
FACTOR = 60


@pytest.fixture(scope="module")
def short_for(stack) -> Iterator[None]:
    """The stack's rules with every ``for`` divided by FACTOR; the shipped ones again afterwards."""
    supervisor = stack.stack

    def durations() -> dict[str, float]:
        groups = get_json(stack.prometheus + "/api/v1/rules?type=alert")["data"]["groups"]
        return {r["name"]: r["duration"] for g in groups for r in g["rules"]}

    wanted = {alert: max(1, round(seconds(duration) / FACTOR)) for alert, duration in _shipped_for().items()}
    supervisor.render_rules(shorter_for(FACTOR))
    supervisor.reload_prometheus()
    try:
        eventually(lambda: durations() == wanted, 10, "Prometheus runs the rules with the shorter `for`")
        yield
    finally:
        supervisor.render_rules()
        supervisor.reload_prometheus()


def _shipped_for() -> dict[str, str]:
    """Each alert of prometheus/rules and its ``for``."""
    import yaml

    return {rule["alert"]: str(rule["for"]) for path in RULES_DIR.glob("*.yml")
            for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule}


@pytest.fixture(scope="module")
def relay(stack) -> Iterator[WebhookRecorder]:
    with WebhookRecorder(port=stack.alert_relay_port) as recorder:
        yield recorder


@pytest.fixture(scope="module")
def demo(stack, tmp_path_factory) -> Iterator[str]:
    with running_demo(stack.otlp_http, tmp_path_factory.mktemp("alerting-demo"), OTEL_SERVICE_NAME=SERVICE) as base:
        yield base


def _delivered(relay: WebhookRecorder, receiver: str, alertname: str, since: int = 0,
               **labels: str) -> list[tuple[Delivery, dict]]:
    return [(d, a) for d in relay.received()[since:] if d.receiver == receiver for a in d.firing(alertname, **labels)]


def _firing_in_prometheus(stack, alertname: str, **labels: str) -> list[dict]:
    alerts = get_json(stack.prometheus + "/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["state"] == "firing" and a["labels"].get("alertname") == alertname
            and all(a["labels"].get(k) == v for k, v in labels.items())]


def _check_notification(stack, delivery: Delivery, alert: dict) -> None:
    """Sent where the shipped route says, with that receiver's token, and readable on call."""
    tokens = stack.stack.alert_tokens()
    assert delivery.path == f"/alerts/{delivery.receiver}"
    assert delivery.authorization == f"Bearer {tokens[delivery.receiver]}"
    annotations = alert["annotations"]
    assert alert["labels"]["job"] in annotations["summary"] + annotations["description"]
    assert (ROOT / annotations["runbook_url"]).is_file(), annotations["runbook_url"]


def test_enrichment_and_auth_failures_reach_chat_pager_and_security(stack, short_for, relay, demo) -> None:
    with httpx.Client(base_url=demo, timeout=10) as client:
        created = client.post("/nodes", json={"type": "concept", "label": "alerting"}, headers={"X-API-Key": DEMO_API_KEY})
        assert created.status_code == 201, created.text
        node_id = created.json()["id"]
        knobs = client.put("/demo/knobs", json={"enrich_failure_rate": 1.0})
        assert knobs.json()["enrich_failure_rate"] == 1.0
        stop = threading.Event()
        sent: dict[int, int] = {}

        def misbehave() -> None:
            with httpx.Client(base_url=demo, timeout=10) as worker:
                while not stop.is_set():
                    for response in (worker.post(f"/nodes/{node_id}/enrich"),
                                     worker.post("/nodes", json={"type": "concept", "label": "x"},
                                                 headers={"X-API-Key": "not-the-key-" + "q" * 8})):
                        sent[response.status_code] = sent.get(response.status_code, 0) + 1
                    time.sleep(0.05)

        thread = threading.Thread(target=misbehave, daemon=True)
        thread.start()
        try:
            expected = {("chat", "AIEnrichmentFailureRatioHigh"), ("pager", "SLOErrorBudgetBurnFast"),
                        ("security", "AuthFailureSpike"), ("chat", "AuthFailureSpike")}
            eventually(lambda: all(_delivered(relay, r, name, job=JOB) for r, name in expected), 60,
                       f"deliveries {sorted(expected)} for {JOB}", interval=0.5)
        finally:
            stop.set()
            thread.join(timeout=15)
            client.put("/demo/knobs", json={"enrich_failure_rate": 0.0})
    assert set(sent) == {502, 401}, sent  # every enrichment failed, every key was wrong
    for receiver, name in expected:
        for delivery, alert in _delivered(relay, receiver, name, job=JOB):
            _check_notification(stack, delivery, alert)
            assert _firing_in_prometheus(stack, name, job=JOB), f"{name} firing in Prometheus"
    (_, enrichment), *_ = _delivered(relay, "chat", "AIEnrichmentFailureRatioHigh", job=JOB)
    assert enrichment["labels"]["severity"] == "warning"
    assert enrichment["annotations"]["description"].startswith("100%"), enrichment["annotations"]["description"]
    assert not _delivered(relay, "pager", "AIEnrichmentFailureRatioHigh"), "a warning does not page"
    assert not _delivered(relay, "security", "AIEnrichmentFailureRatioHigh")


def _alertmanager_alerts(stack, alertname: str) -> list[dict]:
    query = urllib.parse.urlencode({"filter": f'alertname="{alertname}"'})
    return get_json(f"{stack.alertmanager}/api/v2/alerts?{query}")


def test_collector_down_pages_and_silences_telemetry_absent(stack, short_for, relay, demo) -> None:
    supervisor = stack.stack
    eventually(lambda: prom_query(stack.prometheus, f'target_info{{job="{JOB}"}}'), 30, f"target_info of {JOB}")
    since = len(relay.received())
    supervisor.stop("collector")
    try:
        eventually(lambda: _delivered(relay, "pager", "CollectorDown", since), 30, "CollectorDown at the pager")
        for delivery, alert in _delivered(relay, "pager", "CollectorDown", since):
            _check_notification(stack, delivery, alert)
            assert alert["labels"]["severity"] == "critical"
        eventually(lambda: _firing_in_prometheus(stack, "ServiceTelemetryAbsent", job=JOB), 30,
                   f"ServiceTelemetryAbsent firing for {JOB} in Prometheus")
        held = eventually(lambda: [a for a in _alertmanager_alerts(stack, "ServiceTelemetryAbsent")
                                   if a["labels"].get("job") == JOB and a["status"]["state"] == "suppressed"],
                          15, "ServiceTelemetryAbsent suppressed in Alertmanager")
        collector_down = {a["fingerprint"] for a in _alertmanager_alerts(stack, "CollectorDown")}
        assert set(held[0]["status"]["inhibitedBy"]) & collector_down, held[0]["status"]
        time.sleep(3)  # past group_wait and group_interval (1 s): an uninhibited alert would be here
        leaked = [r for r in ("pager", "chat", "security") if _delivered(relay, r, "ServiceTelemetryAbsent", since, job=JOB)]
        assert not leaked, f"ServiceTelemetryAbsent delivered to {leaked} despite CollectorDown"
    finally:
        supervisor.start("collector")
        supervisor.wait_healthy(["collector"])


def test_relay_and_tokens_come_from_the_stack_options(stack) -> None:
    """`python -m devstack` runs the shipped routing: only the relay's address and the token
    files differ from prometheus/alertmanager.yml."""
    import yaml

    rendered = yaml.safe_load((stack.state_dir / "alertmanager.yml").read_text())
    shipped = yaml.safe_load((ROOT / "prometheus" / "alertmanager.yml").read_text())
    assert rendered["inhibit_rules"] == shipped["inhibit_rules"]
    assert [r.get("matchers") for r in rendered["route"]["routes"]] == [r.get("matchers") for r in shipped["route"]["routes"]]
    tokens = stack.stack.alert_tokens()
    for receiver in rendered["receivers"]:
        hook = receiver["webhook_configs"][0]
        assert hook["url"] == f"http://127.0.0.1:{stack.alert_relay_port}/alerts/{receiver['name']}"
        token_file = Path(hook["http_config"]["authorization"]["credentials_file"])
        assert token_file.parent == stack.state_dir / "alertmanager-secrets"
        assert token_file.read_text() == tokens[receiver["name"]] and len(tokens[receiver["name"]]) >= 32
        assert token_file.stat().st_mode & 0o077 == 0, "token files are private"
