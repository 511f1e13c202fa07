"""Host-level ``system.*`` metrics, only with VITALYST_HOST_METRICS=true (one host, many
processes: usually the node exporter's job). Read with psutil, imported only then.

Each entry of HOST_METRICS: (instrument kind, unit, description, reader); a reader takes the
psutil module and returns (value, attributes) pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Points = Iterator[tuple[float, dict[str, Any]]]

CPU_STATES = ("idle", "user", "system", "iowait")
MEMORY_STATES = ("used", "free", "cached")
NETWORK_DIRECTIONS = {"transmit": "bytes_sent", "receive": "bytes_recv"}
DISK_DIRECTIONS = {"read": "read_bytes", "write": "write_bytes"}


def cpu_utilization(psutil) -> Points:
    # psutil measures since its previous call: the first collection after start-up reads zeros
    for cpu, percent in enumerate(psutil.cpu_times_percent(percpu=True), start=1):
        for state in CPU_STATES:
            if hasattr(percent, state):
                yield getattr(percent, state) / 100, {"state": state, "cpu": cpu}


def memory_usage(psutil) -> Points:
    memory = psutil.virtual_memory()
    for state in MEMORY_STATES:
        if hasattr(memory, state):
            yield getattr(memory, state), {"state": state}


def memory_utilization(psutil) -> Points:
    memory = psutil.virtual_memory()
    for state in MEMORY_STATES:
        if hasattr(memory, state):
            yield getattr(memory, state) / memory.total, {"state": state}


def _per_device(counters: dict, fields: dict[str, str]) -> Points:
    for device, values in (counters or {}).items():
        for direction, field in fields.items():
            if hasattr(values, field):
                yield getattr(values, field), {"device": device, "direction": direction}


def network_io(psutil) -> Points:
    return _per_device(psutil.net_io_counters(pernic=True), NETWORK_DIRECTIONS)


def disk_io(psutil) -> Points:
    return _per_device(psutil.disk_io_counters(perdisk=True), DISK_DIRECTIONS)


HOST_METRICS: dict[str, tuple[str, str, str, Callable[[Any], Points]]] = {
    "system.cpu.utilization": ("gauge", "1", "Share of time each CPU spent in a state.", cpu_utilization),
    "system.memory.usage": ("gauge", "By", "Host memory in use, free and cached.", memory_usage),
    "system.memory.utilization": ("gauge", "1", "Host memory by state, as a share of the total.", memory_utilization),
    "system.network.io": ("counter", "By", "Bytes sent and received per network interface.", network_io),
    "system.disk.io": ("counter", "By", "Bytes read and written per disk.", disk_io),
}
