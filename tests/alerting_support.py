"""Building blocks for tests that run the real Alertmanager with prometheus/alertmanager.yml.

The shipped configuration sends to a webhook relay on 127.0.0.1:9095 and reads bearer tokens
from /etc/alertmanager/secrets (docs/alerting.md). A test cannot rely on either, so
:func:`render_alertmanager_config` rewrites just those two things, keeping the routing,
grouping and inhibition under test exactly as shipped, and :class:`WebhookRecorder` is the
receiver the test runs. The local stack renders the same way (its relay port and token
directory are options), so a test can also run the recorder on the session stack's relay port.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.naming_contract import ROOT
from devstack.alerting import render_alertmanager_config as stack_render

ALERTMANAGER_CONFIG = ROOT / "prometheus" / "alertmanager.yml"


def render_alertmanager_config(
    webhook_base_url: str, secrets_dir: Path, source: Path = ALERTMANAGER_CONFIG, group_wait: str | None = None
) -> tuple[str, dict[str, str]]:
    """The shipped Alertmanager configuration, pointed at a test webhook server, with the tokens
    of ``secrets_dir`` (random ones written where missing), by the stack's own renderer
    (devstack/alerting.py). Returns the YAML text and the token of each receiver."""
    return stack_render(source, webhook_base_url, secrets_dir, group_wait=group_wait)


_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def seconds(duration: str) -> float:
    """A Prometheus duration ("1h30m", "10m", "500ms") in seconds."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _SECONDS[u] for n, u in parts)


def shorter_for(factor: float = 60) -> Callable[[dict], None]:
    """A rule edit for ``Stack.render_rules``: every alert's ``for`` divided by ``factor`` (by
    default a minute becomes a second), at least one second. Nothing else changes."""

    def edit(rule: dict) -> None:
        if "for" in rule:
            rule["for"] = f"{max(1, round(seconds(str(rule['for'])) / factor))}s"

    return edit


@dataclass
class Delivery:
    """One webhook call Alertmanager made."""

    path: str
    authorization: str
    payload: dict

    @property
    def receiver(self) -> str:
        return str(self.payload.get("receiver", ""))

    @property
    def alertnames(self) -> set[str]:
        return {a["labels"].get("alertname", "") for a in self.payload.get("alerts", [])}

    def firing(self, alertname: str, **labels: str) -> list[dict]:
        """The firing alerts of this notification named ``alertname`` with these labels."""
        return [a for a in self.payload.get("alerts", [])
                if a.get("status") == "firing" and a["labels"].get("alertname") == alertname
                and all(a["labels"].get(k) == v for k, v in labels.items())]


@dataclass
class WebhookRecorder:
    """A webhook receiver on 127.0.0.1 that records what Alertmanager posts to it; on ``port``
    (e.g. the stack's relay port) or on a free one."""

    port: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> WebhookRecorder:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with recorder._lock:
                    recorder.deliveries.append(
                        Delivery(self.path, self.headers.get("Authorization", ""), json.loads(body or b"{}"))
                    )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def received(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)
