"""What the runtime metrics read about this process.

Linux: ``/proc/self``, ``os.times()`` and ``getrusage()``, nothing beyond the standard library;
psutil is not even a dependency there (installed, it costs about 2.6 MiB of RSS in every
process: the SDK imports it whenever it is there). Elsewhere (macOS): psutil. Both read the
process that calls them, so a forked worker reports itself.

Every reader raises OSError when the figure cannot be read (a sandbox without /proc, a psutil
that refuses); the caller then observes nothing for that metric.
"""

from __future__ import annotations

import os


class ProcessStats:
    def cpu_times(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the whole process, every thread."""
        times = os.times()
        return times.user, times.system

    def context_switches(self) -> tuple[int, int]:
        """(voluntary, involuntary) context switches of the whole process, every thread."""
        try:
            import resource
        except ImportError as exc:  # Windows
            raise OSError("no getrusage() here") from exc
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_nvcsw, usage.ru_nivcsw

    # Without /proc or psutil only the two figures above can be read.
    def memory(self) -> tuple[int, int]:
        """(resident, virtual) bytes."""
        raise OSError("process memory is not readable here without psutil")

    def thread_count(self) -> int:
        raise OSError("the thread count is not readable here without psutil")

    def open_file_descriptors(self) -> int:
        raise OSError("open file descriptors are not readable here without psutil")


class ProcStats(ProcessStats):
    """Linux: /proc/self (the same files psutil reads)."""

    def __init__(self, proc: str = "/proc/self"):
        self.proc = proc
        self.page_size = os.sysconf("SC_PAGE_SIZE")

    def memory(self) -> tuple[int, int]:
        with open(f"{self.proc}/statm", "rb") as handle:
            size, resident = handle.read().split()[:2]
        return int(resident) * self.page_size, int(size) * self.page_size

    def thread_count(self) -> int:
        with open(f"{self.proc}/stat", "rb") as handle:
            stat = handle.read()
        # after the command name in parentheses (which may hold spaces and ")"): field 3 onwards;
        # num_threads is field 20
        return int(stat.rpartition(b")")[2].split()[17])

    def open_file_descriptors(self) -> int:
        return len(os.listdir(f"{self.proc}/fd"))


class PsutilStats(ProcessStats):
    """Any other platform: psutil, bound again to the current pid after a fork."""

    def __init__(self):
        import psutil

        self._psutil = psutil
        self._pid = -1
        self._process = None

    def _current(self):
        pid = os.getpid()
        if pid != self._pid:
            self._process, self._pid = self._psutil.Process(pid), pid
        return self._process

    def _read(self, method: str):
        try:
            return getattr(self._current(), method)()
        except (self._psutil.Error, NotImplementedError, AttributeError) as exc:
            raise OSError(f"psutil cannot read {method}: {exc}") from exc

    def memory(self) -> tuple[int, int]:
        info = self._read("memory_info")
        return info.rss, info.vms

    def thread_count(self) -> int:
        return self._read("num_threads")

    def open_file_descriptors(self) -> int:
        return self._read("num_fds")


def process_stats() -> ProcessStats:
    """The reader for this platform: /proc where it is there, psutil otherwise (CPU time and
    context switches only when neither is)."""
    if os.path.exists("/proc/self/statm"):
        return ProcStats()
    try:
        return PsutilStats()
    except ImportError:
        return ProcessStats()
