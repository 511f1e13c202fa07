"""What only a deployment shows, on one compose project of its own (compose.yaml + the CI
override): the gateway service scaled 2 -> 3 -> 2 while the demo's error traces flow (the
agent's DNS resolver follows the replicas; every error trace arrives whole); the agent killed
with SIGKILL under load while Elasticsearch (the stand-in) refuses, then started again: its
queue volume still holds every log batch it acknowledged; `compose down` then `up`: Prometheus'
samples and the queued telemetry survive on their volumes."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter

import httpx
import pytest

from devstack.es_standin import StandinClient
from tests.integration.deploy.compose_support import ComposeProject, running_project
from tests.integration.e2e_support import DEMO_API_KEY, eventually, get_json, jaeger_trace, prom_query, traceparent
from tests.integration.otlp_client import logs_request, new_trace_ids, post_http

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(images, tmp_path_factory):
    with running_project(tmp_path_factory.mktemp("compose-resilience")) as stack:
        yield stack


def _urls(project: ComposeProject) -> dict[str, str]:
    return {"demo": project.url("demo", 8000), "prometheus": project.url("prometheus", 9090),
            "jaeger": project.url("tempo", 16686), "es": project.url("elasticsearch", 9200),
            "otlp": project.url("otelcol", 4318)}


def _send_logs(project: ComposeProject, otlp: str, batches: int) -> list[str]:
    """Log batches straight to the agent's OTLP/HTTP port; the trace ids of those it acknowledged."""
    acknowledged = []
    headers = {"Authorization": f"Bearer {project.secrets['otlp_bearer_token']}"}
    tls = project.agent_tls()
    for _ in range(batches):
        ids = new_trace_ids(5)
        if post_http(otlp, "/v1/logs", logs_request(ids, service="compose-queue"), headers=headers, tls=tls).ok:
            acknowledged += [i.hex() for i in ids]
    return acknowledged


def _arrived(es: StandinClient, ids: list[str]) -> set[str]:
    return {d.get("trace_id") for d in es.docs("logs-vitalyst")} & set(ids)


LATENCY_THRESHOLD_MS = 1000  # VITALYST_TAIL_LATENCY_THRESHOLD_MS of the gateways (default)
ENRICH_LATENCY_MS = 2500  # the demo sleeps 0.5-1.5 times this: every enrichment trace is slow


@pytest.mark.timeout(900)  # load, two scalings and the final poll, on a machine as loaded as CI
def test_gateways_scale_2_3_2_under_load_and_every_error_and_slow_trace_arrives_whole(project) -> None:
    """Every trace is slow (the enrichment sleeps at least 1.25 s, the latency policy keeps
    traces over 1 s) and half of them fail: every one, including those in flight while a replica
    stops, must reach Jaeger whole. What makes the scale-down lossless (docs/deployment.md): the
    stopping replica decides every trace it holds at shutdown (tail sampling's default) and its
    in-memory queue to Tempo drains before it exits (a persistent queue would keep the kept
    traces in the removed container's volume); spans it refuses once its receiver has closed are
    retried by the agent and re-routed when DNS drops the replica."""
    urls = _urls(project)
    sent: list[tuple[float, str, int]] = []  # (start, trace id, status)
    stop = threading.Event()
    with httpx.Client(base_url=urls["demo"], timeout=30) as client:
        node_id = client.post("/nodes", json={"type": "concept", "label": "scale"},
                              headers={"X-API-Key": DEMO_API_KEY}).json()["id"]
        client.put("/demo/knobs", json={"enrich_failure_rate": 0.5, "enrich_latency_ms": ENRICH_LATENCY_MS})

        def load() -> None:
            with httpx.Client(base_url=urls["demo"], timeout=30) as worker:
                while not stop.is_set():
                    header, trace_id = traceparent()
                    at = time.monotonic()
                    status = worker.post(f"/nodes/{node_id}/enrich", headers={"traceparent": header}).status_code
                    sent.append((at, trace_id, status))

        # ~10 traces a second: many in flight (inside the decision wait) when a replica stops.
        threads = [threading.Thread(target=load, daemon=True) for _ in range(24)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(6)
            project.run("up", "-d", "--wait", "--no-recreate", "--scale", "gateway=3", "gateway")
            assert len(project.containers("gateway")) == 3
            time.sleep(10)
            down_started = time.monotonic()
            project.run("up", "-d", "--wait", "--no-recreate", "--scale", "gateway=2", "gateway")
            down_done = time.monotonic()
            assert len(project.containers("gateway")) == 2
            time.sleep(6)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=40)
            client.put("/demo/knobs", json={"enrich_failure_rate": 0.0, "enrich_latency_ms": 40})
    errors = [t for _, t, status in sent if status == 502]
    slow = [t for _, t, status in sent if status == 200]
    assert {status for *_, status in sent} <= {200, 502}, sorted({status for *_, status in sent})
    assert len(errors) > 20 and len(slow) > 20, (len(errors), len(slow))
    decision_wait = 2.0  # VITALYST_TAIL_DECISION_WAIT of the CI override
    in_window = [t for at, t, _ in sent if down_started - decision_wait - ENRICH_LATENCY_MS * 1.5 / 1000 <= at <= down_done]
    assert len(in_window) > 5, "traces in flight while the replica stopped"

    def whole(trace_id: str) -> bool:
        spans = jaeger_trace(urls["jaeger"], trace_id)
        names = [s["operationName"] for s in spans]
        servers = [s for s in spans if any(t["key"] == "span.kind" and t["value"] == "server" for t in s["tags"])]
        return len(servers) == 1 and "vitalyst.ai.enrichment" in names

    pending = errors + slow

    def all_whole() -> bool:
        pending[:] = [t for t in pending if not whole(t)]
        return not pending
    try:
        eventually(all_whole, 180, "every error trace and every slow trace whole in Jaeger", interval=3)
    except AssertionError:
        raise AssertionError(f"{len(pending)} of {len(sent)} traces not whole ({len(set(pending) & set(in_window))} "
                             f"of them in the scale-down window): {pending[:5]}\n" + project.logs("gateway")) from None
    counts = {len(jaeger_trace(urls["jaeger"], t)) for t in errors}
    assert len(counts) == 1, f"error traces with different span counts: {counts}"
    print(f"scale 2->3->2: {len(errors)} error and {len(slow)} slow traces all whole, "
          f"{len(in_window)} of them in flight during the scale-down")


def _requeued(project: ComposeProject) -> int:
    """Requests the restarted agent moved back into its queues (the killed process had them in
    flight), from its log; compose keeps the killed container's log before the new start's."""
    logs = project.run("logs", "--no-color", "otelcol").stdout
    return sum(int(n) for line in logs.splitlines() if "Moved items for dispatching back to queue" in line
               for n in re.findall(r'numberOfItems"?\s*[:=]\s*(\d+)', line))


def test_killed_agent_under_load_keeps_what_it_acknowledged_in_its_queue_volume(project) -> None:
    """Senders stream log batches to the agent's published port while Elasticsearch (the
    stand-in) refuses, so every acknowledged record waits in the agent's persistent queue; the
    agent gets SIGKILL in the middle of that and is started again; the senders go on once it is
    healthy (the v0.148 start-up race of docs/collector.md is kept out as a readiness gate would:
    nothing is sent to a starting agent). Every acknowledged record arrives, none twice."""
    urls = _urls(project)
    es = StandinClient(urls["es"])
    es.fault(status=503)  # Elasticsearch refuses: the agent queues on disk
    headers = {"Authorization": f"Bearer {project.secrets['otlp_bearer_token']}"}
    tls = project.agent_tls()
    target = {"otlp": urls["otlp"]}
    acknowledged: dict[str, list[str]] = {"before": [], "after": []}
    failed = {"before": 0, "after": 0}
    phase, running, stop = ["before"], threading.Event(), threading.Event()
    running.set()

    def send() -> None:
        while not stop.is_set():
            if not running.wait(timeout=0.5):
                continue
            ids, now = new_trace_ids(5), phase[0]
            body = logs_request(ids, service="compose-kill")
            if post_http(target["otlp"], "/v1/logs", body, headers=headers, timeout=5, tls=tls).ok:
                acknowledged[now] += [i.hex() for i in ids]
            else:
                failed[now] += 1
            time.sleep(0.02)

    threads = [threading.Thread(target=send, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        eventually(lambda: len(acknowledged["before"]) >= 500 or None, 60, "load on the agent before the kill")
        project.run("kill", "-s", "SIGKILL", "otelcol")  # while the senders' requests are in flight
        running.clear()
        phase[0] = "after"
        project.run("up", "-d", "--wait", "otelcol")
        target["otlp"] = project.url("otelcol", 4318)  # the published port may change on restart
        running.set()
        eventually(lambda: len(acknowledged["after"]) >= 250 or None, 60, "load on the restarted agent")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
    every = acknowledged["before"] + acknowledged["after"]
    assert not _arrived(es, every), "Elasticsearch refused, yet records arrived"
    requeued = _requeued(project)
    es.clear_fault()
    eventually(lambda: len(_arrived(es, every)) == len(every) or None, 180,
               "every acknowledged log record in logs-vitalyst after the agent's SIGKILL")
    counts = Counter(d.get("trace_id") for d in es.docs("logs-vitalyst"))
    twice = [i for i in every if counts[i] > 1]
    assert not twice, f"{len(twice)} records arrived twice"
    print(f"\ncompose SIGKILL under load: {len(every)} records acknowledged ({len(acknowledged['before'])} before the "
          f"kill, {len(acknowledged['after'])} after the restart), all arrived once; {failed['before']} requests "
          f"failed at the kill (never acknowledged); {requeued} requests moved back into the queues on start")


def test_down_then_up_keeps_prometheus_data_and_queued_telemetry(project) -> None:
    urls = _urls(project)
    before = time.time() - 5
    samples = prom_query(urls["prometheus"], 'up{job="otelcol"}', at=before)
    assert samples, "Prometheus has scraped the agent"
    es = StandinClient(urls["es"])
    es.fault(status=503)
    acknowledged = _send_logs(project, urls["otlp"], 10)
    assert len(acknowledged) == 50
    time.sleep(3)
    project.run("down", "--timeout", "20")  # no --volumes
    project.up()
    urls = _urls(project)
    after = prom_query(urls["prometheus"], 'up{job="otelcol"}', at=before)
    assert after == samples, "the sample from before `down` is still in the TSDB volume"
    es = StandinClient(urls["es"])  # a new stand-in (its documents are in memory): no fault
    eventually(lambda: len(_arrived(es, acknowledged)) == len(acknowledged) or None, 120,
               "the telemetry queued before `down` delivered after `up`")
    assert get_json(urls["prometheus"] + "/api/v1/status/tsdb")["data"]["headStats"]["numSeries"] > 0
