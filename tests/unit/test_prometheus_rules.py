"""Prometheus rules and Alertmanager routing: syntax (promtool, amtool), rule unit tests, the
annotation and runbook conventions of docs/alerting.md, and the test coverage of every alert.

promtool and amtool come from Debian's prometheus and prometheus-alertmanager packages: on a
laptop without them these tests skip, under CI=true they fail (tests/conftest.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.alerting_support import render_alertmanager_config
from tests.conftest import require
from tests.naming_contract import ROOT, metric_names, recording_rule_names

RULES_DIR = ROOT / "prometheus" / "rules"
RULE_TESTS_DIR = ROOT / "prometheus" / "tests"
ALERTMANAGER_CONFIG = ROOT / "prometheus" / "alertmanager.yml"
RUNBOOKS_DIR = ROOT / "docs" / "runbooks"

RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
RULE_TEST_FILES = sorted(RULE_TESTS_DIR.glob("*_test.yml"))
SEVERITIES = {"critical", "warning"}
RUNBOOK_SECTIONS = ("## What it means", "## How to confirm", "## What to do")


def _alerts() -> list[dict]:
    alerts = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            alerts += [dict(rule, _file=path.name) for rule in group["rules"] if "alert" in rule]
    return alerts


ALERTS = _alerts()
ALERT_IDS = [alert["alert"] for alert in ALERTS]


def _tool(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed (Debian: prometheus / prometheus-alertmanager)")
    return path  # type: ignore[return-value]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)


# --------------------------------------------------------------------------------------------
# promtool


def test_there_are_rules_and_tests() -> None:
    assert RULE_FILES, "no rule files in prometheus/rules"
    assert RULE_TEST_FILES, "no promtool tests in prometheus/tests"
    assert len(ALERTS) >= 15


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    result = _run(_tool("promtool"), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", RULE_TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules(path: Path) -> None:
    result = _run(_tool("promtool"), "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_file_has_a_test_file() -> None:
    tested = set()
    for path in RULE_TEST_FILES:
        for rule_file in yaml.safe_load(path.read_text())["rule_files"]:
            tested.add((path.parent / rule_file).resolve())
    assert {p.resolve() for p in RULE_FILES} <= tested


def _alert_cases() -> dict[str, dict[str, int]]:
    cases: dict[str, dict[str, int]] = {}
    for path in RULE_TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                kind = "firing" if case.get("exp_alerts") else "quiet"
                counts = cases.setdefault(case["alertname"], {"firing": 0, "quiet": 0})
                counts[kind] += 1
    return cases


@pytest.mark.parametrize("name", ALERT_IDS)
def test_every_alert_has_a_firing_and_a_quiet_case(name: str) -> None:
    counts = _alert_cases().get(name, {"firing": 0, "quiet": 0})
    assert counts["firing"] >= 1, f"{name}: no promtool case where it fires"
    assert counts["quiet"] >= 1, f"{name}: no promtool case where it stays quiet"


def test_rule_tests_name_only_existing_alerts() -> None:
    assert set(_alert_cases()) <= set(ALERT_IDS)


# --------------------------------------------------------------------------------------------
# Conventions (docs/alerting.md)


def test_alert_names_are_unique() -> None:
    assert len(ALERT_IDS) == len(set(ALERT_IDS))


@pytest.mark.parametrize("alert", ALERTS, ids=ALERT_IDS)
def test_alert_has_for_severity_and_annotations(alert: dict) -> None:
    name = alert["alert"]
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), f"{name}: alert names are CamelCase"
    assert re.fullmatch(r"\d+[smh]", str(alert.get("for", ""))), f"{name}: needs a `for` duration"
    assert alert.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity must be one of {SEVERITIES}"
    annotations = alert.get("annotations", {})
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key), f"{name}: missing annotation {key}"
    assert "$value" in annotations["description"], f"{name}: the description must state the value"
    assert annotations["runbook_url"] == f"docs/runbooks/{name}.md"


@pytest.mark.parametrize("alert", ALERTS, ids=ALERT_IDS)
def test_runbook_exists_with_its_sections(alert: dict) -> None:
    path = ROOT / alert["annotations"]["runbook_url"]
    assert path.is_file(), f"missing runbook {path.relative_to(ROOT)}"
    text = path.read_text()
    assert text.startswith(f"# {alert['alert']}"), f"{path.name}: first line must be '# {alert['alert']}'"
    for section in RUNBOOK_SECTIONS:
        assert section in text, f"{path.name}: missing section '{section}'"


def test_no_runbook_without_an_alert() -> None:
    runbooks = {p.stem for p in RUNBOOKS_DIR.glob("*.md") if p.name != "README.md"}
    assert runbooks <= set(ALERT_IDS), f"runbooks for alerts that do not exist: {runbooks - set(ALERT_IDS)}"


@pytest.mark.parametrize("alert", ALERTS, ids=ALERT_IDS)
def test_alert_expressions_aggregate_before_use(alert: dict) -> None:
    """Raw series carry instance and otel_scope_* labels; alerts read recorded or aggregated series.

    A raw metric name may appear in an alert only inside an aggregation (`sum by`, `max by`,
    `count by`, ...) or in `up`/`absent`, so that restarts and instrumentation scopes do not
    split alerts.
    """
    expr = str(alert["expr"])
    raw = metric_names(expr) - recording_rule_names(RULES_DIR) - {"up"}
    for name in raw:
        for m in re.finditer(rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr):
            before = expr[: m.start()]
            assert re.search(r"\b(sum|max|min|count|avg|group) by \([^)]*\)\s*\((\w+\()?$", before), (
                f"{alert['alert']}: {name} is used without an aggregation"
            )


def test_recording_rules_are_defined_before_use_in_the_same_group() -> None:
    """Rules of one group run in order; across groups an alert may read the previous evaluation."""
    all_recorded = recording_rule_names(RULES_DIR)
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            seen: set[str] = set()
            for rule in group["rules"]:
                used = metric_names(str(rule["expr"])) & all_recorded
                assert used <= seen, f"{path.name}: {rule.get('alert') or rule.get('record')} reads {used - seen} from elsewhere"
                if "record" in rule:
                    seen.add(rule["record"])


def test_security_alerts_carry_the_security_category() -> None:
    for alert in ALERTS:
        if alert["_file"] == "security.yml":
            assert alert["labels"].get("category") == "security", alert["alert"]


# --------------------------------------------------------------------------------------------
# Alertmanager


def test_amtool_check_config() -> None:
    result = _run(_tool("amtool"), "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "alertname=CollectorDown"], "pager"),
        (["severity=warning", "alertname=HighRequestLatencyP95"], "chat"),
        (["severity=warning", "category=security", "alertname=AuthFailureSpike"], "security,chat"),
        (["severity=critical", "category=security"], "security,pager"),
        (["alertname=Unlabelled"], "chat"),
    ],
)
def test_alertmanager_routes(labels: list[str], receivers: str) -> None:
    result = _run(
        _tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
        f"--verify.receivers={receivers}", *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_severity_has_a_route() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    routed = {m for route in config["route"]["routes"] for m in route.get("matchers", [])}
    for severity in SEVERITIES:
        assert f'severity="{severity}"' in routed


def test_alertmanager_receivers_read_secrets_from_files() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            assert hook["http_config"]["authorization"]["credentials_file"], receiver["name"]
            assert "credentials" not in hook["http_config"]["authorization"], "no inline secrets"


def test_inhibition_names_existing_alerts() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    names = set(ALERT_IDS)
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            m = re.fullmatch(r'alertname(=~|=)"(.*)"', matcher)
            if m:
                pattern = m.group(2) if m.group(1) == "=~" else re.escape(m.group(2))
                assert any(re.fullmatch(pattern, n) for n in names), matcher


def test_rendered_test_config_keeps_routing_and_is_valid(tmp_path: Path) -> None:
    """The configuration the Alertmanager tests run: same routes, local webhook, token files."""
    text, tokens = render_alertmanager_config("http://127.0.0.1:8099", tmp_path / "secrets", group_wait="1s")
    rendered = yaml.safe_load(text)
    shipped = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    assert rendered["inhibit_rules"] == shipped["inhibit_rules"]
    assert [r.get("matchers") for r in rendered["route"]["routes"]] == [r.get("matchers") for r in shipped["route"]["routes"]]
    for receiver in rendered["receivers"]:
        hook = receiver["webhook_configs"][0]
        assert hook["url"] == f"http://127.0.0.1:8099/alerts/{receiver['name']}"
        token_file = Path(hook["http_config"]["authorization"]["credentials_file"])
        assert token_file.read_text() == tokens[receiver["name"]]
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    result = _run(_tool("amtool"), "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
