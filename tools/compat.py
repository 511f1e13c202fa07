"""Run the tests against the releases we claim to support (``make compat``; ``make test`` runs it).

One virtual environment per combination, built once and cached under
``~/.cache/vitalyst-otel/compat`` (keyed by the Python, the pins and the dependencies declared in pyproject.toml), then the
combination's tests in it:

- FastAPI: the oldest we claim, 0.136 (the last release before include_router stopped copying
  routes) and the newest (the main environment, ``make unit``/``make test``, already runs it);
- OpenTelemetry: the oldest SDK/API/instrumentation we claim (today the newest too, so the main
  environment covers both);
- Python 3.12 and 3.13 (the main environment is the project's own Python).

``python tools/compat.py --list`` shows the combinations; ``--only NAME`` runs one; ``--prepare``
only builds the environments (``make tools`` does that beside the Go builds, so that pip's
downloads overlap the compiles).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("VITALYST_COMPAT_CACHE", Path.home() / ".cache" / "vitalyst-otel" / "compat"))
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"

HTTP_TESTS = ["tests/unit/http", "tests/unit/test_health_routes.py",
              "tests/unit/config", "tests/integration/test_bigger_app.py"]
UNIT = ["tests/unit"]
COMPAT_TEST_TIMEOUT_S = 1200  # pyproject.toml's 300 s is for the main run
# OpenTelemetry: the floor (pyproject.toml says why) is today also the newest release, 1.45.2 /
# 0.66b2, so the main environment is the oldest-OpenTelemetry run too. When a newer release comes
# out, add a Combination here pinning the floor's packages.


@dataclass(frozen=True)
class Combination:
    name: str
    python: str  # "" for this interpreter, else a pyenv version prefix ("3.12")
    pins: tuple[str, ...] = ()
    tests: tuple[str, ...] = field(default_factory=lambda: tuple(UNIT))


COMBINATIONS = [
    Combination("fastapi-oldest", "", ("fastapi==0.110.*",), tuple(HTTP_TESTS)),
    Combination("fastapi-0.136", "", ("fastapi==0.136.*",), tuple(HTTP_TESTS)),
    Combination("python-3.12", "3.12"),
    Combination("python-3.13", "3.13"),
]


class MissingPython(Exception):
    pass


def interpreter(version: str) -> str:
    if not version:
        return sys.executable
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}")) or ([shutil.which(f"python{version}")]
                                                                     if shutil.which(f"python{version}") else [])
    if not found:
        raise MissingPython(f"Python {version} not found (pyenv under {PYENV}, or python{version} on PATH)")
    return str(found[-1])


def environment(combo: Combination) -> Path:
    python = interpreter(combo.python)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = json.dumps([project["dependencies"], project["optional-dependencies"]], sort_keys=True)
    key = hashlib.sha256("\n".join([python, str(ROOT), *combo.pins, requirements]).encode()).hexdigest()[:12]
    venv = CACHE / f"{combo.name}-{key}"
    if (venv / ".installed").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    constraints = venv / "constraints.txt"
    constraints.write_text("\n".join(combo.pins) + "\n")
    subprocess.run([*pip, "-c", str(constraints), "-e", f"{ROOT}[test]"], check=True, cwd=ROOT)
    (venv / ".installed").write_text("\n".join(combo.pins) + "\n")
    return venv


def run(combo: Combination, extra: list[str]) -> tuple[int, float, str]:
    started = time.monotonic()
    venv = environment(combo)
    built = time.monotonic() - started
    versions = subprocess.run([str(venv / "bin" / "python"), "-c",
                               "import sys, fastapi, opentelemetry.sdk.version as v; "
                               "print(sys.version.split()[0], 'fastapi', fastapi.__version__, 'sdk', v.__version__)"],
                              capture_output=True, text=True).stdout.strip()
    print(f"compat {combo.name}: {versions} (environment ready in {built:.0f} s)", flush=True)
    # The matrix runs at the lowest priority beside the suite and, on a fresh machine, the Go
    # builds: a test may wait minutes for a core, so the per-test limit (there for hangs) is wider
    # here. The property tests' examples are for the encoders, which the main run covers with the
    # full count; here they check the releases, and fewer do.
    environ = {**os.environ, "VITALYST_HYPOTHESIS_EXAMPLES": os.environ.get("VITALYST_HYPOTHESIS_EXAMPLES", "50")}
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--timeout={COMPAT_TEST_TIMEOUT_S}", *combo.tests, *extra], cwd=ROOT, env=environ)
    return done.returncode, time.monotonic() - started, versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run this combination (repeatable)")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--prepare", action="store_true",
                        help="only build the environments (make tools does, beside the Go builds)")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args(argv)
    chosen = [c for c in COMBINATIONS if not args.only or c.name in args.only]
    if args.list:
        for combo in chosen:
            print(f"{combo.name:<16} python {combo.python or 'current'}  {' '.join(combo.pins) or '(newest)'}")
        return 0
    if args.prepare:
        for combo in chosen:
            try:
                environment(combo)
            except MissingPython as missing:  # said again, and failed under CI=true, by the run itself
                print(f"compat {combo.name}: {missing}", flush=True)
        return 0
    results = []
    for combo in chosen:
        try:
            results.append((combo.name, *run(combo, args.pytest_args)))
        except MissingPython as missing:  # a laptop without pyenv: skipped; under CI=true a failure
            in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
            print(f"compat {combo.name}: {missing}" + ("" if in_ci else " (skipped)"), flush=True)
            results.append((combo.name, 1 if in_ci else 0, 0.0, "skipped: " + str(missing)))
    print("\ncompat summary")
    for name, code, seconds, versions in results:
        print(f"  {name:<16} {'ok' if code == 0 else 'FAILED':<7} {seconds:6.0f} s  {versions}")
    print(f"  total {sum(seconds for _, _, seconds, _ in results):.0f} s")
    return 0 if all(code == 0 for _, code, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
