"""Grafana provisioning and dashboards, checked structurally (Grafana itself cannot run here).

The live naming-contract test runs every dashboard query against Prometheus; these checks make
sure the JSON is something Grafana 12.1 loads the way docs/dashboards.md describes: one pinned
schemaVersion, unique panel ids, data sources that exist in provisioning, a unit on every
panel, no deprecated `graph` panels, `$__rate_interval` in range functions, and the dashboard
variables used by every query they apply to. PromQL syntax is checked with promtool.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import require
from tests.naming_contract import (
    ROOT,
    dashboard_expressions,
    iter_panels,
    metric_names,
    recording_rule_names,
)

DASHBOARDS_DIR = ROOT / "grafana" / "dashboards"
DATASOURCES_DIR = ROOT / "grafana" / "provisioning" / "datasources"
PROVIDERS_DIR = ROOT / "grafana" / "provisioning" / "dashboards"

#: The one supported Grafana release and its dashboard schema version (docs/dashboards.md).
GRAFANA_RELEASE = "12.1"
SCHEMA_VERSION = 41

DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))
EXPECTED_DASHBOARDS = {
    "vitalyst-service-overview",
    "vitalyst-runtime",
    "vitalyst-knowledge-graph",
    "vitalyst-telemetry-pipeline",
    "vitalyst-logs-security",
}
#: Panel types of Grafana 12.1 core that we use; `graph` is deprecated (timeseries replaces it).
PANEL_TYPES = {"timeseries", "stat", "gauge", "bargauge", "table", "logs", "state-timeline", "row", "text"}
#: Units from Grafana's value-format registry that the dashboards may use, plus custom
#: "suffix:"/"prefix:" units.
UNITS = {
    "none", "short", "percent", "percentunit", "bytes", "decbytes", "s", "ms", "reqps", "ops",
    "cps", "cpm", "Bps", "dtdurations",
}
RANGE_FUNCTIONS = r"(?:rate|irate|increase|deriv|delta|idelta|\w+_over_time)"


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _datasource_uids() -> dict[str, str]:
    uids = {}
    for path in sorted(DATASOURCES_DIR.glob("*.yml")):
        for ds in yaml.safe_load(path.read_text()).get("datasources", []):
            uids[ds["uid"]] = ds["type"]
    return uids


def _uids_used(node: object) -> list[tuple[str, str]]:
    """Every {"type": ..., "uid": ...} data source reference in a dashboard."""
    found = []
    if isinstance(node, dict):
        ds = node.get("datasource")
        if isinstance(ds, dict) and "uid" in ds:
            found.append((ds.get("type", ""), ds["uid"]))
        elif isinstance(ds, str):
            found.append(("", ds))
        for value in node.values():
            found += _uids_used(value)
    elif isinstance(node, list):
        for value in node:
            found += _uids_used(value)
    return found


def _variables(dashboard: dict) -> set[str]:
    return {v["name"] for v in dashboard.get("templating", {}).get("list", [])}


@pytest.fixture(params=DASHBOARD_FILES, ids=lambda p: p.name)
def dashboard(request: pytest.FixtureRequest) -> dict:
    return _load(request.param)


# --------------------------------------------------------------------------------------------
# Provisioning


def test_datasources_have_fixed_unique_uids() -> None:
    uids = _datasource_uids()
    assert set(uids) == {"vitalyst-prometheus", "vitalyst-tempo", "vitalyst-logs", "vitalyst-audit"}
    assert uids["vitalyst-prometheus"] == "prometheus"
    assert uids["vitalyst-tempo"] == "tempo"
    assert uids["vitalyst-logs"] == uids["vitalyst-audit"] == "elasticsearch"


def test_datasource_correlations_point_at_provisioned_uids() -> None:
    uids = _datasource_uids()
    by_uid = {
        ds["uid"]: ds
        for path in DATASOURCES_DIR.glob("*.yml")
        for ds in yaml.safe_load(path.read_text())["datasources"]
    }
    prometheus = by_uid["vitalyst-prometheus"]["jsonData"]
    assert [d["datasourceUid"] for d in prometheus["exemplarTraceIdDestinations"]] == ["vitalyst-tempo"]
    tempo = by_uid["vitalyst-tempo"]["jsonData"]
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "vitalyst-logs"
    assert "__trace.traceId" in tempo["tracesToLogsV2"]["query"]
    assert tempo["serviceMap"]["datasourceUid"] in uids
    for uid in ("vitalyst-logs", "vitalyst-audit"):
        es = by_uid[uid]["jsonData"]
        assert es["index"] and es["timeField"] == "@timestamp"
        assert [(link["field"], link["datasourceUid"]) for link in es["dataLinks"]] == [("trace_id", "vitalyst-tempo")]
    assert by_uid["vitalyst-logs"]["jsonData"]["index"] != by_uid["vitalyst-audit"]["jsonData"]["index"]


def test_dashboard_provider_loads_the_dashboards_folder() -> None:
    providers = [
        p for path in PROVIDERS_DIR.glob("*.yml") for p in yaml.safe_load(path.read_text())["providers"]
    ]
    assert len(providers) == 1
    assert providers[0]["type"] == "file"
    assert providers[0]["options"]["path"]


# --------------------------------------------------------------------------------------------
# Dashboards


def test_the_five_dashboards_exist() -> None:
    assert {_load(p)["uid"] for p in DASHBOARD_FILES} == EXPECTED_DASHBOARDS


def test_dashboard_uids_and_titles_are_unique() -> None:
    boards = [_load(p) for p in DASHBOARD_FILES]
    assert len({b["uid"] for b in boards}) == len(boards)
    assert len({b["title"] for b in boards}) == len(boards)


def test_schema_version_is_the_pinned_release(dashboard: dict) -> None:
    assert dashboard["schemaVersion"] == SCHEMA_VERSION, f"Grafana {GRAFANA_RELEASE} writes {SCHEMA_VERSION}"
    assert dashboard.get("id") is None, "provisioned dashboards carry no database id"


def test_panel_ids_are_unique(dashboard: dict) -> None:
    ids = [p["id"] for p in iter_panels(dashboard["panels"])]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids))


def test_panels_do_not_overlap(dashboard: dict) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not (cells & mine), f"{panel['title']} overlaps another panel"
        cells |= mine


def test_panel_types_are_current(dashboard: dict) -> None:
    for panel in iter_panels(dashboard["panels"]):
        assert panel["type"] != "graph", f"{panel['title']}: the graph panel is deprecated, use timeseries"
        assert panel["type"] in PANEL_TYPES, f"{panel['title']}: unexpected panel type {panel['type']}"


def test_every_panel_has_a_unit(dashboard: dict) -> None:
    for panel in iter_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        assert unit, f"{panel['title']}: no unit"
        assert unit in UNITS or re.match(r"^(suffix|prefix):", unit), f"{panel['title']}: unknown unit {unit}"


def test_every_panel_has_a_title_description_and_query(dashboard: dict) -> None:
    for panel in iter_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel.get("description"), panel.get("title")
        assert panel.get("targets"), f"{panel['title']}: no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), f"{panel['title']}: duplicate refId"


def test_every_datasource_uid_is_provisioned(dashboard: dict) -> None:
    provisioned = _datasource_uids()
    for type_, uid in _uids_used(dashboard):
        if uid == "-- Grafana --":
            continue  # the built-in annotations source
        assert uid in provisioned, f"data source uid {uid!r} is not provisioned"
        if type_:
            assert provisioned[uid] == type_, f"{uid}: type {type_} does not match provisioning"


def test_range_functions_use_rate_interval(dashboard: dict) -> None:
    for panel in iter_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            for m in re.finditer(rf"\b{RANGE_FUNCTIONS}\([^()]*?\[([^\]]+)\]", expr):
                assert m.group(1) == "$__rate_interval", f"{panel['title']}: use [$__rate_interval], not [{m.group(1)}]"


def test_queries_use_the_dashboard_variables(dashboard: dict) -> None:
    """A query honours each variable that applies to what it reads.

    - `job`: every query on a service metric (not on the collector's own metrics or `up`);
    - `instance`: every query on a raw service or collector metric (recorded series are per job);
    - `route`: every query on the HTTP server duration histogram.
    """
    variables = _variables(dashboard)
    recorded = recording_rule_names()
    for panel in iter_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            expr = target.get("expr")
            if not expr:
                continue
            names = metric_names(expr.replace("$__rate_interval", "5m"))
            service = {n for n in names if not n.startswith("otelcol_") and n not in ("up", "target_info")}
            raw = (names - recorded) - {"up", "target_info"}
            where = f"{dashboard['uid']} / {panel['title']}"
            if "job" in variables and service:
                assert '"$job"' in expr, f"{where}: does not filter on $job"
            if "instance" in variables and raw:
                assert 'instance=~"$instance"' in expr, f"{where}: does not filter on $instance"
            if "route" in variables and any(n.startswith("http_server_request_duration_seconds") for n in names):
                assert 'http_route=~"$route"' in expr, f"{where}: does not filter on $route"


def test_variables_are_defined_before_use(dashboard: dict) -> None:
    text = json.dumps(dashboard["panels"]) + json.dumps(dashboard["templating"])
    used = set(re.findall(r"\$(?!__)([A-Za-z_][A-Za-z0-9_]*)", text))
    used |= set(re.findall(r"\$\{(?!__)([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used <= _variables(dashboard), f"undefined variables: {used - _variables(dashboard)}"


def test_service_overview_covers_red_and_the_error_budget() -> None:
    board = _load(DASHBOARDS_DIR / "service-overview.json")
    exprs = " ".join(t.get("expr", "") for p in iter_panels(board["panels"]) for t in p.get("targets", []))
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in exprs
    assert "http_server_active_requests" in exprs
    assert "ratio_rate30d" in exprs
    exemplars = [t for p in iter_panels(board["panels"]) for t in p.get("targets", []) if t.get("exemplar")]
    assert exemplars, "latency panels show exemplars"


# --------------------------------------------------------------------------------------------
# PromQL syntax (promtool parses every dashboard query as a recording rule)


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool is not installed (Debian: prometheus)")
    expressions = list(dashboard_expressions())
    assert expressions
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query:{i}", "expr": e.expr} for i, e in enumerate(expressions)
    ]}]}
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
