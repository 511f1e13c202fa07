"""collector/overlays/memory-from-limit.yaml (both tiers of the Helm chart): the collector, started
in a memory cgroup with a 512 MiB limit as a container with resources.limits.memory: 512Mi
would be, sizes its memory limiter from that limit."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import require
from tests.integration.e2e_support import collector_ports, loopback_env, memory_cgroup, port_block

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LIMIT_MIB = 512


def _limiter_lines(log: Path) -> dict[str, dict]:
    found = {}
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") in ("Using percentage memory limiter", "Memory limiter configured"):
            found[entry["msg"]] = entry
    return found


def test_memory_limiter_follows_the_container_limit(collector_binary, tmp_path) -> None:
    ports = collector_ports(iter(port_block(7)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALYST_")}
    env.update({**loopback_env(ports, tmp_path / "queue"),
                "VITALYST_TEMPO_ENDPOINT": "127.0.0.1:9", "VITALYST_ELASTICSEARCH_ENDPOINT": "http://127.0.0.1:9"})
    log = tmp_path / "collector.log"
    with memory_cgroup(LIMIT_MIB * 2**20) as (cgroup, why):
        require(cgroup is not None, why)
        procs = cgroup / "cgroup.procs" if (cgroup / "cgroup.procs").exists() else cgroup / "tasks"

        def enter_cgroup() -> None:
            procs.write_text("0")

        with log.open("w") as out:
            process = subprocess.Popen(
                [str(collector_binary), "--config", str(ROOT / "collector" / "gateway.yaml"),
                 "--config", str(ROOT / "collector" / "overlays" / "memory-from-limit.yaml")],
                env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=enter_cgroup)
        try:
            deadline = time.monotonic() + 60
            while len(_limiter_lines(log)) < 2 and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=30)
    lines = _limiter_lines(log)
    assert len(lines) == 2, log.read_text()[-3000:]
    percentage = lines["Using percentage memory limiter"]
    assert (percentage["total_memory_mib"], percentage["limit_percentage"], percentage["spike_limit_percentage"]) \
        == (LIMIT_MIB, 80, 20)
    configured = lines["Memory limiter configured"]
    assert (configured["limit_mib"], configured["spike_limit_mib"]) == (LIMIT_MIB * 80 // 100, LIMIT_MIB * 20 // 100)
