"""Queues are bounded in bytes: 2,100 log calls of 1 MB each with the collector a black hole (it
accepts no connection and answers nothing), and the process's RSS grows by no more than the byte
limit allows (measured relative to RSS before the calls)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
LIMIT = 8 * MIB
# Allocator slack: freed 1 MB messages and the cut copies do not all go back to the OS at once.
SLACK = 48 * MIB

SCRIPT = """
import gc, json, logging, os, sys
import psutil
import vitalyst_otel

handle = vitalyst_otel.configure(service_name="rss-bound")
log = logging.getLogger("big")
for i in range(50):
    log.info("warm-up %d", i)
gc.collect()
before = psutil.Process().memory_info().rss
payload = "x" * (1024 * 1024)
for i in range(2100):
    log.info(payload + str(i))
gc.collect()
after = psutil.Process().memory_info().rss
status = handle.statuses["logs"].snapshot()
with open(sys.argv[1], "w") as out:
    json.dump({"before": before, "after": after, "queued_bytes": handle._parts.log_queue.queued_bytes,
               "dropped": status.dropped_items, "limit": handle.settings.export_queue_max_bytes}, out)
os._exit(0)  # the collector never answers: no point waiting for the shutdown bound
"""


def test_rss_stays_within_the_byte_limit_with_a_black_hole_collector(tmp_path):
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(0)  # one connection waits in the backlog, unanswered; later ones hang in connect
    result = tmp_path / "rss.json"
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(SCRIPT), str(result)], stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, timeout=600,
            env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{black_hole.getsockname()[1]}",
                 "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
                 "VITALYST_EXPORT_QUEUE_MAX_BYTES": str(LIMIT), "VITALYST_RUNTIME_METRICS": "false"})
    finally:
        black_hole.close()
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(result.read_text())
    growth = figures["after"] - figures["before"]
    print(f"RSS {figures['before'] / MIB:.0f} -> {figures['after'] / MIB:.0f} MiB (growth {growth / MIB:.1f} MiB, "
          f"byte limit {LIMIT / MIB:.0f} MiB); queued {figures['queued_bytes'] / MIB:.1f} MiB, "
          f"{figures['dropped']} records refused")
    assert figures["limit"] == LIMIT
    assert figures["queued_bytes"] <= LIMIT
    assert figures["dropped"] > 1000  # the bound did the work, not a quick exporter
    # Queue plus the batch in flight stay within LIMIT; that batch's encoded request comes on top.
    assert growth <= 2 * LIMIT + SLACK
