"""The images on the real daemon: the collector image validates every shipped configuration
inside itself, runs as non-root from a static binary, and reports healthy through its
HEALTHCHECK; python-app-base and the demo run as non-root under the launcher."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.integration.test_collector_distribution import SHIPPED

pytestmark = pytest.mark.integration


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def _inspect(image: str) -> dict:
    result = _docker("image", "inspect", image)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


@pytest.mark.parametrize("files,env", SHIPPED, ids=["+".join(f) for f, _ in SHIPPED])
def test_collector_image_validates_every_shipped_config(images, files, env) -> None:
    from pathlib import Path

    files_in_env = [v for v in env.values() if v.startswith("/") and Path(v).is_file()]  # e.g. a kubeconfig
    args = ["run", "--rm", *(a for k, v in env.items() for a in ("-e", f"{k}={v}")),
            *(a for f in files_in_env for a in ("-v", f"{f}:{f}:ro")), images["vitalyst-otelcol"],
            "validate", *(f"--config=/etc/vitalyst-otelcol/{f}" for f in files)]
    result = _docker(*args)
    assert result.returncode == 0, result.stderr


def test_collector_image_is_static_non_root_and_labelled(images) -> None:
    config = _inspect(images["vitalyst-otelcol"])["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/usr/local/bin/vitalyst-otelcol"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    # FROM scratch: nothing but the binaries, the configs, the CA bundle and the user database.
    result = _docker("run", "--rm", "--entrypoint", "/bin/sh", images["vitalyst-otelcol"], "-c", "true")
    assert result.returncode != 0, "the collector image has a shell"


def test_every_built_image_carries_the_build_labels(images) -> None:
    """The labels deploy/images/build.sh fills in: the package version and the commit built."""
    for name, ref in images.items():
        labels = _inspect(ref)["Config"]["Labels"]
        assert labels["org.opencontainers.image.version"] == "0.1.0", name
        assert labels["org.opencontainers.image.revision"] not in ("", "unknown"), name
        assert labels["org.opencontainers.image.created"][:2] == "20", name
        assert labels["org.opencontainers.image.licenses"], name


def test_collector_image_reports_healthy_and_refuses_a_bad_config(images) -> None:
    name = "vitalyst-test-otelcol-health"
    _docker("rm", "-f", name)
    started = _docker("run", "-d", "--name", name, images["vitalyst-otelcol"])
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 90
        status = ""
        while time.monotonic() < deadline:
            status = _docker("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip()
            if status == "healthy":
                break
            time.sleep(1)
        assert status == "healthy", _docker("logs", name).stderr[-2000:]
    finally:
        _docker("rm", "-f", name)
    broken = _docker("run", "--rm", "-e", "VITALYST_OTELCOL_MEMORY_LIMIT_MIB=lots", images["vitalyst-otelcol"],
                     "validate", "--config=/etc/vitalyst-otelcol/config.yaml")
    assert broken.returncode != 0


@pytest.mark.parametrize("name", ["python-app-base", "vitalyst-demo"])
def test_python_images_run_the_launcher_as_non_root(images, name) -> None:
    config = _inspect(images[name])["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/usr/local/bin/vitalyst-entrypoint"]
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_SEMCONV_STABILITY_OPT_IN"] == "http"
    result = _docker("run", "--rm", images[name], "python", "-c",
                     "import os, vitalyst_otel; print('RESULT', os.getuid(), vitalyst_otel.current() is not None)")
    assert result.returncode == 0, result.stderr
    # stdout also carries the JSON log lines (an export warning: no collector here).
    answer = [line.split()[1:] for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert answer == [["10001", "True"]], "configured by the launcher before the command ran"


def test_headers_file_is_read_into_the_otlp_headers(images, tmp_path) -> None:
    secret = tmp_path / "headers"
    secret.write_text("Authorization=Bearer%20from-a-file")
    secret.chmod(0o644)
    result = _docker("run", "--rm", "-v", f"{secret}:/run/secrets/h:ro", "-e",
                     "OTEL_EXPORTER_OTLP_HEADERS_FILE=/run/secrets/h", "-e", "OTEL_SDK_DISABLED=true",
                     images["python-app-base"], "python", "-c",
                     "import os; print(os.environ['OTEL_EXPORTER_OTLP_HEADERS'], 'OTEL_EXPORTER_OTLP_HEADERS_FILE' in os.environ)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Authorization=Bearer%20from-a-file", "False"]
