"""The collector under failure, for real: backend outages and error answers, a SIGKILL under load,
overload, bad input. Backends are Jaeger (standing in for Tempo) and the Elasticsearch bulk-API
stand-in. Each test prints its figures (run with -s to see them; docs/operations.md has them)."""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import RunningStack, start_stack
from tests.integration.e2e_support import (
    DEMO_API_KEY, collector_metric, eventually, jaeger_span_counts, jaeger_trace, running_demo, traceparent,
)
from tests.integration.otlp_client import logs_request, new_trace_ids, post_http, traces_request

pytestmark = pytest.mark.integration

OUTAGE_S = 60


@pytest.fixture(scope="module")
def rstack(stack_binaries, tmp_path_factory) -> RunningStack:
    """A stack of its own: these tests stop, fault and kill its parts."""
    running = start_stack(stack_binaries, tmp_path_factory.mktemp("reliability-stack"))
    try:
        yield running
    finally:
        running.stack.down()


def _server_spans(jaeger: str, trace_id: str) -> int:
    return sum(1 for s in jaeger_trace(jaeger, trace_id)
               if any(t["key"] == "span.kind" and t["value"] == "server" for t in s["tags"]))


def _docs_by_trace(rstack: RunningStack, index: str) -> collections.Counter[str]:
    return collections.Counter(d.get("trace_id") for d in rstack.es.docs(index))


def _records_by_trace(rstack: RunningStack, index: str) -> collections.Counter[tuple[str, str]]:
    """How often each (trace id, body text) is in an index: a record stored twice counts 2."""
    return collections.Counter((d.get("trace_id"), (d.get("body") or {}).get("text")) for d in rstack.es.docs(index))


def _create_nodes(demo: str, count: int, spread_s: float) -> list[str]:
    """``count`` POST /nodes over ``spread_s`` seconds, each under its own trace id. Each makes one
    server span, one "node created" log record and two audit records (api_key.use, node.create)."""
    ids = []
    with httpx.Client(base_url=demo, timeout=10) as client:
        for i in range(count):
            header, trace_id = traceparent()
            response = client.post("/nodes", json={"type": "entity", "label": f"outage-{i}"},
                                   headers={"X-API-Key": DEMO_API_KEY, "traceparent": header})
            assert response.status_code == 201
            ids.append(trace_id)
            time.sleep(spread_s / count)
    return ids


def _assert_all_arrive_once(rstack: RunningStack, ids: list[str], timeout: float) -> float:
    """Every trace id: its server span in Jaeger, its "node created" log record and its two audit
    records in the stand-in; nothing stored twice. Returns the seconds it took."""
    start = time.monotonic()
    wanted = set(ids)

    def complete():
        logs = _records_by_trace(rstack, "logs-vitalyst")
        audit = _docs_by_trace(rstack, "audit-vitalyst")
        if any(logs[(t, "node created")] < 1 or audit[t] < 2 for t in ids):
            return None
        spans = {t: _server_spans(rstack.jaeger, t) for t in ids}
        return None if any(n < 1 for n in spans.values()) else (logs, audit, spans)

    logs, audit, spans = eventually(complete, timeout, f"all {len(ids)} traces, logs and audit records arrived",
                                    interval=2)
    elapsed = time.monotonic() - start
    assert [t for t in ids if spans[t] != 1] == [], "a span arrived twice"
    assert [key for key, n in logs.items() if key[0] in wanted and n > 1] == [], "a log record arrived twice"
    assert [t for t in ids if audit[t] != 2] == [], "an audit record arrived twice"
    return elapsed


def test_backend_outage_loses_nothing(rstack: RunningStack, tmp_path: Path) -> None:
    """Jaeger and the Elasticsearch stand-in down for 60 s while the demo sends N requests."""
    with running_demo(rstack.otlp_http, tmp_path) as demo:
        rstack.stack.stop("jaeger")
        rstack.stack.stop("es-standin")
        down_at = time.monotonic()
        ids = _create_nodes(demo, 100, spread_s=40)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        queued = collector_metric(rstack.ports.collector_metrics, "otelcol_exporter_queue_size")
        rstack.stack.start("es-standin")
        rstack.stack.start("jaeger")
        rstack.stack.wait_healthy(["es-standin", "jaeger"])
        took = _assert_all_arrive_once(rstack, ids, timeout=120)
    print(f"\noutage {OUTAGE_S} s: {len(ids)} requests (100 spans, 100 logs, 200 audit records); "
          f"{queued:.0f} export requests queued at the end; all arrived once {took:.0f} s after recovery")


@pytest.mark.parametrize("fault", [
    {"status": 429, "seconds": OUTAGE_S},
    {"status": 503, "seconds": OUTAGE_S},
    {"drop": True, "seconds": 20},
    {"status": 429, "items": True, "seconds": 20},
], ids=["429", "503", "dropped-connections", "per-document-429"])
def test_elasticsearch_errors_lose_nothing(rstack: RunningStack, tmp_path: Path, fault: dict) -> None:
    """The stand-in answers every bulk request with an error (or drops it) for a while."""
    with running_demo(rstack.otlp_http, tmp_path) as demo:
        served_before = rstack.es.stats()["faults_served"]
        rstack.es.fault(**fault)
        fault_ends = time.monotonic() + fault["seconds"]
        ids = _create_nodes(demo, 40, spread_s=min(fault["seconds"], 30) * 0.8)
        time.sleep(max(0.0, fault_ends - time.monotonic()))
        served = rstack.es.stats()["faults_served"] - served_before
        _assert_all_arrive_once(rstack, ids, timeout=150)
        took = time.monotonic() - fault_ends
    rstack.es.clear_fault()
    assert served > 0
    print(f"\n{fault}: {served} bulk requests faulted; {len(ids)} requests' logs and audit records "
          f"all arrived once, {took:.0f} s after the fault ended")


def test_collector_sigkill_keeps_what_it_acknowledged(rstack: RunningStack, tmp_path: Path) -> None:
    """With the backends refusing (so acknowledged data waits in the persistent queues), the
    collector is killed with SIGKILL in the middle of a stream of export requests and restarted.
    Every request it answered 200 arrives afterwards; the demo's own losses are reported."""
    otlp = rstack.otlp_http
    rstack.stack.stop("jaeger")
    rstack.es.fault(status=503, seconds=3600)
    acked: list[bytes] = []
    refused = 0
    stop = threading.Event()

    def sender() -> None:
        nonlocal refused
        while not stop.is_set():
            ids = new_trace_ids(5)
            traces = post_http(otlp, "/v1/traces", traces_request(ids), timeout=5)
            logs = post_http(otlp, "/v1/logs", logs_request(ids), timeout=5)
            if traces.ok and logs.ok:
                acked.extend(ids)
            else:
                refused += 1
                time.sleep(0.05)

    demo_ids: dict[str, list[str]] = {"before": [], "gap": [], "after": []}
    with running_demo(rstack.otlp_http, tmp_path) as demo:
        thread = threading.Thread(target=sender, daemon=True)
        thread.start()
        demo_ids["before"] = _create_nodes(demo, 10, spread_s=3)
        acked_before_kill = len(acked)
        rstack.stack.kill("collector")
        demo_ids["gap"] = _create_nodes(demo, 10, spread_s=3)
        rstack.stack.start("collector")
        rstack.stack.wait_healthy(["collector"])
        demo_ids["after"] = _create_nodes(demo, 10, spread_s=3)
        stop.set()
        thread.join(timeout=30)
        rstack.stack.start("jaeger")
        rstack.stack.wait_healthy(["jaeger"])
        rstack.es.clear_fault()

        acked_hex = [t.hex() for t in acked]

        missing: dict[str, int] = {}

        def arrived():
            logs = _docs_by_trace(rstack, "logs-vitalyst")  # one raw record per trace id
            spans = jaeger_span_counts(rstack.jaeger, "raw-client")
            missing["logs"] = sum(1 for t in acked_hex if logs[t] < 1)
            missing["spans"] = sum(1 for t in acked_hex if spans.get(t, 0) < 3)
            return None if missing["logs"] or missing["spans"] else (logs, spans)

        try:
            logs, spans = eventually(arrived, 180, f"all {len(acked)} acknowledged trace ids' spans and logs",
                                     interval=3)
        except AssertionError as exc:
            spans_now = jaeger_span_counts(rstack.jaeger, "raw-client")
            lost = [t for t in acked_hex if spans_now.get(t, 0) < 3][:5]
            by_id = {t: len(jaeger_trace(rstack.jaeger, t)) for t in lost}
            raise AssertionError(f"{exc}; trace ids still missing: {missing}; spans found by id: {by_id}; "
                                 f"acknowledged before the kill: {acked_before_kill}, index of the first "
                                 f"missing: {acked_hex.index(lost[0]) if lost else None}") from None
        duplicated = sum(1 for t in acked_hex if logs[t] > 1 or spans[t] > 3)
        time.sleep(5)
        demo_spans = jaeger_span_counts(rstack.jaeger, "knowledge-graph")
        demo_arrived = {phase: sum(1 for t in ids if demo_spans.get(t)) for phase, ids in demo_ids.items()}
    print(f"\nSIGKILL: {len(acked)} trace ids acknowledged ({acked_before_kill} before the kill), all arrived; "
          f"{duplicated} arrived more than once; {refused} export attempts failed while the collector was away; "
          f"demo traces arrived: {demo_arrived} of 10 per phase")
    assert demo_arrived["before"] == 10 and demo_arrived["after"] == 10
