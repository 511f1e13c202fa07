"""Unit tests of tests/naming_contract.py, the name extraction the live naming-contract test uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.naming_contract import (
    COLLECTOR_METRICS,
    CONDITIONAL,
    FAULT_ONLY,
    Expression,
    dashboard_expressions,
    metric_names,
    recording_rule_names,
    referenced_metrics,
    rule_expressions,
    substitute_variables,
    variable_query_expression,
)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('up{job="otelcol"} == 0', {"up"}),
        ("sum by (job) (rate(http_server_request_duration_seconds_count[5m]))", {"http_server_request_duration_seconds_count"}),
        ("sum(rate(x_total[5m])) by (job, instance)", {"x_total"}),
        ("sum without (instance) (x)", {"x"}),
        (
            'histogram_quantile(0.95, sum by (job, le) (rate(h_bucket{route!~"/health/.*"}[5m])))',
            {"h_bucket"},
        ),
        ("a / on (job) group_left (team) b", {"a", "b"}),
        ("a / ignoring (instance) b", {"a", "b"}),
        ("a and on (job) b or c unless d", {"a", "b", "c", "d"}),
        ("x offset 1h", {"x"}),
        ("rate(x[1h30m] offset 1d)", {"x"}),
        ("max_over_time(deriv(x[30m:1m])[1h:5m])", {"x"}),
        ("x > bool 3", {"x"}),
        ('label_replace(sum by (job) (rate(a[5m])), "signal", "traces", "", "")', {"a"}),
        ('{__name__="by_name", job="x"}', {"by_name"}),
        ("job:http_server_requests:rate5m * 0", {"job:http_server_requests:rate5m"}),
        ("count by (job) (max_over_time(target_info[1d])) unless on (job) count by (job) (target_info)", {"target_info"}),
        ("vector(1) + time() + scalar(x)", {"x"}),
        ("topk(5, x)", {"x"}),
        ("quantile_over_time(0.9, x[5m])", {"x"}),
        ("absent(up{job=\"otelcol\"})", {"up"}),
        ("rate(x[5ms])", {"x"}),
        ("1e3 * x + 0x1F", {"x"}),
        ("sum by (job) (x) # a comment naming y", {"x"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_metric_names_rejects_what_it_cannot_read() -> None:
    with pytest.raises(ValueError):
        metric_names("sum(x")
    with pytest.raises(ValueError):
        metric_names("x ? y")


@pytest.mark.parametrize(
    ("expr", "values", "expected"),
    [
        ("rate(x[$__rate_interval])", None, "rate(x[5m])"),
        ('x{job=~"$job"}', {"job": "vitalyst/kg"}, 'x{job=~"vitalyst/kg"}'),
        ('x{job=~"${job}", i=~"${instance:regex}"}', {"job": "a"}, 'x{job=~"a", i=~".+"}'),
        ('x{job=~"[[job]]"}', {"job": "a"}, 'x{job=~"a"}'),
        ("increase(x[$__range])", None, "increase(x[1h])"),
    ],
)
def test_substitute_variables(expr: str, values: dict | None, expected: str) -> None:
    assert substitute_variables(expr, values) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('label_values(target_info{job!~"otelcol.*"}, job)', 'target_info{job!~"otelcol.*"}'),
        ("label_values(sum by (a, b) (x), b)", "sum by (a, b) (x)"),
        ("label_values(job)", None),
        ("query_result(topk(5, x))", "topk(5, x)"),
        ("metrics(vitalyst_.*)", None),
        ("label_names()", None),
    ],
)
def test_variable_query_expression(query: str, expected: str | None) -> None:
    assert variable_query_expression(query) == expected


def _dashboard(tmp_path: Path) -> Path:
    board = {
        "templating": {"list": [
            {"name": "job", "type": "query", "datasource": {"type": "prometheus", "uid": "p"},
             "query": {"query": "label_values(target_info, job)", "refId": "A"}},
            {"name": "es", "type": "query", "datasource": {"type": "elasticsearch", "uid": "e"},
             "query": '{"find": "terms", "field": "x"}'},
            {"name": "interval", "type": "interval", "query": "1m,5m"},
        ]},
        "panels": [
            {"id": 1, "type": "row", "title": "r", "panels": [
                {"id": 2, "type": "timeseries", "title": "nested", "datasource": {"type": "prometheus", "uid": "p"},
                 "targets": [{"refId": "A", "expr": 'rate(a_total{job=~"$job"}[$__rate_interval])'}]},
            ]},
            {"id": 3, "type": "timeseries", "title": "panel ds",
             "datasource": {"type": "prometheus", "uid": "p"}, "targets": [{"refId": "A", "expr": "b"}]},
            {"id": 4, "type": "logs", "title": "es", "datasource": {"type": "elasticsearch", "uid": "e"},
             "targets": [{"refId": "A", "query": "level:error"}]},
        ],
    }
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board))
    return path


def test_dashboard_expressions_read_panels_rows_and_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.naming_contract as nc

    _dashboard(tmp_path)
    monkeypatch.setattr(nc, "ROOT", tmp_path)
    found = list(dashboard_expressions(tmp_path, {"job": "kg"}))
    assert found == [
        Expression("board.json", "variable job", "target_info"),
        Expression("board.json", "panel nested", 'rate(a_total{job=~"kg"}[5m])'),
        Expression("board.json", "panel panel ds", "b"),
    ]


def test_rule_expressions_and_recording_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.naming_contract as nc

    (tmp_path / "r.yml").write_text(
        "groups:\n"
        "  - name: g\n"
        "    rules:\n"
        "      - record: job:a:rate5m\n"
        "        expr: sum by (job) (rate(a_total[5m]))\n"
        "      - alert: A\n"
        "        expr: job:a:rate5m > 1 and b > 0\n"
    )
    monkeypatch.setattr(nc, "ROOT", tmp_path)
    assert [e.where for e in rule_expressions(tmp_path)] == ["job:a:rate5m", "A"]
    assert recording_rule_names(tmp_path) == {"job:a:rate5m"}
    empty = tmp_path / "no-dashboards"
    empty.mkdir()
    assert set(referenced_metrics(tmp_path, empty)) == {"a_total", "b"}


def test_the_repository_references_only_known_names() -> None:
    """Every raw name in our rules and dashboards is a contract name of DESIGN.md, a collector
    self-metric of COLLECTOR_METRICS, or one of Prometheus' own (up, target_info)."""
    service_prefixes = ("http_server_", "process_", "cpython_gc_", "vitalyst_", "gen_ai_client_")
    for name in referenced_metrics():
        assert (
            name.startswith(service_prefixes) or name in COLLECTOR_METRICS or name in ("up", "target_info")
        ), f"{name} is neither a contract name nor a known collector metric"


def test_fault_only_and_conditional_names_are_used_and_explained() -> None:
    used = set(referenced_metrics())
    for table in (FAULT_ONLY, CONDITIONAL):
        for name, reason in table.items():
            assert name in used, f"{name} is listed but no rule or dashboard reads it"
            assert len(reason) > 20
    assert not set(FAULT_ONLY) & set(CONDITIONAL)


def test_collector_metrics_are_listed_once() -> None:
    used = {n for n in referenced_metrics() if n.startswith("otelcol_")}
    assert used <= set(COLLECTOR_METRICS), used - set(COLLECTOR_METRICS)
    assert not any(n.endswith("_total") for n in COLLECTOR_METRICS), "default telemetry: no _total suffix"
