"""Building blocks for tests that run the real Alertmanager with prometheus/alertmanager.yml.

The shipped configuration sends to a webhook relay on 127.0.0.1:9095 and reads bearer tokens
from /etc/alertmanager/secrets (docs/alerting.md). A test cannot rely on either, so
:func:`render_alertmanager_config` rewrites just those two things, keeping the routing,
grouping and inhibition under test exactly as shipped, and :class:`WebhookRecorder` is the
receiver the test runs.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

from tests.naming_contract import ROOT

ALERTMANAGER_CONFIG = ROOT / "prometheus" / "alertmanager.yml"


def render_alertmanager_config(
    webhook_base_url: str, secrets_dir: Path, source: Path = ALERTMANAGER_CONFIG, group_wait: str | None = None
) -> tuple[str, dict[str, str]]:
    """The shipped Alertmanager configuration, pointed at a test webhook server.

    Every webhook URL keeps its path but gets the scheme, host and port of
    ``webhook_base_url``; every ``credentials_file`` is replaced by a file in ``secrets_dir``
    holding a fresh random token. ``group_wait`` (e.g. "1s") shortens the wait of every route
    so that a test does not sit through the production delays. Returns the YAML text and the
    token of each receiver, so the test can check the Authorization header it receives.
    """
    config = yaml.safe_load(source.read_text())
    base = urlsplit(webhook_base_url)
    tokens: dict[str, str] = {}
    secrets_dir.mkdir(parents=True, exist_ok=True)
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            url = urlsplit(hook["url"])
            hook["url"] = urlunsplit((base.scheme, base.netloc, url.path, url.query, ""))
            auth = hook.setdefault("http_config", {}).setdefault("authorization", {})
            token = tokens.setdefault(receiver["name"], secrets.token_hex(16))
            token_file = secrets_dir / f"{receiver['name']}.token"
            token_file.write_text(token)
            auth["credentials_file"] = str(token_file)
    if group_wait is not None:
        routes = [config["route"], *config["route"].get("routes", [])]
        for route in routes:
            route["group_wait"] = group_wait
            route["group_interval"] = group_wait
    return yaml.safe_dump(config, sort_keys=False), tokens


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


@dataclass
class WebhookRecorder:
    """A webhook receiver on 127.0.0.1 that records what Alertmanager posts to it."""

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

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
