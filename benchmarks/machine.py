"""What the figures were measured on: CPU, cores, Python, package versions, the commit."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "vitalyst-otel", "fastapi", "starlette", "uvicorn", "h11", "httptools", "uvloop",
    "opentelemetry-api", "opentelemetry-sdk", "opentelemetry-instrumentation",
    "opentelemetry-instrumentation-fastapi", "opentelemetry-instrumentation-asgi",
    "opentelemetry-exporter-otlp-proto-http", "opentelemetry-exporter-otlp-proto-common",
    "opentelemetry-exporter-otlp-proto-grpc", "opentelemetry-proto", "protobuf", "grpcio",
    "prometheus-fastapi-instrumentator", "prometheus-client", "structlog", "orjson",
    "python-json-logger", "psutil",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(repo: Path) -> dict:
    def run(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": run("rev-parse", "HEAD"), "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
            "dirty": bool(status) if status is not None else None}


def wrk_version() -> str | None:
    try:
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=5)
    except OSError:
        return None
    return (out.stdout or out.stderr).splitlines()[0].strip() if (out.stdout or out.stderr) else None


def info(repo: Path) -> dict:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": list(load) if load else None,
        "packages": versions(),
        "git": git_state(repo),
        "wrk": wrk_version(),
    }
