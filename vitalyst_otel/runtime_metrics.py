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


def memory_limit(root: str = "/sys/fs/cgroup") -> int | None:
    """The memory limit of this process's cgroup in bytes, or None when there is none."""
    for path in (f"{root}/memory.max", f"{root}/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text == "max":
            return None
        try:
            value = int(text)
        except ValueError:
            return None
        return None if value >= _UNLIMITED else value
    return None


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

    def uninstall(self) -> None:
        self.instrumentor.uninstrument()
