"""Two OpenTelemetry distributions installed side by side: the real opentelemetry-distro package
next to ours, under the real opentelemetry-instrument launcher."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require

BIN = Path(sys.executable).parent
PROBE = "import vitalyst_otel; print('VITALYST_CONFIGURED', vitalyst_otel.current() is not None)"


@pytest.fixture(scope="module")
def other_distro(tmp_path_factory):
    target = tmp_path_factory.mktemp("other-distro")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                             "opentelemetry-distro>=0.66b0,<1"], capture_output=True, text=True, timeout=300)
    require(result.returncode == 0, f"opentelemetry-distro could not be installed from PyPI: {result.stderr[-300:]}")
    return target


def launch(other_distro, **extra_env):
    environment = {**os.environ, "PYTHONPATH": str(other_distro), "OTEL_TRACES_EXPORTER": "console",
                   "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", **extra_env}
    return subprocess.run([str(BIN / "opentelemetry-instrument"), sys.executable, "-c", PROBE],
                          capture_output=True, text=True, env=environment, timeout=120)


def test_an_accidental_choice_is_reported_once_per_kind(other_distro):
    result = launch(other_distro)
    output = result.stdout + result.stderr
    assert output.count("OTEL_PYTHON_DISTRO=vitalyst") == 1
    assert output.count("OTEL_PYTHON_CONFIGURATOR=vitalyst") == 1
    assert "distro" in output and "vitalyst" in output


def test_the_launcher_using_the_other_distro_is_reported(other_distro):
    result = launch(other_distro, OTEL_PYTHON_DISTRO="distro", OTEL_PYTHON_CONFIGURATOR="configurator")
    output = result.stdout + result.stderr
    assert "VITALYST_CONFIGURED False" in output  # the other distro's configurator ran, not ours
    assert "did not load vitalyst_otel's distro" in output
    assert "OTEL_PYTHON_DISTRO=vitalyst" in output and "OTEL_PYTHON_CONFIGURATOR=vitalyst" in output


def test_naming_ours_makes_the_launcher_use_it_without_warnings(other_distro):
    result = launch(other_distro, OTEL_PYTHON_DISTRO="vitalyst", OTEL_PYTHON_CONFIGURATOR="vitalyst")
    output = result.stdout + result.stderr
    assert "VITALYST_CONFIGURED True" in output, output
    assert "did not load" not in output and "Several OpenTelemetry" not in output
