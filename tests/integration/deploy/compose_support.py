"""A compose project of deploy/compose on the real Docker daemon, for the tests: up --wait,
published ports, scale, kill, start, down; Prometheus' configuration rendered for a test (short
interval, rules with short `for`) and checked with promtool."""

from __future__ import annotations

import json
import secrets
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import require
from tests.deploy_support import CI_OVERRIDE, PRODUCTION, ROOT, docker_compose, write_secrets
from tests.integration.e2e_support import DEMO_CREDENTIALS


def render_prometheus(target: Path, interval: str = "2s", for_factor: float = 60) -> Path:
    """prometheus/prometheus.yml with ``interval`` as scrape and evaluation interval, and
    prometheus/rules with every group at that interval and every ``for`` divided by
    ``for_factor``, into ``target`` (laid out as prometheus/: prometheus.yml + rules/)."""
    from devstack.alerting import render_rules
    from tests.alerting_support import shorter_for

    target.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval=interval, evaluation_interval=interval)
    (target / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    render_rules(ROOT / "prometheus" / "rules", target / "rules", interval, shorter_for(for_factor))
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool is not installed (apt-get install prometheus)")
    checked = subprocess.run([str(promtool), "check", "config", str(target / "prometheus.yml")],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and "rules found" in checked.stdout, checked.stdout + checked.stderr
    return target


# The certificates each collector tier serves, by secret name: its subject alternative names.
# The agent's also carries the names a host client uses on its published ports.
TLS_SERVERS = {"gateway": "DNS:gateway", "agent": "DNS:otelcol,DNS:localhost,IP:127.0.0.1"}


def write_tls_certificates(secrets_dir: Path) -> None:
    """A CA made for this test (gateway_tls_ca, agent_tls_ca) and, signed by it, each tier's
    certificate and key (<tier>_tls_cert, <tier>_tls_key), with openssl, into the secrets
    directory. The keys are readable by the collector's user (uid 10001) through the bind mount."""
    require(shutil.which("openssl") is not None, "openssl is not installed (apt-get install openssl)")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=secrets_dir, check=True, capture_output=True, timeout=60)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1")
    openssl("req", "-x509", *key, "-subj", "/CN=vitalyst compose test CA", "-keyout", "ca.key", "-out", "ca.pem")
    for tier, names in TLS_SERVERS.items():
        openssl("req", "-x509", *key, "-subj", f"/CN={names.split(',')[0][4:]}", "-addext", f"subjectAltName={names}",
                "-addext", "extendedKeyUsage=serverAuth", "-addext", "basicConstraints=critical,CA:FALSE",
                "-CA", "ca.pem", "-CAkey", "ca.key", "-keyout", f"{tier}_tls_key", "-out", f"{tier}_tls_cert")
        (secrets_dir / f"{tier}_tls_key").chmod(0o644)
        (secrets_dir / f"{tier}_tls_ca").write_bytes((secrets_dir / "ca.pem").read_bytes())
    (secrets_dir / "ca.key").unlink()
    (secrets_dir / "ca.pem").unlink()


@dataclass
class ComposeProject:
    """One project (its own name, network and volumes) of compose.yaml + the CI override."""

    state: Path
    name: str = field(default_factory=lambda: "vitalyst-test-" + secrets.token_hex(3))
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.command = docker_compose()
        self.secrets = write_secrets(self.state / "secrets", {
            "otlp_client_headers": "",  # set below from the bearer token
        })
        token = self.secrets["otlp_bearer_token"]
        (self.state / "secrets" / "otlp_client_headers").write_text(f"Authorization=Bearer%20{token}")
        write_tls_certificates(self.state / "secrets")
        self.secrets.update({f"{tier}_tls_{part}": (self.state / "secrets" / f"{tier}_tls_{part}").read_text()
                             for tier in TLS_SERVERS for part in ("cert", "key", "ca")})
        self.env = {
            "VITALYST_SECRETS_DIR": str(self.state / "secrets"),
            "VITALYST_CI_PROMETHEUS_DIR": str(render_prometheus(self.state / "prometheus")),
            "VITALYST_DEMO_BIND": "127.0.0.1:", "VITALYST_OTLP_GRPC_BIND": "127.0.0.1:",
            "VITALYST_OTLP_HTTP_BIND": "127.0.0.1:", "VITALYST_GRAFANA_BIND": "127.0.0.1:",
            "VITALYST_ENVIRONMENT": "ci", **DEMO_CREDENTIALS, **self.extra_env,
        }

    def run(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        import os

        argv = [*self.command, "-p", self.name, "-f", str(PRODUCTION), "-f", str(CI_OVERRIDE), *args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **self.env})
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}\n"
                                 + self.logs())
        return result

    def up(self, *services: str, timeout: int = 300) -> None:
        self.run("up", "--detach", "--wait", "--wait-timeout", str(timeout), *services, timeout=timeout + 60)

    def down(self, volumes: bool = False) -> None:
        self.run("down", "--timeout", "20", *(["--volumes"] if volumes else []), check=False, timeout=300)

    def url(self, service: str, port: int, scheme: str = "http") -> str:
        """<scheme>://127.0.0.1:<published port> of a service's container port (first replica)."""
        out = self.run("port", service, str(port)).stdout.strip().splitlines()[0]
        return f"{scheme}://" + out.replace("0.0.0.0", "127.0.0.1")

    def agent_tls(self) -> ssl.SSLContext:
        """A client context that trusts the agent's certificate (the agent_tls_ca secret)."""
        return ssl.create_default_context(cafile=str(self.state / "secrets" / "agent_tls_ca"))

    def containers(self, service: str) -> list[dict[str, Any]]:
        out = self.run("ps", "--format", "json", service).stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return [r for row in rows for r in (row if isinstance(row, list) else [row])]

    def logs(self, *services: str) -> str:
        import os

        argv = [*self.command, "-p", self.name, "-f", str(PRODUCTION), "-f", str(CI_OVERRIDE), "logs",
                "--no-color", "--tail", "40", *services]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, env={**os.environ, **self.env})
        return result.stdout[-6000:]


@contextmanager
def running_project(state: Path) -> Iterator[ComposeProject]:
    """A project brought up with every service healthy, removed with its volumes afterwards."""
    project = ComposeProject(state)
    try:
        project.up()
        yield project
    finally:
        project.down(volumes=True)
