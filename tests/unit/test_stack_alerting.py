"""The stack's copies of the rules and of the Alertmanager configuration (devstack/alerting.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.alerting_support import seconds, shorter_for
from tests.naming_contract import ROOT, RULES_DIR
from devstack.alerting import render_alertmanager_config, render_rules
from devstack.binaries import MissingPart

SHIPPED = ROOT / "prometheus" / "alertmanager.yml"


def test_rules_keep_everything_but_the_group_interval(tmp_path: Path) -> None:
    (tmp_path / "gone.yml").write_text("groups: []\n")
    written = render_rules(RULES_DIR, tmp_path, "1s")
    assert sorted(p.name for p in written) == sorted(p.name for p in RULES_DIR.glob("*.yml"))
    assert not (tmp_path / "gone.yml").exists()
    for path in written:
        shipped = yaml.safe_load((RULES_DIR / path.name).read_text())
        rendered = yaml.safe_load(path.read_text())
        for before, after in zip(shipped["groups"], rendered["groups"], strict=True):
            assert after["interval"] == "1s"
            assert after["rules"] == before["rules"]


def test_shorter_for_divides_every_for_and_nothing_else(tmp_path: Path) -> None:
    render_rules(RULES_DIR, tmp_path, "1s", shorter_for(60))
    rendered = yaml.safe_load((tmp_path / "business.yml").read_text())["groups"][0]["rules"]
    shipped = yaml.safe_load((RULES_DIR / "business.yml").read_text())["groups"][0]["rules"]
    by_name = {r.get("alert"): r for r in rendered}
    assert by_name["AIEnrichmentFailureRatioHigh"]["for"] == "10s"  # 10m
    for before, after in zip(shipped, rendered, strict=True):
        assert {k: v for k, v in after.items() if k != "for"} == {k: v for k, v in before.items() if k != "for"}
    assert seconds("1h30m") == 5400 and seconds("500ms") == 0.5
    with pytest.raises(ValueError):
        seconds("10 minutes")


def test_alertmanager_config_for_the_stack(tmp_path: Path) -> None:
    text, tokens = render_alertmanager_config(SHIPPED, "http://127.0.0.1:9195", tmp_path / "secrets")
    rendered, shipped = yaml.safe_load(text), yaml.safe_load(SHIPPED.read_text())
    assert rendered["route"] == shipped["route"] and rendered["inhibit_rules"] == shipped["inhibit_rules"]
    assert set(tokens) == {"pager", "chat", "security"}
    for receiver in rendered["receivers"]:
        hook = receiver["webhook_configs"][0]
        assert hook["url"] == f"http://127.0.0.1:9195/alerts/{receiver['name']}"
        token_file = Path(hook["http_config"]["authorization"]["credentials_file"])
        assert token_file == (tmp_path / "secrets" / f"{receiver['name']}.token").resolve()
        assert token_file.stat().st_mode & 0o077 == 0
    # A second rendering keeps the tokens it finds.
    assert render_alertmanager_config(SHIPPED, "http://127.0.0.1:9195", tmp_path / "secrets")[1] == tokens


def test_a_given_token_directory_must_hold_every_token(tmp_path: Path) -> None:
    (tmp_path / "pager.token").write_text("p" * 32)
    with pytest.raises(MissingPart, match="chat.token"):
        render_alertmanager_config(SHIPPED, "http://127.0.0.1:9095", tmp_path, create_tokens=False)
