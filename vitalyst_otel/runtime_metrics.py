"""Process and runtime metrics: a curated opentelemetry-instrumentation-system-metrics, plus the
container's memory limit so memory alerts can be a ratio of the limit.

Curated: the process.* metrics of the semantic conventions and CPython's GC metrics; not the
deprecated ``process.runtime.*`` duplicates; host-level ``system.*`` only with
VITALYST_HOST_METRICS=true (one host, many processes: usually the node exporter's job).
"""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

PROCESS_CONFIG: dict[str, list[str] | None] = {
    "process.cpu.time": ["user", "system"],
    "process.memory.usage": None,
    "process.memory.virtual": None,
    "process.thread.count": None,
    "process.open_file_descriptor.count": None,
    "process.context_switches": ["involuntary", "voluntary"],
    "cpython.gc.collections": None,
    "cpython.gc.collected_objects": None,
    "cpython.gc.uncollectable_objects": None,
}
HOST_CONFIG: dict[str, list[str] | None] = {
    "system.cpu.utilization": ["idle", "user", "system", "iowait"],
    "system.memory.usage": ["used", "free", "cached"],
    "system.memory.utilization": ["used", "free", "cached"],
    "system.network.io": ["transmit", "receive"],
    "system.disk.io": ["read", "write"],
}
_UNLIMITED = 1 << 60


def own_cgroups(proc_cgroup: str) -> tuple[str, str]:
    """This process's cgroup paths from /proc/self/cgroup: (cgroup v2, cgroup v1 memory)."""
    v2 = v1 = "/"
    try:
        with open(proc_cgroup, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return v2, v1
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            v2 = path or "/"
        elif "memory" in controllers.split(","):
            v1 = path or "/"
    return v2, v1


def _up_to_root(base: str, path: str, filename: str) -> list[str]:
    """``filename`` in the directory of cgroup ``path`` below ``base`` and in each one above it."""
    parts = [p for p in path.split("/") if p and p not in (".", "..")]
    return ["/".join([base, *parts[:depth], filename]) for depth in range(len(parts), -1, -1)]


def _read_limit(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as handle:
            value = int(handle.read().strip())
    except (OSError, ValueError):  # absent, or "max" (v2: no limit)
        return None
    return None if value >= _UNLIMITED else value


def memory_limit(root: str = "/sys/fs/cgroup", proc_cgroup: str = "/proc/self/cgroup") -> int | None:
    """The memory limit of this process in bytes, or None when there is none.

    The lowest limit of the process's own cgroup and of every cgroup above it (cgroup v2
    ``memory.max``, v1 ``memory/memory.limit_in_bytes``). In a container with its own cgroup
    namespace the own cgroup is the root of the mount; elsewhere (cgroup v1, the host's
    namespace, a child cgroup made for one process) /proc/self/cgroup says where it is, and
    directories the mount does not show are passed over.
    """
    v2, v1 = own_cgroups(proc_cgroup)
    candidates = [*_up_to_root(root, v2, "memory.max"), *_up_to_root(f"{root}/memory", v1, "memory.limit_in_bytes")]
    limits = [limit for limit in map(_read_limit, candidates) if limit is not None]
    return min(limits) if limits else None


class RuntimeMetrics:
    def __init__(self, meter_provider, host: bool = False, cgroup_root: str = "/sys/fs/cgroup"):
        from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

        config = {**PROCESS_CONFIG, **(HOST_CONFIG if host else {})}
        self.instrumentor = SystemMetricsInstrumentor(config=config)
        self.instrumentor.instrument(meter_provider=meter_provider)
        self.cgroup_root = cgroup_root
        meter = metrics.get_meter("vitalyst_otel", meter_provider=meter_provider)
        self.limit = meter.create_observable_gauge(
            "vitalyst.process.memory.limit", callbacks=[self._observe_limit], unit="By",
            description="Memory limit of the process's container (cgroup); absent when unlimited.")

    def _observe_limit(self, options: CallbackOptions):
        limit = memory_limit(self.cgroup_root)
        return [] if limit is None else [Observation(limit)]

    def after_fork(self) -> None:
        """The instrumentor measures the process it was created in: point it at this one."""
        import psutil

        self.instrumentor._proc = psutil.Process()
