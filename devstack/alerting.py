"""The stack's copies of prometheus/alertmanager.yml and prometheus/rules/*.yml.

Alertmanager: the shipped configuration sends every receiver's notifications to a webhook relay
on 127.0.0.1:9095 with a bearer token read from /etc/alertmanager/secrets/<receiver>.token
(docs/alerting.md). The stack keeps the routing, grouping and inhibition exactly as shipped and
changes only where the notifications go (the relay's address) and where the tokens are read
from, plus, on request, the grouping delays (a test does not sit through 30 s of group_wait).

Rules: each group's own ``interval`` is replaced by the stack's evaluation interval, so that the
stack evaluates the rules as often as it scrapes (the shipped 1m would make a short test wait
for minutes). Expressions, ``for`` durations and labels are untouched.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from devstack.binaries import MissingPart


def _yaml() -> Any:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml comes with the test extra
        raise MissingPart("the stack renders the Prometheus and Alertmanager files with PyYAML: "
                          "pip install pyyaml") from exc
    return yaml


def _token(path: Path, create: bool) -> str:
    """The token in ``path``; a missing file gets a fresh random token (mode 0600) if ``create``."""
    if path.is_file():
        token = path.read_text().strip()
        if token:
            return token
    if not create:
        raise MissingPart(f"no bearer token in {path}: Alertmanager would send an empty one")
    token = secrets.token_hex(16)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    return token


def render_alertmanager_config(source: Path, webhook_base_url: str, token_dir: Path,
                               group_wait: str | None = None, create_tokens: bool = True) -> tuple[str, dict[str, str]]:
    """``source`` with every webhook sent to ``webhook_base_url`` and every token read from
    ``token_dir``.

    Each webhook URL keeps its path (``/alerts/<receiver>``) and takes the scheme, host and port
    of ``webhook_base_url``; each ``credentials_file`` becomes the file of the same name in
    ``token_dir`` (missing ones are created with a random token when ``create_tokens``).
    ``group_wait`` (e.g. "1s") replaces group_wait and group_interval on every route.
    Returns the YAML text and each receiver's token, so a relay can check what it receives.
    """
    if not source.is_file():
        raise MissingPart(f"{source} is missing: the stack runs the shipped Alertmanager routing")
    config = _yaml().safe_load(source.read_text())
    base = urlsplit(webhook_base_url)
    tokens: dict[str, str] = {}
    for receiver in config.get("receivers") or []:
        for hook in receiver.get("webhook_configs") or []:
            url = urlsplit(hook["url"])
            hook["url"] = urlunsplit((base.scheme, base.netloc, url.path, url.query, ""))
            auth = hook.setdefault("http_config", {}).setdefault("authorization", {})
            shipped = auth.get("credentials_file") or f"{receiver['name']}.token"
            token_file = Path(token_dir).resolve() / Path(shipped).name
            tokens[receiver["name"]] = _token(token_file, create_tokens)
            auth["credentials_file"] = str(token_file)
    if group_wait is not None:
        for route in [config["route"], *config["route"].get("routes", [])]:
            route["group_wait"] = group_wait
            route["group_interval"] = group_wait
    return _yaml().safe_dump(config, sort_keys=False), tokens


def render_rules(source_dir: Path, target_dir: Path, evaluation_interval: str,
                 edit: Callable[[dict[str, Any]], None] | None = None) -> list[Path]:
    """Copy every ``*.yml`` of ``source_dir`` into ``target_dir`` with each group's interval set to
    ``evaluation_interval``; ``edit`` may change each rule further (tests). Files of
    ``target_dir`` that have no source any more are removed. Returns the written files."""
    yaml = _yaml()
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(source_dir.glob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for group in doc.get("groups") or []:
            group["interval"] = evaluation_interval
            for rule in group.get("rules") or []:
                if edit is not None:
                    edit(rule)
        out = target_dir / path.name
        out.write_text(f"# Rendered by `python -m devstack` from {path}; edit that file instead.\n"
                       + yaml.safe_dump(doc, sort_keys=False))
        written.append(out)
    for stale in set(target_dir.glob("*.yml")) - set(written):
        stale.unlink()
    return written
