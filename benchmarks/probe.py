"""Small instruments the benchmark processes use on themselves: the receiver's counters, GC
pauses, resident memory."""

from __future__ import annotations

import collections
import gc
import http.client
import json
import os
import time
from urllib.parse import urlsplit


class ReceiverClient:
    """Talks to benchmarks/receiver.py (``/stats``, ``/reset``) on its own connection."""

    def __init__(self, base: str | None):
        self.base = base
        parts = urlsplit(base) if base else None
        self.host = parts.hostname if parts else None
        self.port = parts.port if parts else None

    def _call(self, method: str, path: str) -> dict | None:
        if not self.base:
            return None
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, body=b"" if method == "POST" else None)
            response = conn.getresponse()
            return json.loads(response.read() or b"{}")
        except OSError:
            return None
        finally:
            conn.close()

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict | None:
        return self._call("GET", "/stats")


def items(stats: dict | None, signal: str) -> int | None:
    if not stats:
        return None
    return stats["signals"][signal]["items"]


def received(before: dict | None, after: dict | None) -> dict | None:
    """Items, requests and bytes per signal between two ``/stats`` snapshots."""
    if not before or not after:
        return None
    out = {}
    for signal, entry in after["signals"].items():
        old = before["signals"][signal]
        out[signal] = {key: entry[key] - old[key] for key in entry}
    return out


def http_histogram_count(stats: dict | None) -> tuple[str | None, int | None]:
    """The HTTP server duration histogram the receiver saw the most measurements of (stable
    ``http.server.request.duration`` or the old ``http.server.duration``), with that count."""
    if not stats:
        return None, None
    counts = {name: count for name, count in stats.get("histogram_counts", {}).items()
              if name.startswith("http.server") and "duration" in name}
    if not counts:
        return None, 0
    name = max(counts, key=counts.get)
    return name, counts[name]


class GcMonitor:
    """Counts garbage collections per generation and their pauses while active."""

    def __init__(self, census: bool = False) -> None:
        """``census``: also count, at each gen-0 collection, the young objects by type (what
        made the generation fill up; slow, for profiling runs only)."""
        self.census: collections.Counter | None = collections.Counter() if census else None
        self.censused = 0
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.full: list[tuple[float, float]] = []  # (time.monotonic() at the end, pause s) of each gen-2 one
        self._started = 0.0
        self.active = False

    def _callback(self, phase: str, info: dict) -> None:
        if not self.active:
            return
        if phase == "start":
            if self.census is not None and info["generation"] == 0:
                self.census.update(type(o).__qualname__ for o in gc.get_objects(0))
                self.censused += 1
            self._started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._started
            self.pauses[info["generation"]].append(pause)
            if info["generation"] == 2:
                self.full.append((time.monotonic(), pause))

    def __enter__(self) -> GcMonitor:
        gc.callbacks.append(self._callback)
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        self.active = False
        gc.callbacks.remove(self._callback)

    def report(self, elapsed: float) -> dict:
        total = sum(sum(p) for p in self.pauses.values())
        gen2 = self.pauses[2]
        return {
            "collections": {str(g): len(p) for g, p in self.pauses.items()},
            "pause_total_ms": total * 1000,
            "pause_ms_by_generation": {str(g): sum(p) * 1000 for g, p in self.pauses.items()},
            "pause_share": total / elapsed if elapsed else None,
            "gen2_max_ms": max(gen2) * 1000 if gen2 else 0.0,
            "gen2_at": self.full,
            **({"young_at_gen0": {name: n / self.censused for name, n in self.census.most_common(25)}}
               if self.census and self.censused else {}),
        }


def rss_bytes() -> int:
    """Resident set size of this process (VmRSS)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def pid_rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class SystemCpu:
    """Busy and stolen CPU time of the whole machine (/proc/stat), to tell how much of it other
    processes took while a variant was measured: on a shared 2-core machine that is the main
    source of noise, and the report flags rounds where it was high."""

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as stat:
                fields = [int(x) for x in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        tick = os.sysconf("SC_CLK_TCK")
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        steal = fields[7] if len(fields) > 7 else 0
        total = sum(fields[:8])
        return (total - idle - steal) / tick, steal / tick, time.monotonic()

    def other_cores(self, own_cpu_s: float) -> dict | None:
        """Cores busy with anything but ``own_cpu_s`` (the CPU seconds the measured processes
        used) on average since construction, and cores stolen by the hypervisor."""
        end = self._read()
        if self.start is None or end is None:
            return None
        wall = end[2] - self.start[2]
        if wall <= 0:
            return None
        busy = end[0] - self.start[0]
        return {"other_cores": max(busy - own_cpu_s, 0.0) / wall,
                "steal_cores": (end[1] - self.start[1]) / wall}


def pid_cpu_seconds(pid: int | None) -> float | None:
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
