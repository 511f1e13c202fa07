"""Fixtures of the Docker tests: a daemon that answers (tools/docker/daemon.sh starts one where
it can) and the images of deploy/images built on it (deploy/images/build.sh, cached layers).
Without Docker they skip on a laptop and fail under CI=true (tests.conftest.require)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import require
from tests.deploy_support import ROOT, docker_compose


@pytest.fixture(scope="session")
def docker_daemon() -> None:
    require(shutil.which("docker") is not None, "the docker CLI is not installed (Debian: docker.io)")
    result = subprocess.run(["bash", str(ROOT / "tools/docker/daemon.sh")], capture_output=True, text=True,
                            timeout=900)
    require(result.returncode == 0, f"no Docker daemon: {result.stderr.strip()[-500:]}")
    docker_compose()
    buildkit = subprocess.run(["bash", str(ROOT / "tools/docker/buildkit-build.sh"), "--check"], capture_output=True,
                              text=True, timeout=30)
    require(buildkit.returncode == 0, f"no BuildKit client: {buildkit.stderr.strip()}")


@pytest.fixture(scope="session")
def images(docker_daemon) -> dict[str, str]:
    """{deploy/images directory: image reference} of every image, built with tag "local"."""
    require(shutil.which("go") is not None, "go is not installed: the collector and Jaeger cannot be built")
    result = subprocess.run(["bash", str(ROOT / "deploy/images/build.sh")], capture_output=True, text=True,
                            timeout=3600)
    assert result.returncode == 0, result.stderr[-4000:]
    built = result.stdout.split()
    return {ref.split("/")[-1].split(":")[0]: ref for ref in built}
