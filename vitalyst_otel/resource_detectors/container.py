"""``container.id`` from the process's own view of its cgroups (no runtime socket, no network).

cgroup v1 names the container in ``/proc/self/cgroup`` (``/docker/<id>``,
``/kubepods/.../<id>``, ``cri-containerd-<id>.scope``). Under cgroup v2 with a private cgroup
namespace that file says only ``0::/``; the runtime's bind mounts of ``/etc/hostname`` and
``/etc/resolv.conf`` in ``/proc/self/mountinfo`` still carry the id
(``/var/lib/docker/containers/<id>/hostname``, ``.../sandboxes/<id>/...``).
"""

from __future__ import annotations

import re
from pathlib import Path

from opentelemetry.sdk.resources import Resource, ResourceDetector
from opentelemetry.semconv._incubating.attributes.container_attributes import CONTAINER_ID

_ID = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")
_MOUNT_MARKERS = ("/containers/", "/sandboxes/", "/overlay-containers/")


def container_id(root: str = "/") -> str | None:
    base = Path(root)
    try:
        for line in (base / "proc/self/cgroup").read_text(encoding="utf-8", errors="replace").splitlines():
            match = _ID.search(line.rsplit(":", 1)[-1])
            if match:
                return match.group(1)
    except OSError:
        pass
    try:
        for line in (base / "proc/self/mountinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if any(marker in line for marker in _MOUNT_MARKERS):
                match = _ID.search(line)
                if match:
                    return match.group(1)
    except OSError:
        pass
    return None


class ContainerDetector(ResourceDetector):
    def __init__(self, root: str = "/"):
        super().__init__()
        self.root = root

    def detect(self) -> Resource:
        found = container_id(self.root)
        return Resource({CONTAINER_ID: found}) if found else Resource.get_empty()
