"""The naming contract between code, collector, rules and dashboards (../shared/DESIGN.md).

Building blocks for the live naming-contract test and for the unit tests of the rules and
dashboards:

- :func:`metric_names` extracts the metric names a PromQL expression reads;
- :func:`rule_expressions` and :func:`dashboard_expressions` collect every PromQL expression
  of prometheus/rules and grafana/dashboards (dashboard variables substituted);
- :func:`referenced_metrics` maps each raw metric name (recording-rule outputs excluded) to
  the places that use it; the live test checks each against Prometheus;
- :data:`FAULT_ONLY` and :data:`CONDITIONAL` list the names that a healthy demo run does not
  produce, with the reason and how the live test makes them appear;
- :data:`COLLECTOR_METRICS` is the one place that lists the collector's own metric names the
  rules and dashboards rely on, and how each was checked;
- :func:`documented_metrics` and :func:`prometheus_series` read the table of docs/metrics.md
  (each instrument and the Prometheus series the doc promises for it).

Pure Python, no server: importable from unit and integration tests alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "prometheus" / "rules"
DASHBOARDS_DIR = ROOT / "grafana" / "dashboards"
METRICS_DOC = ROOT / "docs" / "metrics.md"

#: The scrape job of the collector's own metrics (port 8888) in prometheus/prometheus.yml.
COLLECTOR_JOB = "otelcol"

# --------------------------------------------------------------------------------------------
# Names that are not there in a healthy run

#: The fault the live test causes for the FAULT_ONLY names: the collector restarted with
#: tests/support/collector-faults.yaml, which adds to every pipeline an exporter towards a
#: backend that accepts connections and never answers (1 s timeout, no retries, a queue of one
#: request), and a burst of traces, metrics and logs sent to it.
FAULT_TRIGGER = "tests/support/collector-faults.yaml: an exporter whose backend never answers"

#: Names that exist only once something has gone wrong, with the reason and the trigger. The
#: live test triggers the fault (FAULT_TRIGGER) before it looks for them.
FAULT_ONLY: Mapping[str, str] = {
    "otelcol_exporter_send_failed_spans": (
        "created on the first span an exporter gives up on (after its retries); "
        "trigger: a traces exporter whose backend never answers, retries off"
    ),
    "otelcol_exporter_send_failed_metric_points": (
        "created on the first failed metrics export; the shipped metrics path, the pull-based "
        "prometheus exporter, cannot fail to send, a push exporter (remote write, a gateway) can; "
        "trigger: a metrics exporter whose backend never answers, retries off"
    ),
    "otelcol_exporter_send_failed_log_records": (
        "created on the first failed log export; "
        "trigger: a logs exporter whose backend never answers, retries off"
    ),
    "otelcol_exporter_enqueue_failed_spans": (
        "created when a sending queue is full; trigger: that exporter's queue of one request "
        "and a burst of trace requests while its one consumer waits for the backend"
    ),
    "otelcol_exporter_enqueue_failed_metric_points": (
        "created when a sending queue is full; trigger: as for spans, with metric requests"
    ),
    "otelcol_exporter_enqueue_failed_log_records": (
        "created when a sending queue is full; trigger: as for spans, with log requests"
    ),
}

#: Names that depend on the environment rather than on a fault.
CONDITIONAL: Mapping[str, str] = {
    "vitalyst_process_memory_limit_bytes": (
        "the lowest memory limit on the process's cgroup path (v2 memory.max, v1 "
        "memory.limit_in_bytes); absent when the process runs without a memory limit. The live "
        "test runs the demo in a child cgroup with a limit it sets; where it cannot make one "
        "and there is no limit, it checks that the series is absent and says so"
    ),
}

#: Instrument details the emitting code must keep for the names above to hold. Checked with the
#: collector's prometheus exporter (contrib v0.148.0 and v0.165.0, default settings).
EMITTER_NOTES: Mapping[str, str] = {
    "vitalyst_health_check_status": (
        "create vitalyst.health.check.status without unit or with an annotation unit such as "
        "'{status}': with unit '1' the exporter names it vitalyst_health_check_status_ratio"
    ),
    "vitalyst_process_memory_limit_bytes": "unit 'By' (the exporter appends _bytes)",
    "http_server_request_duration_seconds": "unit 's' (the exporter appends _seconds)",
}

# --------------------------------------------------------------------------------------------
# The collector's own metrics

#: Collector self-metrics used by rules and dashboards. Verified against a collector built from
#: the core modules v0.148.0 (and v0.165.0) with otlpreceiver, memory_limiter, batch,
#: otlp_http/debug/prometheus exporters and the default service::telemetry settings, by
#: scraping :8888/metrics after sending traces, metrics and logs through it and after forcing
#: export and enqueue failures. The defaults (without_type_suffix, without_units,
#: without_scope_info) give names without `_total` and unit suffixes; a collector config that
#: declares its own `telemetry.metrics.readers` must set those three options to true to keep
#: these names (at v0.148 an explicit reader otherwise turns otelcol_receiver_accepted_spans
#: into otelcol_receiver_accepted_spans_total and otelcol_process_memory_rss into
#: otelcol_process_memory_rss_bytes).
COLLECTOR_METRICS: Mapping[str, str] = {
    "otelcol_receiver_accepted_spans": "counter {receiver, transport}",
    "otelcol_receiver_accepted_metric_points": "counter {receiver, transport}",
    "otelcol_receiver_accepted_log_records": "counter {receiver, transport}",
    "otelcol_receiver_refused_spans": "counter {receiver, transport}; 0 from the start",
    "otelcol_receiver_refused_metric_points": "counter {receiver, transport}; 0 from the start",
    "otelcol_receiver_refused_log_records": "counter {receiver, transport}; 0 from the start",
    "otelcol_exporter_sent_spans": "counter {exporter}",
    "otelcol_exporter_sent_metric_points": "counter {exporter}",
    "otelcol_exporter_sent_log_records": "counter {exporter}",
    "otelcol_exporter_send_failed_spans": "counter {exporter, error_type, error_permanent}; fault only",
    "otelcol_exporter_send_failed_metric_points": "counter, as above; fault only",
    "otelcol_exporter_send_failed_log_records": "counter, as above; fault only",
    "otelcol_exporter_enqueue_failed_spans": "counter {exporter}; fault only",
    "otelcol_exporter_enqueue_failed_metric_points": "counter {exporter}; fault only",
    "otelcol_exporter_enqueue_failed_log_records": "counter {exporter}; fault only",
    "otelcol_exporter_queue_size": "gauge {exporter, data_type}; only exporters with a sending_queue",
    "otelcol_exporter_queue_capacity": "gauge {exporter, data_type}; only exporters with a sending_queue",
    "otelcol_process_memory_rss": "gauge, bytes",
    "otelcol_process_cpu_seconds": "counter, seconds",
    "otelcol_process_uptime": "counter, seconds",
}

# --------------------------------------------------------------------------------------------
# PromQL: metric names of an expression

_AGGREGATIONS = frozenset(
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk "
    "limit_ratio".split()
)
_KEYWORDS = frozenset(
    "by without on ignoring group_left group_right bool and or unless offset atan2 inf nan".split()
)
_LABEL_LIST_KEYWORDS = frozenset("by without on ignoring group_left group_right".split())

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>(?:0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?:ms|[smhdwy])?
                (?:\d+(?:ms|[smhdwy]))*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){}\[\],@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(expr: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot tokenize PromQL at {pos}: {expr[pos:pos + 30]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind not in ("space", "comment"):
            out.append(_Token(kind, m.group()))
    return out


def _check_balanced(tokens: list[_Token]) -> None:
    pairs = {")": "(", "}": "{", "]": "["}
    stack: list[str] = []
    for tok in tokens:
        if tok.kind != "op":
            continue
        if tok.text in ("(", "{", "["):
            stack.append(tok.text)
        elif tok.text in pairs:
            if not stack or stack.pop() != pairs[tok.text]:
                raise ValueError(f"unbalanced {tok.text!r}")
    if stack:
        raise ValueError(f"unclosed {stack[-1]!r}")


def _skip_group(tokens: list[_Token], i: int, open_: str, close: str) -> int:
    """Index just past the group that opens at tokens[i] (which is ``open_``)."""
    depth = 0
    while i < len(tokens):
        if tokens[i].text == open_:
            depth += 1
        elif tokens[i].text == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced {open_}{close}")


def _name_matchers(tokens: list[_Token], start: int, end: int) -> set[str]:
    """``__name__="x"`` matchers inside the braces tokens[start:end]."""
    names = set()
    for j in range(start, end - 2):
        if tokens[j].text == "__name__" and tokens[j + 1].text == "=" and tokens[j + 2].kind == "string":
            names.add(tokens[j + 2].text[1:-1])
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names (including recording-rule names) that a PromQL expression selects.

    Function and aggregation names, keywords, label names (in matchers and in by/without/on/
    ignoring/group_left/group_right lists), strings and durations are not metric names.
    """
    tokens = _tokens(expr)
    _check_balanced(tokens)
    names: set[str] = set()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if tok.text == "{":
            end = _skip_group(tokens, i, "{", "}")
            names |= _name_matchers(tokens, i, end)
            i = end
            continue
        if tok.text == "[":
            i = _skip_group(tokens, i, "[", "]")
            continue
        if tok.kind != "ident":
            i += 1
            continue
        word = tok.text
        if word in _LABEL_LIST_KEYWORDS:
            i = _skip_group(tokens, i + 1, "(", ")") if nxt == "(" else i + 1
            continue
        if word.lower() in _KEYWORDS:
            i += 1
            continue
        if nxt == "(" or (word in _AGGREGATIONS and nxt in ("by", "without")):
            i += 1  # a function or an aggregation
            continue
        names.add(word)
        i += 1
    return names


# --------------------------------------------------------------------------------------------
# Grafana: variables and macros

#: Values for Grafana's built-in interval macros when an expression is evaluated outside Grafana.
GRAFANA_MACROS: Mapping[str, str] = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__interval_ms": "60000",
}

_VARIABLE = re.compile(
    r"\$\{(?P<braced>[A-Za-z0-9_]+)(?::[A-Za-z0-9_]+)?\}"  # ${name} and ${name:format}
    r"|\[\[(?P<bracket>[A-Za-z0-9_]+)(?::[A-Za-z0-9_]+)?\]\]"  # [[name]] (deprecated syntax)
    r"|\$(?P<plain>[A-Za-z0-9_]+)"  # $name
)


def substitute_variables(expr: str, values: Mapping[str, str] | None = None, default: str = ".+") -> str:
    """Replace Grafana macros and dashboard variables in ``expr``.

    ``values`` maps variable names to the text to put in their place (for the live test: the
    demo's job, ``.+`` for instance and route); unknown variables become ``default``, which
    suits the regex matchers (``=~``) the dashboards use for every variable.
    """
    given = dict(GRAFANA_MACROS)
    given.update(values or {})

    def repl(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("bracket") or m.group("plain")
        return given.get(name, default)

    return _VARIABLE.sub(repl, expr)


_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<args>.*)\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<query>.*)\)\s*$", re.S)


def variable_query_expression(query: str) -> str | None:
    """The PromQL inside a Prometheus template-variable query, or None if it reads no metric.

    ``label_values(selector, label)`` yields the selector, ``label_values(label)`` nothing,
    ``query_result(expr)`` the expression, and ``metrics(...)``/``label_names()`` nothing.
    """
    m = _LABEL_VALUES.match(query)
    if m:
        args = m.group("args")
        depth = 0
        for pos, ch in enumerate(args):
            if ch in "({[":
                depth += 1
            elif ch in ")}]":
                depth -= 1
            elif ch == "," and depth == 0:
                return args[:pos].strip()
        return None
    m = _QUERY_RESULT.match(query)
    if m:
        return m.group("query").strip()
    return None


# --------------------------------------------------------------------------------------------
# Collecting expressions


@dataclass(frozen=True)
class Expression:
    """One PromQL expression and where it comes from."""

    source: str  # file name relative to the repository
    where: str  # rule name, or dashboard panel/variable title
    expr: str


def rule_expressions(rules_dir: Path = RULES_DIR) -> Iterator[Expression]:
    """Every recording rule and alert expression of prometheus/rules/*.yml."""
    for path in sorted(rules_dir.glob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                name = rule.get("record") or rule.get("alert")
                yield Expression(str(path.relative_to(ROOT)), name, str(rule["expr"]))


def recording_rule_names(rules_dir: Path = RULES_DIR) -> set[str]:
    """The metric names that recording rules produce."""
    names = set()
    for path in sorted(rules_dir.glob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for group in doc.get("groups", []):
            names |= {rule["record"] for rule in group.get("rules", []) if "record" in rule}
    return names


def iter_panels(panels: list[dict]) -> Iterator[dict]:
    """All panels of a dashboard, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def _is_prometheus(datasource: object) -> bool:
    return isinstance(datasource, dict) and datasource.get("type") == "prometheus"


def dashboard_expressions(
    dashboards_dir: Path = DASHBOARDS_DIR, values: Mapping[str, str] | None = None
) -> Iterator[Expression]:
    """Every Prometheus query of grafana/dashboards/*.json, variables substituted.

    Panel targets and template-variable queries both count. Queries to other data sources
    (Elasticsearch, Tempo) are not PromQL and are skipped.
    """
    for path in sorted(dashboards_dir.glob("*.json")):
        dashboard = json.loads(path.read_text())
        source = str(path.relative_to(ROOT))
        for var in dashboard.get("templating", {}).get("list", []):
            if var.get("type") != "query" or not _is_prometheus(var.get("datasource")):
                continue
            query = var.get("query")
            if isinstance(query, dict):
                query = query.get("query", "")
            inner = variable_query_expression(str(query or var.get("definition", "")))
            if inner:
                yield Expression(source, f"variable {var['name']}", substitute_variables(inner, values))
        for panel in iter_panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                datasource = target.get("datasource", panel.get("datasource"))
                if _is_prometheus(datasource) and target.get("expr"):
                    yield Expression(
                        source, f"panel {panel.get('title', panel.get('id'))}", substitute_variables(target["expr"], values)
                    )


def referenced_metrics(
    rules_dir: Path = RULES_DIR, dashboards_dir: Path = DASHBOARDS_DIR
) -> dict[str, list[Expression]]:
    """Each raw metric name used by a rule or a dashboard, with the expressions that use it.

    Names produced by recording rules are left out: they exist when the rules run, and the
    raw names they are computed from are in the result.
    """
    recorded = recording_rule_names(rules_dir)
    found: dict[str, list[Expression]] = {}
    for expression in [*rule_expressions(rules_dir), *dashboard_expressions(dashboards_dir)]:
        for name in metric_names(expression.expr):
            if name not in recorded:
                found.setdefault(name, []).append(expression)
    return found


# --------------------------------------------------------------------------------------------
# docs/metrics.md


def documented_metrics(doc: Path = METRICS_DOC) -> dict[str, str]:
    """Each OTel instrument of the table in docs/metrics.md, with its "Prometheus series" cell."""
    text = doc.read_text().split("## The metrics", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9_.]+)` \|[^|]+\|[^|]*\|[^|]*\|([^|]+)\|", text, re.M)
    return {name: prometheus.strip() for name, prometheus in rows}


def prometheus_series(cell: str) -> list[str]:
    """The series names a "Prometheus series" cell states: "`x_seconds_bucket`, `_sum`,
    `_count`" are x_seconds_bucket, x_seconds_sum and x_seconds_count."""
    names = re.findall(r"`([A-Za-z0-9_:]+)`", cell)
    if not names:
        return []
    first, suffixes = names[0], [n for n in names[1:] if n.startswith("_")]
    base = first.rsplit("_", 1)[0] if suffixes else first
    return [first, *(base + suffix for suffix in suffixes)]
