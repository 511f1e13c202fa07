"""Our /proc reader against psutil reading the same process, and the psutil reader (what macOS
uses) against /proc, in this process and in a forked child."""

import os
import threading

import psutil
import pytest

from vitalyst_otel.process_stats import ProcStats, PsutilStats, process_stats

MiB = 1024 * 1024


def test_linux_uses_proc_and_never_imports_psutil_for_it():
    assert isinstance(process_stats(), ProcStats)


@pytest.mark.parametrize("make", [ProcStats, PsutilStats], ids=["proc", "psutil"])
def test_each_reader_agrees_with_psutil(make):
    stats, proc = make(), psutil.Process()
    stop = threading.Event()
    extra = threading.Thread(target=stop.wait)
    extra.start()
    try:
        assert stats.thread_count() == proc.num_threads() >= 2
        assert stats.open_file_descriptors() == proc.num_fds()
        rss, vms = stats.memory()
        info = proc.memory_info()
        assert abs(rss - info.rss) < 4 * MiB and rss > 10 * MiB
        assert abs(vms - info.vms) < 16 * MiB and vms >= rss
    finally:
        stop.set()
        extra.join()
    user, system = stats.cpu_times()
    cpu = proc.cpu_times()
    assert abs(user - cpu.user) < 0.5 and abs(system - cpu.system) < 0.5 and user > 0
    voluntary, involuntary = stats.context_switches()
    # getrusage counts every thread; psutil on Linux reads the main thread's counters only
    assert voluntary >= proc.num_ctx_switches().voluntary > 0 and involuntary >= 0


def test_file_descriptors_follow_the_process():
    stats = ProcStats()
    before = stats.open_file_descriptors()
    read, write = os.pipe()
    try:
        assert stats.open_file_descriptors() == before + 2
    finally:
        os.close(read)
        os.close(write)


@pytest.mark.parametrize("make", [ProcStats, PsutilStats], ids=["proc", "psutil"])
def test_a_forked_child_reads_itself(make):
    """The parent runs seventeen threads or more; the child starts with one, plus whatever
    at-fork hooks of providers left by other tests start again (export workers, which may also
    stop meanwhile): a reader still bound to the parent would say seventeen or more."""
    stats = make()
    stop = threading.Event()
    extras = [threading.Thread(target=stop.wait) for _ in range(16)]
    for extra in extras:
        extra.start()
    read, write = os.pipe()
    try:
        assert stats.thread_count() >= 17  # the psutil reader binds to the parent's pid here
        pid = os.fork()
        if pid == 0:
            try:
                os.write(write, str(stats.thread_count()).encode())
            finally:
                os._exit(0)
        os.close(write)
        counted = int(os.read(read, 64) or b"-1")
        os.waitpid(pid, 0)
    finally:
        stop.set()
        for extra in extras:
            extra.join()
        os.close(read)
    assert 1 <= counted < 17


def test_a_process_without_proc_reads_raise_oserror(tmp_path):
    stats = ProcStats(str(tmp_path / "absent"))
    for read in (stats.memory, stats.thread_count, stats.open_file_descriptors):
        with pytest.raises(OSError):
            read()


def test_thread_count_reads_past_a_command_name_with_spaces_and_parentheses(tmp_path):
    fields = ["S", *map(str, range(4, 20)), "7", *map(str, range(21, 53))]
    (tmp_path / "stat").write_bytes(f"4242 (odd ) name) {' '.join(fields)}\n".encode())
    assert ProcStats(str(tmp_path)).thread_count() == 7
