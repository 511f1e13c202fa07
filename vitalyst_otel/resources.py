"""The resource every signal carries: who is sending, from where, as which process.

Host and process runtime always; then the detectors of OTEL_EXPERIMENTAL_RESOURCE_DETECTORS
(by default ours, which read only the environment and local files: Kubernetes, container id,
AWS, GCP, Azure; see :mod:`vitalyst_otel.resource_detectors`): no network call at start-up.
``service.instance.id`` comes from the SDK's process-dependent detector, which the SDK providers re-run after ``fork()``, so every prefork worker reports its own instance.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import socket
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from importlib.machinery import all_suffixes

from opentelemetry.sdk.resources import Resource, ServiceInstanceIdResourceDetector

from vitalyst_otel.resource_detectors import detect

DISTRO_NAME = "vitalyst-otel"


def distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def build_resource(configured: Mapping[str, str], service_name: str, detectors: Iterable[str] = ()) -> Resource:
    attributes: dict[str, str | int] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": distribution_version("opentelemetry-sdk") or "unknown",
        "telemetry.distro.name": DISTRO_NAME,
        "telemetry.distro.version": distribution_version(DISTRO_NAME) or "unknown",
        "host.name": socket.gethostname(),
        "host.arch": platform.machine().lower(),
        "os.type": sys.platform,
        "process.runtime.name": sys.implementation.name,
        "process.runtime.version": platform.python_version(),
    }
    attributes.update(detect(detectors).attributes)
    attributes.update(configured)
    if "service.version" not in attributes:
        version = distribution_version(service_name)
        if version:
            attributes["service.version"] = version
    return for_this_process(Resource(attributes))


def for_this_process(resource: Resource) -> Resource:
    """``resource`` with this process's ``service.instance.id`` (the SDK's detector draws one per
    pid, so after a fork this is the id the SDK's providers take over too)."""
    return resource.merge(ServiceInstanceIdResourceDetector().detect())


_SERVERS = {"uvicorn", "gunicorn", "hypercorn", "granian", "daphne", "fastapi", "opentelemetry-instrument"}


def guess_service_name(argv: list[str] | None = None, main_module: str | None = None) -> str:
    """The distribution (or module) the program runs, so a service is never ``unknown_service``:
    ``uvicorn shop.api:app`` -> the distribution providing ``shop`` (or ``shop``),
    ``python -m vitalyst_otel.demo`` -> vitalyst-otel, ``python tool.py`` -> tool."""
    if argv is None:
        argv = list(sys.argv)
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        main_module = spec.name if spec is not None and spec.name else None
    program = os.path.basename(argv[0]).removesuffix(".py") if argv else ""
    module = None
    if program in _SERVERS or (main_module or "").split(".")[0] in _SERVERS:
        for arg in argv[1:]:
            if ":" in arg and not arg.startswith("-") and "/" not in arg:
                module = arg.split(":")[0].split(".")[0]
                break
    elif main_module:
        module = main_module.split(".")[0]
    elif program not in ("", "-c", "-m"):
        module = program
    if not module or module in ("__main__", "python", "python3"):
        return "python-service"
    return distribution_providing(module) or module.replace("_", "-")


@functools.lru_cache(maxsize=16)
def distribution_providing(module: str) -> str | None:
    """The first installed distribution that ships top-level ``module``, as
    ``importlib.metadata.packages_distributions()`` would say, without its cost: that builds a path
    object for every file of every distribution (0.4 s in a test environment of 200 packages, paid
    by each ``configure()`` with no service name). This reads ``top_level.txt`` where a
    distribution has one, else scans its RECORD as text."""
    try:
        for dist in metadata.distributions():
            top_level = dist.read_text("top_level.txt")
            if top_level:
                provides = module in top_level.split()
            else:
                provides = _record_ships(dist.read_text("RECORD") or "", module)
            if provides:
                return dist.metadata["Name"]
    except Exception:  # pragma: no cover - metadata of a broken environment
        pass
    return None


def _record_ships(record: str, module: str) -> bool:
    """Whether a RECORD lists ``module/...`` or a top-level ``module.py`` / ``module.<abi>.so``."""
    for match in re.finditer(rf"^{re.escape(module)}(/|\.[^/,\n]*,)", record, re.MULTILINE):
        path = match.group(0)[:-1]
        if match.group(1) == "/" or any(path == module + suffix for suffix in all_suffixes()):
            return True
    return False
