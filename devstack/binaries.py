"""Where the stack's programs come from: the repository's build scripts (cached builds of our
collector and of Jaeger v2) and Debian's Prometheus and Alertmanager on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


class MissingPart(RuntimeError):
    """A program the stack needs is not available; the message says what to install."""


def repo_root(start: Path | None = None) -> Path:
    """The checkout holding collector/manifest.yaml: the working directory or one of its parents,
    else the one this package was installed from in development mode."""
    candidates = [start or Path.cwd()]
    candidates.append(Path(__file__).resolve().parents[1])
    for base in candidates:
        for directory in (base, *base.parents):
            if (directory / "collector" / "manifest.yaml").is_file():
                return directory
    raise MissingPart("no vitalyst-otel checkout found (collector/manifest.yaml); run from the repository")


def run_build_script(script: Path, quiet: bool = False) -> Path:
    """Run a build script that prints the built binary's path as its last stdout line."""
    if shutil.which("go") is None:
        raise MissingPart(f"go is not installed, so {script} cannot build")
    result = subprocess.run(
        ["bash", str(script)], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise MissingPart(f"{script} failed (exit {result.returncode})")
    binary = Path(lines[-1])
    if not os.access(binary, os.X_OK):
        raise MissingPart(f"{script} printed {binary}, which is not an executable")
    return binary


def _from_env_or_build(variable: str, root: Path, script: str, quiet: bool) -> Path:
    override = os.environ.get(variable)
    if override:
        path = Path(override)
        if not os.access(path, os.X_OK):
            raise MissingPart(f"{variable}={override} is not an executable")
        return path
    return run_build_script(root / script, quiet=quiet)


def collector_binary(root: Path, quiet: bool = False) -> Path:
    """vitalyst-otelcol: $VITALYST_OTELCOL_BIN, else collector/build.sh (cached by manifest hash)."""
    return _from_env_or_build("VITALYST_OTELCOL_BIN", root, "collector/build.sh", quiet)


def jaeger_binary(root: Path, quiet: bool = False) -> Path:
    """Jaeger v2: $VITALYST_JAEGER_BIN, else tools/jaeger/build.sh (cached by go.mod hash)."""
    return _from_env_or_build("VITALYST_JAEGER_BIN", root, "tools/jaeger/build.sh", quiet)


def system_binary(name: str, package: str) -> Path:
    found = shutil.which(name)
    if found is None:
        raise MissingPart(f"{name} is not on PATH (Debian: apt-get install {package})")
    return Path(found)


@dataclass(frozen=True)
class Binaries:
    collector: Path
    jaeger: Path
    prometheus: Path
    alertmanager: Path
    python: Path

    @classmethod
    def find(cls, root: Path, quiet: bool = False) -> Binaries:
        return cls(
            collector=collector_binary(root, quiet),
            jaeger=jaeger_binary(root, quiet),
            prometheus=system_binary("prometheus", "prometheus"),
            alertmanager=system_binary("prometheus-alertmanager", "prometheus-alertmanager"),
            python=Path(sys.executable),
        )
