"""benchmarks/served_threads.py: per-thread figures read from /proc (real), the child's thread
names, and the summary over rounds."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import pytest

from benchmarks.child import _name_threads_on_signal
from benchmarks.served_threads import _task_stats, render, summarise

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


def test_task_stats_of_live_threads_after_work():
    stop = threading.Event()
    ready = threading.Event()
    tid: list[int] = []

    def sleeper():
        tid.append(threading.get_native_id())
        ready.set()
        while not stop.wait(0.001):
            sum(range(1000))

    thread = threading.Thread(target=sleeper)
    thread.start()
    ready.wait()
    before = _task_stats(os.getpid())[tid[0]]
    time.sleep(0.1)
    after = _task_stats(os.getpid())[tid[0]]
    stop.set()
    thread.join()
    assert after["vol"] - before["vol"] >= 10
    assert after["cpu_ns"] > before["cpu_ns"]


def test_the_child_names_its_threads_on_sigusr1(tmp_path):
    path = tmp_path / "threads.json"
    previous = signal.getsignal(signal.SIGUSR1)
    worker = threading.Thread(target=threading.Event().wait, args=(5,), name="vitalyst-traces", daemon=True)
    worker.start()
    try:
        _name_threads_on_signal(path)
        os.kill(os.getpid(), signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        names = json.loads(path.read_text())
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert names[str(worker.native_id)] == "vitalyst-traces"
    assert names[str(threading.main_thread().native_id)] == "MainThread"


def test_summary_takes_medians_per_thread_and_renders_ratios():
    def run(rps, cpu):
        return {"requests_per_s": rps, "p99_ms": 10.0, "paced_p99_ms": 5.0, "receiver_cpu_us": 20.0,
                "threads": {"request thread (main)": {"cpu_us": cpu, "wait_us": 1.0, "vol": 0.1, "invol": 0.2,
                                                      "vol_per_s": 50.0}}}

    summary = summarise({"plain": [run(1000, 500), run(1200, 600), run(1100, 700)],
                         "ours": [run(700, 900), {"error": "server did not become ready"}, run(900, 1100)]})
    assert summary["plain"]["requests_per_s"] == 1100
    assert summary["plain"]["threads"]["request thread (main)"]["cpu_us"] == 600
    assert summary["ours"]["requests_per_s"] == 800
    table = render(summary, "plain")
    assert "| ours | 800 (0.727x)" in table
    assert "| 1000 |" in table  # ours' request thread: median of 900 and 1100
