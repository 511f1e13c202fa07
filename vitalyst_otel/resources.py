"""The resource every signal carries: who is sending, from where, as which process.

Only cheap local detectors run (host, process runtime, container id from /proc): no network call
at start-up. ``service.instance.id`` comes from the SDK's process-dependent detector, which the
SDK providers re-run after ``fork()``, so every prefork worker reports its own instance.
"""

from __future__ import annotations

import platform
import re
import socket
import sys
from importlib import metadata

from opentelemetry.sdk.resources import Resource, ServiceInstanceIdResourceDetector

from vitalyst_otel.settings import Settings

DISTRO_NAME = "vitalyst-otel"

_CONTAINER_ID = re.compile(r"([0-9a-f]{64})")


def distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def container_id() -> str | None:
    """The container id from cgroup v1 paths or, on cgroup v2, the mount of /etc/hostname."""
    for path, marker in (("/proc/self/cgroup", ""), ("/proc/self/mountinfo", "/containers/")):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if marker and marker not in line:
                        continue
                    match = _CONTAINER_ID.search(line)
                    if match:
                        return match.group(1)
        except OSError:
            continue
    return None


def build_resource(settings: Settings) -> Resource:
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
    cid = container_id()
    if cid:
        attributes["container.id"] = cid
    attributes.update(settings.resource_attributes)
    if "service.version" not in attributes:
        version = distribution_version(settings.service_name)
        if version:
            attributes["service.version"] = version
    instance = ServiceInstanceIdResourceDetector().detect()
    return instance.merge(Resource(attributes))
