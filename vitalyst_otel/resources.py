"""The resource every signal carries: who is sending, from where, as which process.

Host and process runtime always; then the detectors of OTEL_EXPERIMENTAL_RESOURCE_DETECTORS
(by default ours, which read only the environment and local files: Kubernetes, container id,
AWS, GCP, Azure; see :mod:`vitalyst_otel.resource_detectors`): no network call at start-up. ``service.instance.id`` comes from the SDK's process-dependent detector, which the
SDK providers re-run after ``fork()``, so every prefork worker reports its own instance.
"""

from __future__ import annotations

import platform
import socket
import sys
from importlib import metadata

from opentelemetry.sdk.resources import Resource, ServiceInstanceIdResourceDetector

from vitalyst_otel.resource_detectors import detect
from vitalyst_otel.settings import Settings

DISTRO_NAME = "vitalyst-otel"

def distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
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
    detected = detect(settings.resource_detectors)
    attributes.update(detected.attributes)
    attributes.update(settings.resource_attributes)
    if "service.version" not in attributes:
        version = distribution_version(settings.service_name)
        if version:
            attributes["service.version"] = version
    instance = ServiceInstanceIdResourceDetector().detect()
    return instance.merge(Resource(attributes))
