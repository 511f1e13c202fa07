"""deploy/ without a daemon: every Dockerfile passes hadolint and our images carry the OCI
labels; both compose files match the compose-spec schema and load with the compose-go loader;
the loaded project has the production shape (pinned images, volumes for state, health checks,
secrets as files); the CI override replaces every image with one built here; and every
configuration the services mount validates with its own tool."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require
from tests.deploy_support import (
    CI_OVERRIDE, COLLECTOR_CONFIG_DIR, COMPOSE_DIR, DOCKERFILES, IMAGES, PRODUCT_IMAGES, PRODUCTION, ROOT, collector_configs,
    compose_config, mounted, write_secrets,
)

STATEFUL = {  # service: where its state lives
    "otelcol": "/var/lib/vitalyst-otelcol/queue", "prometheus": "/prometheus", "alertmanager": "/alertmanager",
    "grafana": "/var/lib/grafana", "tempo": "/var/tempo", "elasticsearch": "/usr/share/elasticsearch/data",
    "demo": "/var/lib/vitalyst/audit",
}


def _tool(name: str) -> str:
    found = shutil.which(name) or (str(Path(sys.executable).with_name(name))
                                   if Path(sys.executable).with_name(name).exists() else None)
    require(found is not None, f"{name} is not installed (pip install -e '.[test]')")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def secrets_env(tmp_path_factory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("secrets")
    write_secrets(directory)
    return {"VITALYST_SECRETS_DIR": str(directory)}


@pytest.fixture(scope="module")
def production(secrets_env) -> dict:
    return compose_config([PRODUCTION], secrets_env)


@pytest.fixture(scope="module")
def ci(secrets_env) -> dict:
    return compose_config([PRODUCTION, CI_OVERRIDE], secrets_env)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[d.parent.name for d in DOCKERFILES])
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = subprocess.run([_tool("hadolint"), "--no-color", str(dockerfile)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _labels(dockerfile: Path) -> dict[str, str]:
    return dict(re.findall(r'(org\.opencontainers\.image\.[a-z]+)="([^"]*)"', dockerfile.read_text()))


@pytest.mark.parametrize("name", PRODUCT_IMAGES)
def test_our_images_carry_oci_labels_with_the_package_version(name: str) -> None:
    text = (IMAGES / name / "Dockerfile").read_text()
    labels = _labels(IMAGES / name / "Dockerfile")
    assert {"title", "version", "revision", "created", "source", "licenses"} <= {k.rsplit(".", 1)[1] for k in labels}
    assert labels["org.opencontainers.image.title"] == name
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    project_version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert re.search(rf"^ARG VERSION={re.escape(project_version)}$", text, re.M), "ARG VERSION default"


CI_DOCKERFILES = [d for d in DOCKERFILES if d.parent.name not in PRODUCT_IMAGES]


@pytest.mark.parametrize("dockerfile", CI_DOCKERFILES, ids=[d.parent.name for d in CI_DOCKERFILES])
def test_ci_images_name_themselves_and_the_licence_of_what_they_run(dockerfile: Path) -> None:
    """The build labels (version, revision, created, source) come from build.sh for these
    (tests/integration/deploy/test_images.py checks them on the built images)."""
    labels = _labels(dockerfile)
    assert labels["org.opencontainers.image.title"] == dockerfile.parent.name
    assert "CI" in labels["org.opencontainers.image.description"]
    assert labels["org.opencontainers.image.licenses"]


def test_compose_files_match_the_compose_spec_schema() -> None:
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                             str(PRODUCTION), str(CI_OVERRIDE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _tag(image: str) -> str:
    return image.rsplit("/", 1)[-1].partition(":")[2]


def test_production_pins_every_upstream_image_and_uses_our_version(production) -> None:
    for name, service in production["services"].items():
        image, tag = service["image"], _tag(service["image"])
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"
        if image.startswith("ghcr.io/vitalyst/"):
            assert tag == "0.1.0", f"{name}: {image}"


def test_production_keeps_state_on_named_volumes(production) -> None:
    for name, target in STATEFUL.items():
        volumes = {v["target"]: v for v in production["services"][name].get("volumes") or []}
        assert volumes.get(target, {}).get("type") == "volume", f"{name} keeps {target} on no named volume"


def test_production_shape_gateways_health_and_start_order(production) -> None:
    services = production["services"]
    assert services["gateway"]["deploy"]["replicas"] >= 2
    agent = services["otelcol"]
    assert [p.name for p in collector_configs(agent)] == ["config.yaml", "to-gateway.yaml", "gateway-dns.yaml",
                                                          "otlp-auth.yaml", "otlp-tls.yaml"]
    assert agent["environment"]["VITALYST_GATEWAY_DNS_NAME"] == "gateway"
    assert agent["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert services["demo"]["depends_on"]["otelcol"]["condition"] == "service_healthy"
    assert services["otelcol"]["depends_on"]["elasticsearch-setup"]["condition"] == "service_completed_successfully"
    for name in ("prometheus", "alertmanager", "elasticsearch"):
        assert services[name]["healthcheck"]["test"], name  # ours have theirs in the image (HEALTHCHECK)
    for binding in agent["ports"] + services["demo"]["ports"] + services["grafana"]["ports"]:
        assert binding["host_ip"] == "127.0.0.1", binding


def test_production_secrets_are_files_never_values(production, secrets_env) -> None:
    assert set(production["secrets"]) >= {"otlp_bearer_token", "grafana_admin_password"}
    for name, secret in production["secrets"].items():
        assert Path(secret["file"]).parent == Path(secrets_env["VITALYST_SECRETS_DIR"]), name
    text = PRODUCTION.read_text() + CI_OVERRIDE.read_text()
    for value in (Path(secrets_env["VITALYST_SECRETS_DIR"]) / name for name in production["secrets"]):
        assert value.read_text() not in text
    env = production["services"]["otelcol"]["environment"]
    assert env["VITALYST_OTLP_BEARER_TOKEN_FILE"] == "/run/secrets/otlp_bearer_token"
    assert "VITALYST_OTLP_BEARER_TOKEN" not in env
    assert production["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"]


def test_ci_override_runs_only_images_built_here(production, ci) -> None:
    running = ci["services"]  # the loader leaves out services of profiles not enabled
    assert set(production["services"]) - set(running) == {"grafana"}
    assert "Grafana is AGPL" in CI_OVERRIDE.read_text()
    for name, service in running.items():
        image = service["image"]
        assert image.endswith(":local") and service.get("pull_policy") == "never", f"{name}: {image}"
        assert image.startswith(("ghcr.io/vitalyst/", "vitalyst-ci/")), f"{name}: {image}"
    assert running["tempo"]["image"].startswith("vitalyst-ci/jaeger")
    assert running["elasticsearch"]["image"].startswith("vitalyst-ci/es-standin")
    for stand_in in ("Jaeger v2 (tools/jaeger) STANDS IN for Tempo", "bulk-API STAND-IN"):
        assert stand_in in CI_OVERRIDE.read_text()


def _receives_tls_from_secrets(service: dict, cert: str, key: str) -> None:
    assert COLLECTOR_CONFIG_DIR + "overlays/otlp-tls.yaml" in " ".join(service["command"])
    mounted_secrets = {s["source"]: s["target"] for s in service["secrets"]}  # absolute, as loaded
    assert service["environment"]["VITALYST_OTLP_TLS_CERT_FILE"] == mounted_secrets[cert]
    assert service["environment"]["VITALYST_OTLP_TLS_KEY_FILE"] == mounted_secrets[key]


def test_agent_to_gateway_is_tls_with_certificates_as_secrets(production) -> None:
    services = production["services"]
    agent = services["otelcol"]
    _receives_tls_from_secrets(services["gateway"], "gateway_tls_cert", "gateway_tls_key")
    assert agent["environment"]["VITALYST_GATEWAY_INSECURE"] == "false"
    assert agent["environment"]["VITALYST_GATEWAY_CA_FILE"] == "/run/secrets/gateway_tls_ca"
    assert "gateway_tls_ca" in {s["source"] for s in agent["secrets"]}
    assert agent["environment"]["VITALYST_GATEWAY_TLS_SERVER_NAME"] == "gateway"


def test_app_to_agent_is_tls_so_the_bearer_token_never_crosses_in_clear(production) -> None:
    """The services send their bearer token to the agent (whose ports are published on the host):
    only over HTTPS, checked against the agent's CA from a secret."""
    services = production["services"]
    _receives_tls_from_secrets(services["otelcol"], "agent_tls_cert", "agent_tls_key")
    demo = services["demo"]["environment"]
    assert demo["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://otelcol:4318"
    assert demo["OTEL_EXPORTER_OTLP_CERTIFICATE"] == "/run/secrets/agent_tls_ca"
    assert "agent_tls_ca" in {s["source"] for s in services["demo"]["secrets"]}
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in demo  # the token comes from the headers file


def test_gateways_get_the_time_to_drain_on_stop(production) -> None:
    """A replica decides and exports what it holds on SIGTERM (docs/deployment.md, scaling down):
    the grace period is longer than compose's default 10 s."""
    grace = production["services"]["gateway"]["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) >= 30, grace


@pytest.mark.parametrize("variant", ["production", "ci"])
def test_collector_configs_of_each_service_validate(request, variant, tmp_path) -> None:
    from devstack.binaries import MissingPart, collector_binary

    require(shutil.which("go") is not None, "go is not installed: vitalyst-otelcol cannot be built")
    try:
        binary = collector_binary(ROOT, quiet=True)
    except MissingPart as exc:
        require(False, str(exc))
        raise
    project = request.getfixturevalue(variant)
    token = tmp_path / "token"
    token.write_text("t" * 24)
    for name in ("otelcol", "gateway"):
        service = project["services"][name]
        configs = collector_configs(service)
        assert configs, name
        env = {k: v for k, v in service.get("environment", {}).items() if v is not None}
        env["VITALYST_OTLP_BEARER_TOKEN_FILE"] = str(token)  # the secret's mount point, here
        args = [str(binary), "validate", *(f"--config={c}" for c in configs)]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", **env})
        assert result.returncode == 0, f"{variant} {name}: {result.stderr}"


def test_prometheus_and_alertmanager_configs_pass_their_tools(production) -> None:
    promtool, amtool = _tool("promtool"), _tool("amtool")
    prometheus = production["services"]["prometheus"]
    config = mounted(prometheus, "/etc/prometheus/prometheus.yml")
    assert mounted(prometheus, "/etc/prometheus/rules") == config.parent / "rules"  # rule_files: rules/*.yml
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rules found" in result.stdout
    alertmanager = production["services"]["alertmanager"]
    config = mounted(alertmanager, "/etc/alertmanager/alertmanager.yml")
    result = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # The bearer token files alertmanager.yml reads are the compose secrets' targets.
    targets = {s["target"] for s in alertmanager["secrets"]}
    for path in re.findall(r"credentials_file: (\S+)", config.read_text()):
        assert path in targets


def test_elasticsearch_setup_keeps_audit_longer_than_logs() -> None:
    import json

    setup = COMPOSE_DIR / "elasticsearch"
    days = {}
    for name in ("logs", "audit"):
        policy = json.loads((setup / f"ilm-vitalyst-{name}.json").read_text())
        days[name] = int(policy["policy"]["phases"]["delete"]["min_age"].rstrip("d"))
        template = json.loads((setup / f"template-vitalyst-{name}.json").read_text())
        assert template["index_patterns"] == [f"{name}-vitalyst*"]
        assert template["template"]["settings"]["index.lifecycle.name"] == f"vitalyst-{name}"
    assert days["audit"] >= 365 > days["logs"]
