"""What the deployment tests share: the Dockerfiles and compose files of deploy/, the docker
CLI with its compose plugin (tools/docker/build.sh), and the configuration each compose service
mounts, resolved by the compose-go loader (`docker compose config`, no daemon needed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "deploy" / "images"
COMPOSE_DIR = ROOT / "deploy" / "compose"
PRODUCTION = COMPOSE_DIR / "compose.yaml"
CI_OVERRIDE = COMPOSE_DIR / "compose.ci.yaml"
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))
# The images a deployment uses (ghcr.io/vitalyst/<name>); the rest of deploy/images are CI stand-ins.
PRODUCT_IMAGES = ("vitalyst-otelcol", "python-app-base", "vitalyst-demo", "autoinstrumentation-python")
# Every secret compose.yaml reads from VITALYST_SECRETS_DIR.
SECRETS = ("otlp_bearer_token", "otlp_client_headers", "alertmanager_pager_token", "alertmanager_chat_token",
           "alertmanager_security_token", "grafana_admin_password", "gateway_tls_cert", "gateway_tls_key",
           "gateway_tls_ca", "agent_tls_cert", "agent_tls_key", "agent_tls_ca")
COLLECTOR_CONFIG_DIR = "/etc/vitalyst-otelcol/"  # where the vitalyst-otelcol image has collector/


def docker_compose() -> list[str]:
    """The compose v2 command (`docker compose`), built by tools/docker/build.sh where missing;
    skips (laptop) or fails (CI) when neither works."""
    docker = shutil.which("docker")
    require(docker is not None, "the docker CLI is not installed (Debian: docker.io)")
    assert docker is not None

    def works() -> bool:
        return subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0

    if not works() and shutil.which("go"):
        subprocess.run(["bash", str(ROOT / "tools/docker/build.sh")], capture_output=True, timeout=3000)
    require(works(), "the docker compose plugin is missing (make tools, or tools/docker/build.sh)")
    return [docker, "compose"]


def write_secrets(directory: Path, values: dict[str, str] | None = None) -> dict[str, str]:
    """A secrets directory for compose.yaml: every secret it names, as given or random."""
    import secrets as random

    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in SECRETS:
        value = (values or {}).get(name) or random.token_urlsafe(24)
        (directory / name).write_text(value)
        written[name] = value
    return written


def compose_config(files: list[Path], env: dict[str, str]) -> dict[str, Any]:
    """The compose project as the compose-go loader resolves it (merged, interpolated, paths
    absolute), without a daemon."""
    command = docker_compose()
    args = [*command]
    for f in files:
        args += ["-f", str(f)]
    result = subprocess.run([*args, "config", "--format", "json"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def collector_configs(service: dict[str, Any]) -> list[Path]:
    """The repository files a collector service runs: its --config arguments mapped back from the
    image's /etc/vitalyst-otelcol/ to collector/."""
    configs = []
    for arg in service.get("command") or []:
        value = arg.split("=", 1)[1] if arg.startswith("--config=") else None
        if value is None:
            continue
        assert value.startswith(COLLECTOR_CONFIG_DIR), value
        configs.append(ROOT / "collector" / value[len(COLLECTOR_CONFIG_DIR):])
    return configs


def mounted(service: dict[str, Any], target: str) -> Path:
    """The host path a service mounts at ``target``."""
    for volume in service.get("volumes") or []:
        if volume.get("target") == target and volume.get("type") == "bind":
            return Path(volume["source"])
    raise AssertionError(f"nothing is mounted at {target}: {service.get('volumes')}")
