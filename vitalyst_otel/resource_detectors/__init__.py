"""Resource detectors: cheap and local (environment variables and files under /proc and
/var/run), never a network call at start-up.

Ours, registered as ``opentelemetry_resource_detector`` entry points like the SDK's own:

=======================  ==================================================================
``vitalyst_kubernetes``   pod, namespace, node, container from downward-API variables, the
                          service-account namespace file and ``KUBERNETES_SERVICE_HOST``
``vitalyst_container``    ``container.id`` from cgroup v1 paths or cgroup v2 mountinfo
``vitalyst_aws``          ECS and Lambda from their environment
``vitalyst_gcp``          Cloud Run (services and jobs) and Cloud Functions from theirs
``vitalyst_azure``        App Service and Functions from theirs
=======================  ==================================================================

``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS`` chooses among these and any other installed entry point
(the SDK's ``host``, ``os``, ``process``, contrib's detectors); :func:`detect` runs them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from opentelemetry.sdk.resources import Resource

from vitalyst_otel.config.variables import DEFAULT_RESOURCE_DETECTORS

GROUP = "opentelemetry_resource_detector"
OURS = DEFAULT_RESOURCE_DETECTORS  # the default of OTEL_EXPERIMENTAL_RESOURCE_DETECTORS
# Ours load without scanning the installed distributions' entry points (that scan costs a
# hundred milliseconds and more in a large environment); the same targets as in pyproject.toml.
_OWN_TARGETS = {
    "vitalyst_kubernetes": "vitalyst_otel.resource_detectors.kubernetes:KubernetesDetector",
    "vitalyst_container": "vitalyst_otel.resource_detectors.container:ContainerDetector",
    "vitalyst_aws": "vitalyst_otel.resource_detectors.cloud:AwsDetector",
    "vitalyst_gcp": "vitalyst_otel.resource_detectors.cloud:GcpDetector",
    "vitalyst_azure": "vitalyst_otel.resource_detectors.cloud:AzureDetector",
}
# Handled by the distribution itself: OTEL_RESOURCE_ATTRIBUTES through the settings (so a
# configuration file can replace it), service.instance.id always (and again after fork).
BUILT_IN = ("otel", "service_instance")
FOREIGN_TIMEOUT_S = 1.0

_log = logging.getLogger("vitalyst_otel")


def installed() -> dict[str, object]:
    """Entry-point name -> entry point, for every installed resource detector."""
    return {point.name: point for point in entry_points(group=GROUP)}


def detect(names: Iterable[str]) -> Resource:
    """The merged resource of the detectors ``names`` (later ones win on a conflict). An unknown
    name or a failing detector is reported once and skipped; a detector that is not ours gets
    FOREIGN_TIMEOUT_S to answer."""
    names = [name for name in dict.fromkeys(names) if name not in BUILT_IN]
    if not names:
        return Resource.get_empty()
    own = {name: EntryPoint(name, target, GROUP) for name, target in _OWN_TARGETS.items()}
    available = own if set(names) <= set(own) else {**installed(), **own}
    if "*" in names:
        names = [n for n in names if n != "*"] + sorted(set(available) - set(names) - set(BUILT_IN))
    resource = Resource.get_empty()
    for name in names:
        point = available.get(name)
        if point is None:
            _log.warning("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS names %r, which is not an installed "
                         "resource detector (installed: %s); it is left out.",
                         name, ", ".join(sorted(set(available) - set(BUILT_IN))))
            continue
        found = _run(name, point, bounded=name not in OURS)
        if found is not None:
            resource = resource.merge(found)
    return resource


def _run(name: str, point, bounded: bool) -> Resource | None:
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(point.load()().detect())
        except Exception as exc:  # noqa: BLE001 - a detector must not stop the app
            outcome.append(exc)

    if bounded:
        thread = threading.Thread(target=run, name=f"vitalyst-otel-detector-{name}", daemon=True)
        thread.start()
        thread.join(FOREIGN_TIMEOUT_S)
    else:
        run()
    if not outcome:
        _log.warning("Resource detector %r did not answer within %.1f s; it is left out.", name, FOREIGN_TIMEOUT_S)
        return None
    if isinstance(outcome[0], Exception):
        _log.warning("Resource detector %r failed (%s: %s); it is left out.", name,
                     type(outcome[0]).__name__, outcome[0])
        return None
    return outcome[0] if isinstance(outcome[0], Resource) else None
