"""Process and runtime metrics, plus the container's memory limit so memory alerts can be a
ratio of the limit.

The process.* metrics of the semantic conventions and CPython's GC metrics, under the names,
units, attributes and instrument kinds docs/metrics.md lists (what contrib's system-metrics
instrumentor produced before, without its deprecated ``process.runtime.*`` duplicates and
without importing it: it and psutil cost about 4 MiB of RSS). The figures come from
:mod:`vitalyst_otel.process_stats`; host-level ``system.*`` only with VITALYST_HOST_METRICS=true
(:mod:`vitalyst_otel.host_metrics`).
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from vitalyst_otel.process_stats import ProcessStats, process_stats

_log = logging.getLogger("vitalyst_otel")
Points = Iterator[tuple[float, dict[str, Any]]]
GC_GENERATION = "cpython.gc.generation"


def cpu_time(stats: ProcessStats) -> Points:
    user, system = stats.cpu_times()
    yield user, {"type": "user"}
    yield system, {"type": "system"}


def context_switches(stats: ProcessStats) -> Points:
    voluntary, involuntary = stats.context_switches()
    yield involuntary, {"type": "involuntary"}
    yield voluntary, {"type": "voluntary"}


def memory_usage(stats: ProcessStats) -> Points:
    yield stats.memory()[0], {}


def memory_virtual(stats: ProcessStats) -> Points:
    yield stats.memory()[1], {}


def thread_count(stats: ProcessStats) -> Points:
    yield stats.thread_count(), {}


def open_file_descriptors(stats: ProcessStats) -> Points:
    yield stats.open_file_descriptors(), {}


def _gc_stat(key: str) -> Callable[[ProcessStats], Points]:
    def read(stats: ProcessStats) -> Points:
        for generation, stat in enumerate(gc.get_stats()):
            yield stat[key], {GC_GENERATION: generation}
    return read


# name: (instrument kind, unit, description, reader)
PROCESS_METRICS: dict[str, tuple[str, str, str, Callable[[ProcessStats], Points]]] = {
    "process.cpu.time": ("counter", "s", "CPU seconds of the process, by mode (user, system).", cpu_time),
    "process.memory.usage": ("updown", "By", "Resident memory of the process (RSS).", memory_usage),
    "process.memory.virtual": ("updown", "By", "Virtual memory of the process.", memory_virtual),
    "process.thread.count": ("updown", "", "Threads of the process.", thread_count),
    "process.open_file_descriptor.count": ("updown", "", "File descriptors the process has open.",
                                           open_file_descriptors),
    "process.context_switches": ("counter", "", "Context switches of the process, by type.", context_switches),
}
if sys.implementation.name == "cpython":
    PROCESS_METRICS.update({
        "cpython.gc.collections": ("counter", "{collection}", "Collections of each GC generation since start.",
                                   _gc_stat("collections")),
        "cpython.gc.collected_objects": ("counter", "{object}", "Objects the GC collected since start, by generation.",
                                         _gc_stat("collected")),
        "cpython.gc.uncollectable_objects": ("counter", "{object}",
                                             "Uncollectable objects the GC found since start, by generation.",
                                             _gc_stat("uncollectable")),
    })
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


def _creators(meter) -> dict[str, Callable]:
    return {"counter": meter.create_observable_counter, "updown": meter.create_observable_up_down_counter,
            "gauge": meter.create_observable_gauge}


def _callback(read: Callable[[Any], Points], source: Any):
    def observe(options: CallbackOptions) -> list[Observation]:
        try:
            return [Observation(value, attributes) for value, attributes in read(source)]
        except OSError:  # not readable here (a sandbox without /proc, psutil refusing): no point
            return []
    return observe


class RuntimeMetrics:
    def __init__(self, meter_provider, host: bool = False, cgroup_root: str = "/sys/fs/cgroup",
                 stats: ProcessStats | None = None):
        meter = metrics.get_meter("vitalyst_otel", meter_provider=meter_provider)
        create = _creators(meter)
        self.stats = stats or process_stats()
        for name, (kind, unit, description, read) in PROCESS_METRICS.items():
            create[kind](name, callbacks=[_callback(read, self.stats)], unit=unit, description=description)
        if host:
            self._host(create)
        self.cgroup_root = cgroup_root
        self.limit = meter.create_observable_gauge(
            "vitalyst.process.memory.limit", callbacks=[self._observe_limit], unit="By",
            description="Memory limit of the process's container (cgroup); absent when unlimited.")

    @staticmethod
    def _host(create: dict[str, Callable]) -> None:
        try:
            import psutil
        except ImportError:
            _log.warning("VITALYST_HOST_METRICS=true needs psutil, which is not installed (on Linux it "
                         "comes with the extra: pip install 'vitalyst-otel[host]'); no host metrics.")
            return
        from vitalyst_otel.host_metrics import HOST_METRICS

        for name, (kind, unit, description, read) in HOST_METRICS.items():
            create[kind](name, callbacks=[_callback(read, psutil)], unit=unit, description=description)

    def _observe_limit(self, options: CallbackOptions):
        limit = memory_limit(self.cgroup_root)
        return [] if limit is None else [Observation(limit)]
