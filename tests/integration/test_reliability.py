"""The collector under failure, for real: backend outages and error answers, a SIGKILL under load,
overload, bad input. Backends are Jaeger (standing in for Tempo) and the Elasticsearch bulk-API
stand-in. Each test prints its figures (run with -s to see them; docs/operations.md has them)."""

from __future__ import annotations

import collections
import json
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


def _restart_report(collector_log: Path, offset: int) -> dict[str, dict[str, int | bool]]:
    """What the restarted collector logged (collector.log is appended to by every start, so
    ``offset`` is where this start begins) about its persistent queues: per exporter, how many
    requests it moved back into its queue because the killed process had them in flight
    (``requeued``), and whether the OTLP receiver was already serving while it did that
    (``exposed``: the v0.148 start-order race of docs/collector.md, "Restart under load")."""
    serving, report = False, {}
    with collector_log.open("rb") as log:
        log.seek(offset)
        for line in log:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            message, exporter = event.get("msg", ""), event.get("otelcol.component.id")
            # The service starts components one after the other, so the line order is the order
            # in which the receiver started serving and each exporter's queue became consistent.
            if message in ("Starting HTTP server", "Starting GRPC server"):
                serving = True
            elif message == "Fetching items left for dispatch by consumers":
                report[exporter] = {"requeued": 0, "exposed": serving}
            elif message == "Moved items for dispatching back to queue":
                report[exporter] = {"requeued": event.get("numberOfItems", 0),
                                    "exposed": report.get(exporter, {}).get("exposed", False) or serving}
            elif message.startswith("http: panic serving"):
                report.setdefault("otlp (requests that hit an exporter before its start)", {"panics": 0})
                report["otlp (requests that hit an exporter before its start)"]["panics"] += 1
    return report


def test_collector_sigkill_keeps_what_it_acknowledged(rstack: RunningStack, tmp_path: Path) -> None:
    """With the backends refusing (so acknowledged data waits in the persistent queues), the
    collector is killed with SIGKILL in the middle of a stream of export requests and restarted.

    What collector v0.148 guarantees, and what this asserts: every acknowledged request arrives,
    except that a restart under load can lose requests to an upstream race (docs/collector.md,
    "Restart under load"): when the OTLP receiver starts serving before an exporter has moved the
    killed process's in-flight requests back into its persistent queue, each request accepted for
    that exporter meanwhile can overwrite one queued request. So, per signal, the lost trace ids
    are at most 5 x (requests the restarted collector accepted before it reported healthy), and
    none unless the collector's log shows that exporter exposed. The loss is printed, not hidden.
    The demo's own losses are reported."""
    otlp = rstack.otlp_http
    rstack.stack.stop("jaeger")
    rstack.es.fault(status=503, seconds=3600)
    acked: list[bytes] = []
    answers: list[tuple[float, float, str, bool]] = []  # (sent, answered: monotonic; signal; 2xx)
    refused = 0
    stop = threading.Event()

    def sender() -> None:
        nonlocal refused
        while not stop.is_set():
            ids = new_trace_ids(5)
            sent = time.monotonic()
            traces = post_http(otlp, "/v1/traces", traces_request(ids), timeout=5)
            answers.append((sent, time.monotonic(), "traces", traces.ok))
            sent = time.monotonic()
            logs = post_http(otlp, "/v1/logs", logs_request(ids), timeout=5)
            answers.append((sent, time.monotonic(), "logs", logs.ok))
            if traces.ok and logs.ok:
                acked.extend(ids)
            else:
                refused += 1
                time.sleep(0.05)

    collector_log = rstack.state_dir / "collector.log"
    demo_ids: dict[str, list[str]] = {"before": [], "gap": [], "after": []}
    with running_demo(rstack.otlp_http, tmp_path) as demo:
        thread = threading.Thread(target=sender, daemon=True)
        thread.start()
        demo_ids["before"] = _create_nodes(demo, 10, spread_s=3)
        acked_before_kill = len(acked)
        rstack.stack.kill("collector")
        killed_at = time.monotonic()  # the old process is gone: what is answered later is the new one's
        demo_ids["gap"] = _create_nodes(demo, 10, spread_s=3)
        log_offset = collector_log.stat().st_size
        rstack.stack.start("collector")
        rstack.stack.wait_healthy(["collector"])
        # Export requests the restarted collector accepted up to now (a superset of those it
        # accepted while starting), per signal: ours, counted by our answers; the others (the
        # demo's) at most one per span / log record it accepted beyond ours (ours carry 5 x 3
        # spans or 5 records each; one still unanswered only makes the estimate larger).
        scraped = time.monotonic()
        metrics = rstack.ports.collector_metrics
        accepted = {"traces": collector_metric(metrics, "otelcol_receiver_accepted_spans"),
                    "logs": collector_metric(metrics, "otelcol_receiver_accepted_log_records")}
        ours = {signal: sum(1 for sent, answered, s, ok in list(answers)
                            if s == signal and ok and sent >= killed_at and answered <= scraped)
                for signal in ("traces", "logs")}
        others = {"traces": accepted["traces"] - 15 * ours["traces"], "logs": accepted["logs"] - 5 * ours["logs"]}
        restart = _restart_report(collector_log, log_offset)
        exposed = {"traces": restart.get("otlp_grpc/tempo", {}).get("exposed", False),
                   "logs": restart.get("elasticsearch/logs", {}).get("exposed", False)}
        bound = {signal: 5 * (ours[signal] + max(0, int(others[signal]))) if exposed[signal] else 0
                 for signal in ("traces", "logs")}
        demo_ids["after"] = _create_nodes(demo, 10, spread_s=3)
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()
        rstack.stack.start("jaeger")
        rstack.stack.wait_healthy(["jaeger"])
        rstack.es.clear_fault()

        acked_hex = [t.hex() for t in acked]
        before_kill = set(acked_hex[:acked_before_kill])
        state: dict[str, object] = {}

        def settled():
            """Everything arrived, or the queues are empty and nothing more arrived for 9 s."""
            logs = _docs_by_trace(rstack, "logs-vitalyst")  # one raw record per trace id
            spans = jaeger_span_counts(rstack.jaeger, "raw-client")
            missing = {"traces": [t for t in acked_hex if spans.get(t, 0) < 3],
                       "logs": [t for t in acked_hex if logs[t] < 1]}
            counts = (len(missing["traces"]), len(missing["logs"]))
            drained = collector_metric(metrics, "otelcol_exporter_queue_size") == 0
            state["unchanged"] = state.get("unchanged", 0) + 1 if drained and counts == state.get("counts") else 0
            state["counts"] = counts
            done = counts == (0, 0) or state["unchanged"] >= 3
            return (logs, spans, missing) if done else None

        logs, spans, missing = eventually(settled, 240, "the queues drained and every acknowledged id that "
                                          "will arrive arrived", interval=3)
        lost = {signal: len(ids) for signal, ids in missing.items()}
        lost_before_kill = {signal: sum(1 for t in ids if t in before_kill) for signal, ids in missing.items()}
        duplicated = sum(1 for t in acked_hex if logs[t] > 1 or spans.get(t, 0) > 3)
        time.sleep(5)
        demo_spans = jaeger_span_counts(rstack.jaeger, "knowledge-graph")
        demo_arrived = {phase: sum(1 for t in ids if demo_spans.get(t)) for phase, ids in demo_ids.items()}
    print(f"\nSIGKILL: {len(acked)} trace ids acknowledged ({acked_before_kill} before the kill); "
          f"lost to the restart race: {lost['traces']} ids' spans, {lost['logs']} ids' log records "
          f"({lost_before_kill} of them acknowledged before the kill; bound {bound}); "
          f"{duplicated} arrived more than once; {refused} export attempts failed while the collector was away; "
          f"restarted collector: {restart}; requests it accepted before it was healthy: ours {ours}, "
          f"others at most {others}; demo traces arrived: {demo_arrived} of 10 per phase")
    for signal in ("traces", "logs"):
        assert lost[signal] <= bound[signal], (
            f"{lost[signal]} acknowledged trace ids lost their {signal}, more than the start-order race can "
            f"explain ({bound[signal]}; exporter exposed: {exposed[signal]}); first missing: "
            f"{missing[signal][:5]}; restarted collector: {restart}")
    assert demo_arrived["after"] == 10
    # The demo's spans from before the kill wait in the same queue as ours, so the same race may
    # take one of them (it never did in our runs: 10 of thousands of queued requests).
    assert demo_arrived["before"] == 10 or exposed["traces"], demo_arrived
