"""Certificates made for one test with openssl: a CA of its own and what it signs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import require


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory: Path) -> None:
    """``ca.crt`` and ``ca.key`` in ``directory`` (created), valid for two days."""
    require(shutil.which("openssl") is not None, "openssl is not installed (apt-get install openssl)")
    directory.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=vitalyst-test-ca", cwd=directory)


def sign(directory: Path, name: str, subject: str, extensions: str | None = None) -> None:
    """``<name>.crt`` and ``<name>.key``, signed by the CA of :func:`make_ca`; ``extensions`` is
    openssl extension-file text (subjectAltName=..., extendedKeyUsage=...)."""
    ext: list[str] = []
    if extensions is not None:
        (directory / f"{name}.ext").write_text(extensions)
        ext = ["-extfile", f"{name}.ext"]
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", subject, cwd=directory)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", *ext, cwd=directory)
