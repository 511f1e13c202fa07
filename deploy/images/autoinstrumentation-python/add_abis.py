"""Make a ``pip install --target`` directory work on several CPython versions.

The Operator copies one directory into every instrumented pod, whatever Python the application
runs. Pure-Python packages work on all of them; a compiled extension (orjson, psutil, wrapt, ...)
only on the interpreter it was built for. For every installed distribution that holds a
compiled extension, this downloads the same release's binary wheel for each other Python version
and adds its extension modules beside the ones already there (``mod.cpython-311-...so`` and
``mod.cpython-312-...so`` coexist; each interpreter loads its own). A version with no binary
wheel for some package fails the build, naming both.

    python3 add_abis.py TARGET_DIR 3.12 3.13
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from importlib.metadata import distributions
from pathlib import Path

PLATFORMS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_28_x86_64")


def compiled(target: Path) -> dict[str, str]:
    """{distribution name: version} of the distributions under ``target`` with a .so file."""
    found = {}
    for dist in distributions(path=[str(target)]):
        if any(str(f).endswith(".so") for f in dist.files or ()):
            found[dist.metadata["Name"]] = dist.version
    return found


def add(target: Path, python_version: str, packages: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--python-version", python_version, *platforms, "--dest", tmp,
                   *(f"{name}=={version}" for name, version in sorted(packages.items()))]
        if subprocess.run(command, check=False).returncode != 0:
            raise SystemExit(f"add_abis: no binary wheels of {sorted(packages)} for CPython {python_version}")
        for wheel in Path(tmp).glob("*.whl"):
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.namelist():
                    if member.endswith(".so") or ".libs/" in member:  # extensions and their vendored libraries
                        archive.extract(member, target)


def main(argv: list[str]) -> int:
    target, versions = Path(argv[0]), argv[1:]
    packages = compiled(target)
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    for version in versions:
        if version != current:
            add(target, version, packages)
    print(f"add_abis: {', '.join(sorted(packages))} now for CPython {', '.join(sorted({current, *versions}))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
