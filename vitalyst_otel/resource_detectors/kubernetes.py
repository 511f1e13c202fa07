"""Kubernetes pod, namespace, node and container, from what the pod itself can see.

Sources, first found wins per attribute:
- the OpenTelemetry Operator's injected variables (``OTEL_RESOURCE_ATTRIBUTES_POD_NAME``,
  ``..._POD_UID``, ``..._NODE_NAME``);
- the downward-API variables common charts set (``K8S_POD_NAME``, ``K8S_NAMESPACE_NAME`` /
  ``K8S_POD_NAMESPACE`` / ``K8S_NAMESPACE``, ``K8S_NODE_NAME``, ``K8S_POD_UID``,
  ``K8S_CONTAINER_NAME``; ``POD_NAME``, ``POD_NAMESPACE``, ``NODE_NAME``);
- the service-account namespace file, and the host name as the pod name (a pod's host name is
  its name unless the spec sets one).
Outside Kubernetes (no ``KUBERNETES_SERVICE_HOST`` and none of the variables) it detects nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

from opentelemetry.sdk.resources import Resource, ResourceDetector
from opentelemetry.semconv._incubating.attributes import k8s_attributes as k8s

NAMESPACE_FILE = "var/run/secrets/kubernetes.io/serviceaccount/namespace"

SOURCES: dict[str, tuple[str, ...]] = {
    k8s.K8S_POD_NAME: ("OTEL_RESOURCE_ATTRIBUTES_POD_NAME", "K8S_POD_NAME", "POD_NAME"),
    k8s.K8S_POD_UID: ("OTEL_RESOURCE_ATTRIBUTES_POD_UID", "K8S_POD_UID", "POD_UID"),
    k8s.K8S_NAMESPACE_NAME: ("K8S_NAMESPACE_NAME", "K8S_POD_NAMESPACE", "K8S_NAMESPACE", "POD_NAMESPACE"),
    k8s.K8S_NODE_NAME: ("OTEL_RESOURCE_ATTRIBUTES_NODE_NAME", "K8S_NODE_NAME", "NODE_NAME"),
    k8s.K8S_CONTAINER_NAME: ("K8S_CONTAINER_NAME",),
}


class KubernetesDetector(ResourceDetector):
    def __init__(self, environ: Mapping[str, str] | None = None, root: str = "/", hostname: str | None = None):
        super().__init__()
        self.environ = os.environ if environ is None else environ
        self.root = Path(root)
        self.hostname = hostname

    def detect(self) -> Resource:
        env = self.environ
        attributes: dict[str, str] = {}
        for attribute, names in SOURCES.items():
            value = next((env[n].strip() for n in names if env.get(n, "").strip()), None)
            if value:
                attributes[attribute] = value
        in_cluster = bool(env.get("KUBERNETES_SERVICE_HOST")) or bool(attributes)
        if not in_cluster:
            return Resource.get_empty()
        if k8s.K8S_NAMESPACE_NAME not in attributes:
            try:
                namespace = (self.root / NAMESPACE_FILE).read_text(encoding="utf-8").strip()
            except OSError:
                namespace = ""
            if namespace:
                attributes[k8s.K8S_NAMESPACE_NAME] = namespace
        if k8s.K8S_POD_NAME not in attributes:
            attributes[k8s.K8S_POD_NAME] = self.hostname or env.get("HOSTNAME") or socket.gethostname()
        return Resource(attributes)
