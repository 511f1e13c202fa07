"""The distribution as users get it: ``python -m build`` makes the sdist and the wheel, ``twine
check`` accepts both, the wheel holds the product (``vitalyst_otel/``, the demo included) and
nothing else, and installed into a clean virtual environment it imports and runs
``vitalyst-otel doctor``. Needs PyPI (the build backend and the dependencies are downloaded)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "vitalyst_otel"


def run(argv: list, cwd=ROOT, env=None, timeout=600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{argv}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, ROOT])
    # The SPDX licence string: none of setuptools' deprecation warnings about the licence.
    output = built.stdout + built.stderr
    assert not [line for line in output.splitlines() if "deprecat" in line.lower() and "licen" in line.lower()]
    return out


def test_twine_accepts_the_sdist_and_the_wheel(dist):
    files = sorted(dist.iterdir())
    assert sorted(f.suffix for f in files) == [".gz", ".whl"], files
    run([sys.executable, "-m", "twine", "check", "--strict", *files])


def test_the_wheel_holds_the_product_and_nothing_else(dist):
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    info = [n for n in names if n.split("/")[0].endswith(".dist-info")]
    product = [n for n in names if n not in info]
    assert product and all(n.startswith("vitalyst_otel/") for n in product), \
        sorted({n.split("/")[0] for n in product})
    shipped = {n for n in product if n.endswith(".py")}
    in_tree = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py")}
    assert shipped == in_tree  # every module of the package, the demo included, and no other file
    assert "vitalyst_otel/demo/app.py" in shipped
    metadata = zipfile.ZipFile(wheel).read(next(n for n in info if n.endswith("/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    licence = next(n for n in info if n.endswith("licenses/LICENSE"))
    assert zipfile.ZipFile(wheel).read(licence).decode() == (ROOT / "LICENSE").read_text()


def test_the_wheel_installs_into_a_clean_venv_and_runs_the_doctor(dist, tmp_path):
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "-q", wheel], timeout=900)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VITALYST_", "PYTHON"))}
    env["OTEL_SERVICE_NAME"] = "wheel-check"
    imported = run([python, "-c", "import vitalyst_otel, sys; print(vitalyst_otel.__file__)"], cwd=tmp_path, env=env)
    assert imported.stdout.strip().startswith(str(venv))  # the installed copy, not the checkout
    doctor = run([venv / "bin" / "vitalyst-otel", "doctor", "--json"], cwd=tmp_path, env=env)
    report = json.loads(doctor.stdout)
    assert report["service.name"] == "wheel-check" and report["problems"] == []
    assert {row["variable"] for row in report["settings"]} >= {"OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER"}
