"""The naming contract, live (../shared/DESIGN.md): the demo service under opentelemetry-instrument,
driven by its own load driver, through the session stack (our collector, Prometheus 2.42,
Jaeger standing in for Tempo, the Elasticsearch bulk-API stand-in), then:

- every metric name a recording rule, alert or dashboard query reads (tests/naming_contract.py,
  dashboard variables substituted) exists in Prometheus with data; the FAULT_ONLY names after
  the fault that creates them (the collector restarted with tests/support/collector-faults.yaml
  and a burst of requests, then restored);
- every rule and dashboard expression runs without error on that data, and those that need
  neither a fault nor an hour of history return something;
- every series docs/metrics.md promises is in Prometheus under exactly the name the doc states;
  ``vitalyst_process_memory_limit_bytes`` only exists under a memory limit, so the demo runs in
  a child cgroup with a limit the test sets (cgroup v1 or v2, needs a writable /sys/fs/cgroup);
  where none can be made and the machine has no limit, the test checks that the series is absent
  and skips with that reason (under CI=true it fails instead);
- every audit record the demo wrote reaches the audit index, once, and none the logs index.

Checks read Prometheus at one instant taken while the demo's data was there, so restarting the
collector for the fault does not disturb them.
"""

from __future__ import annotations

import copy
import json
import socket
import time
import urllib.error
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require
from tests.integration.e2e_support import drive_load, eventually, memory_cgroup, prom_query, running_demo
from tests.integration.otlp_client import logs_request, metrics_request, new_trace_ids, post_http, traces_request
from tests.naming_contract import (
    CONDITIONAL, FAULT_ONLY, ROOT, dashboard_expressions, documented_metrics, metric_names, prometheus_series,
    recording_rule_names, referenced_metrics, rule_expressions,
)
from vitalyst_otel.runtime_metrics import memory_limit

pytestmark = pytest.mark.integration

SERVICE = "naming-contract"
JOB = f"vitalyst/{SERVICE}"
LIMIT = "vitalyst_process_memory_limit_bytes"
MEMORY_LIMIT = 1024**3  # far above what the demo uses
FAULT_OVERLAY = ROOT / "tests" / "support" / "collector-faults.yaml"


@dataclass
class DemoRun:
    at: float  # a Unix time at which Prometheus holds the demo's data
    cgroup: Path | None  # the cgroup with a memory limit the demo ran in
    why_no_cgroup: str
    log_dir: Path


def selector(name: str) -> str:
    """The series of ``name`` that this run must have produced."""
    if name == "up" or name.startswith("otelcol_"):
        return f'{{__name__="{name}", job=~"otelcol.*"}}'
    return f'{{__name__="{name}", job="{JOB}"}}'


def expected_names(run_has_limit: bool) -> set[str]:
    names = set(referenced_metrics()) - set(FAULT_ONLY)
    return names if run_has_limit else names - set(CONDITIONAL)


def missing(prometheus: str, names: set[str], at: float | None = None) -> set[str]:
    return {name for name in names if not prom_query(prometheus, selector(name), at)}


def not_ready(prometheus: str, names: set[str]) -> bool:
    """A name has no data yet, or a series of the run has a single sample: rate() over a series
    the load created at its very end (a rare failure outcome, say) needs two."""
    series = prom_query(prometheus, f'{{job="{JOB}"}}[5m]')  # a range selector: every sample
    return bool(missing(prometheus, names)) or any(len(s["values"]) < 2 for s in series)


@pytest.fixture(scope="module")
def demo_run(stack, tmp_path_factory) -> Iterator[DemoRun]:
    """The demo in a memory-limited cgroup where possible, 6 s of its load, then stopped (so its
    stdout and audit trail are flushed)."""
    log_dir = tmp_path_factory.mktemp("naming-demo")
    with memory_cgroup(MEMORY_LIMIT) as (cgroup, why):
        with running_demo(stack.otlp_http, log_dir, cgroup=cgroup, OTEL_SERVICE_NAME=SERVICE,
                          DEMO_ENRICH_FAILURE_RATE="0.2") as base:
            drive_load(base, 6)
            deadline = time.monotonic() + 20
            while not_ready(stack.prometheus, expected_names(cgroup is not None)) and time.monotonic() < deadline:
                time.sleep(0.5)
            at = time.time()
    yield DemoRun(at, cgroup, why, log_dir)


def test_every_metric_a_rule_or_dashboard_reads_has_data(stack, demo_run: DemoRun) -> None:
    referenced = referenced_metrics()
    absent = missing(stack.prometheus, expected_names(demo_run.cgroup is not None), demo_run.at)
    assert not absent, "no data in Prometheus for:\n" + "\n".join(
        f"  {name} (read by {', '.join(sorted({f'{e.source}: {e.where}' for e in referenced[name]}))})"
        for name in sorted(absent))


def _evaluate(prometheus: str, expr: str, at: float) -> list[dict] | str:
    try:
        return prom_query(prometheus, expr, at)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}: {exc.read().decode(errors='replace')[:300]}"


def _needs_history_or_fault(expr: str, recorded_exprs: dict[str, str]) -> bool:
    """True when ``expr`` (or a recording rule it reads) looks an hour or more back, or reads a
    name that only a fault creates: a fresh, healthy run cannot give it data."""
    if "offset" in expr:
        return True
    names = metric_names(expr)
    if names & set(FAULT_ONLY):
        return True
    return any(_needs_history_or_fault(recorded_exprs[n], recorded_exprs) for n in names & set(recorded_exprs))


def test_every_rule_and_dashboard_query_runs_on_live_data(stack, demo_run: DemoRun) -> None:
    recorded = {e.where: e.expr for e in rule_expressions() if e.where in recording_rule_names()}
    values = {"job": JOB, "instance": ".+", "route": ".+"}
    expressions = [*rule_expressions(), *dashboard_expressions(values=values)]
    errors, empty = [], []
    for e in expressions:
        if LIMIT in metric_names(e.expr) and demo_run.cgroup is None:
            continue
        result = _evaluate(stack.prometheus, e.expr, demo_run.at)
        if isinstance(result, str):
            errors.append(f"{e.source}: {e.where}: {result}")
        elif not result and not _needs_history_or_fault(e.expr, recorded):
            is_alert = e.source.startswith("prometheus/") and e.where not in recorded
            if not is_alert:  # alerts are quiet in a healthy run; that is no fault
                empty.append(f"{e.source}: {e.where}: {' '.join(e.expr.split())[:160]}")
    assert not errors, "expressions Prometheus rejects:\n" + "\n".join(errors)
    assert not empty, "recording rules and panels without data on a healthy run:\n" + "\n".join(empty)


def test_every_documented_metric_reaches_prometheus_under_its_documented_name(stack, demo_run: DemoRun) -> None:
    absent = {}
    for instrument, cell in documented_metrics().items():
        for series in prometheus_series(cell):
            if series == LIMIT:
                continue  # its own test, below
            if not prom_query(stack.prometheus, selector(series), demo_run.at):
                absent[series] = instrument
    assert not absent, "docs/metrics.md promises series Prometheus does not have: " + json.dumps(absent, indent=1)


def test_memory_limit_series_is_the_limit_of_the_demos_cgroup(stack, demo_run: DemoRun) -> None:
    found = prom_query(stack.prometheus, selector(LIMIT), demo_run.at)
    if demo_run.cgroup is not None:
        assert [float(s["value"][1]) for s in found] == [MEMORY_LIMIT], found
        ratio = prom_query(stack.prometheus,
                           f'instance:process_memory_usage_bytes:ratio_limit{{job="{JOB}"}}', demo_run.at)
        assert ratio and 0 < float(ratio[0]["value"][1]) < 1, ratio
        return
    own = memory_limit()
    if own is not None:  # the whole machine (container) has a limit: the demo reports it
        assert [float(s["value"][1]) for s in found] == [own], found
        return
    assert not found, f"{LIMIT} exists although no memory limit applies: {found}"
    require(False, f"{LIMIT} checked only for its absence: this machine sets no memory limit, and "
                   f"{demo_run.why_no_cgroup}")


def _audit_key(record: dict) -> tuple:
    return (record.get("action"), record.get("resource"), record.get("outcome"), record.get("request_id"))


def test_audit_records_reach_the_audit_index_once_and_only_it(stack, demo_run: DemoRun) -> None:
    lines = (demo_run.log_dir / "demo.stdout.log").read_text().splitlines()
    written = Counter(_audit_key(r) for r in map(json.loads, filter(None, lines)) if r.get("log.type") == "audit")
    assert {key[0] for key in written} >= {"node.create", "api_key.use", "node.delete", "session.create"}

    def ours(index: str) -> list[dict]:
        return [d for d in stack.es.docs(index)
                if d.get("resource", {}).get("attributes", {}).get("service.name") == SERVICE]

    def arrived() -> Counter | None:
        got = Counter(_audit_key(d.get("attributes", {})) for d in ours("audit-vitalyst"))
        return got if sum(got.values()) >= sum(written.values()) else None

    eventually(arrived, 30, f"{sum(written.values())} audit records in audit-vitalyst")
    time.sleep(1.5)  # the collector flushes every second: anything extra would be here by now
    audit_docs = ours("audit-vitalyst")
    assert Counter(_audit_key(d["attributes"]) for d in audit_docs) == written, "each audit record once"
    assert all(d["attributes"].get("log.type") == "audit" for d in audit_docs)
    in_logs = [d for d in ours("logs-vitalyst") if d.get("attributes", {}).get("log.type") == "audit"
               or _audit_key(d.get("attributes", {})) in written]
    assert not in_logs, f"audit records in the logs index: {in_logs[:3]}"
    assert ours("logs-vitalyst"), "the demo's ordinary log records reached logs-vitalyst"


# --- the names that only a fault creates: run last, it restarts the stack's collector ----------


def _burst(otlp_http: str, requests: int = 30) -> None:
    """Traces, metrics and logs, faster than an exporter with one queue slot can take them."""
    host_port = otlp_http.removeprefix("http://")
    for _ in range(requests):
        post_http(host_port, "/v1/traces", traces_request(new_trace_ids(2), service="naming-contract-fault"))
        post_http(host_port, "/v1/metrics", metrics_request(service="naming-contract-fault"))
        post_http(host_port, "/v1/logs", logs_request(new_trace_ids(2), service="naming-contract-fault"))


def test_fault_only_names_appear_under_their_fault(stack) -> None:
    """FAULT_ONLY: the collector restarted with an extra exporter on every pipeline towards a
    backend that accepts connections and never answers (1 s timeout, no retries, one queue slot):
    the shipped exporters keep delivering, the extra one fails to send and refuses to enqueue."""
    assert not missing(stack.prometheus, {"otelcol_exporter_sent_spans"}), "the collector reports"
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(128)  # accepted by the kernel, never answered
    supervisor = stack.stack
    shipped = copy.deepcopy(supervisor.components["collector"])
    faulty = supervisor.components["collector"]
    faulty.argv = [*shipped.argv, "--config", str(FAULT_OVERLAY)]
    faulty.env = {**shipped.env, "VITALYST_TEST_UNREACHABLE_PORT": str(blackhole.getsockname()[1])}
    try:
        supervisor.stop("collector")
        supervisor.start("collector")
        supervisor.wait_healthy(["collector"])
        _burst(stack.otlp_http)
        absent, deadline = set(FAULT_ONLY), time.monotonic() + 30
        while absent and time.monotonic() < deadline:
            time.sleep(1)
            absent = missing(stack.prometheus, absent)
        assert not absent, f"still no data after the fault: {sorted(absent)}"
        for name in FAULT_ONLY:
            exporters = {s["metric"].get("exporter") for s in prom_query(stack.prometheus, selector(name))}
            assert exporters == {"otlp_grpc/unreachable"}, (name, exporters)
        # The recording rules that read them compute on them (a rate needs a second scrape).
        recorded = {e.where: e.expr for e in rule_expressions()}
        for record in ("exporter:otelcol_exporter_send_failed_items:rate5m",
                       "exporter:otelcol_exporter_enqueue_failed_items:rate5m"):
            eventually(lambda: {s["metric"].get("signal") for s in prom_query(stack.prometheus, recorded[record])}
                       == {"traces", "metrics", "logs"}, 10, f"{record} for traces, metrics and logs")
    finally:
        blackhole.close()
        supervisor.stop("collector")
        supervisor.components["collector"] = shipped
        supervisor.start("collector")
        supervisor.wait_healthy(["collector"])
