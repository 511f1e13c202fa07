"""Helpers for the tests that run the demo service against the local stack: start the demo under
``opentelemetry-instrument`` pointed at the stack's collector, query Prometheus and Jaeger, poll."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
DEMO_API_KEY = "e2e-" + "k" * 28
DEMO_PASSWORD = "e2e-pw-" + "p" * 24
# What the demo and its load driver must share.
DEMO_CREDENTIALS = {"DEMO_API_KEY": DEMO_API_KEY, "DEMO_USER": "curator", "DEMO_PASSWORD": DEMO_PASSWORD}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def prom_query(prometheus: str, promql: str, at: float | None = None) -> list[dict[str, Any]]:
    """An instant query, now or at the Unix time ``at``."""
    params = {"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}
    return get_json(prometheus + "/api/v1/query?" + urllib.parse.urlencode(params))["data"]["result"]


def jaeger_trace(jaeger: str, trace_id: str) -> list[dict[str, Any]]:
    """The spans Jaeger has for a trace id ([] when it has none yet)."""
    try:
        data = get_json(f"{jaeger}/api/traces/{trace_id}")["data"]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise
    return data[0]["spans"] if data else []


def eventually(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"after {timeout:.0f} s still not: {what} (last: {last!r})")


def traceparent() -> tuple[str, str]:
    """A fresh sampled W3C traceparent and its trace id."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


def demo_env(otlp_http: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VITALYST_"))}
    env.update({
        "OTEL_SERVICE_NAME": "knowledge-graph",
        "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=vitalyst",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_http,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SEMCONV_STABILITY_OPT_IN": "http",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BLRP_SCHEDULE_DELAY": "200",
        **DEMO_CREDENTIALS,
        "PYTHONUNBUFFERED": "1",  # stdout (JSON logs) reaches its file as it is written: tests read it live
        "DEMO_ENRICH_LATENCY_MS": "20",
        "DEMO_ENRICH_FAILURE_RATE": "0",
        **extra,
    })
    return env


@contextmanager
def running_demo(otlp_http: str, log_dir: Path, cgroup: Path | None = None, **extra_env: str) -> Iterator[str]:
    """The demo service under opentelemetry-instrument; yields its base URL, stops it with SIGTERM
    (so it flushes) and waits. With ``cgroup`` (a cgroup directory) the demo joins that cgroup
    before it starts."""
    port = free_port()
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    argv = [str(instrument), sys.executable, "-m", "vitalyst_otel.demo", "--port", str(port)]
    if cgroup is not None:
        argv = ["sh", "-c", 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', "sh", str(cgroup), *argv]
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout = open(log_dir / "demo.stdout.log", "wb")  # noqa: SIM115 - closed below
    stderr = open(log_dir / "demo.stderr.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(argv, env=demo_env(otlp_http, **extra_env), stdout=stdout, stderr=stderr,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"demo exited {process.returncode}: "
                                     + (log_dir / "demo.stderr.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(base + "/health/live", timeout=1):
                    return True
            except (urllib.error.URLError, OSError):
                return False
        eventually(ready, 60, "the demo answers /health/live", interval=0.2)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        stdout.close()
        stderr.close()


def drive_load(base: str, seconds: float, rate: float = 40.0) -> dict[tuple[str, str], int]:
    """The demo's own load driver (``python -m vitalyst_otel.demo.load``) against a running demo,
    in a child process with the demo's credentials; the count per (operation, status)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VITALYST_"))}
    result = subprocess.run(
        [sys.executable, "-m", "vitalyst_otel.demo.load", base, "--seconds", str(seconds), "--rate", str(rate)],
        env={**env, **DEMO_CREDENTIALS}, capture_output=True, text=True, timeout=seconds + 60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return {(operation, str(status)): count for operation, status, count in json.loads(result.stdout)}


@contextmanager
def memory_cgroup(limit: int) -> Iterator[tuple[Path | None, str]]:
    """A child of this process's own memory cgroup with a memory limit of ``limit`` bytes, for a
    demo to run in (``running_demo(cgroup=...)``); removed afterwards. Yields (directory, "")
    or, where none can be made (no memory controller, not writable), (None, the reason)."""
    from vitalyst_otel.runtime_metrics import own_cgroups

    v2, v1 = own_cgroups("/proc/self/cgroup")
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").is_file():
        parent, limit_file = root / v2.lstrip("/"), "memory.max"
    elif (root / "memory").is_dir():
        parent, limit_file = root / "memory" / v1.lstrip("/"), "memory.limit_in_bytes"
    else:
        yield None, "no cgroup memory controller under /sys/fs/cgroup"
        return
    child = parent / f"vitalyst-test-{secrets.token_hex(4)}"
    try:
        child.mkdir()
        (child / limit_file).write_text(str(limit))
    except OSError as exc:
        if child.is_dir():
            child.rmdir()
        yield None, f"cannot make a child memory cgroup with a limit in {parent}: {exc}"
        return
    try:
        yield child, ""
    finally:
        deadline = time.monotonic() + 10
        while True:  # the last process may take a moment to leave
            try:
                child.rmdir()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def port_block(count: int) -> list[int]:
    """``count`` distinct ports that were free a moment ago."""
    from devstack.stack import Ports

    ports: list[int] = []
    while len(ports) < count:
        ports.extend(p for p in vars(Ports.free()).values() if p not in ports)
    return ports[:count]


COLLECTOR_PORT_NAMES = ("grpc", "http", "health", "metrics", "pprof", "zpages", "prometheus")


def collector_ports(free: Iterator[int]) -> dict[str, int]:
    return {name: next(free) for name in COLLECTOR_PORT_NAMES}


def collector_component(name: str, binary: Path, files: list[str], ports: dict[str, int], state: Path,
                        extra: dict[str, str]):
    """A stand-alone vitalyst-otelcol with the shipped files, on the given loopback ports, to be
    run by a Stack used as a process supervisor."""
    from devstack.stack import HOST, Component

    root = Path(__file__).resolve().parents[2]
    argv = [str(binary)]
    for f in files:
        argv += ["--config", str(root / "collector" / f)]
    env = {**loopback_env(ports, state / f"{name}-queue"), **extra}
    return Component(name, argv, f"http://{HOST}:{ports['http']}", f"http://{HOST}:{ports['health']}/", env=env)


def loopback_env(ports: dict[str, int], queue_dir: Path) -> dict[str, str]:
    """The variables that put a collector's listeners on the given loopback ports."""
    from devstack.stack import HOST

    return {
        "VITALYST_OTLP_GRPC_ENDPOINT": f"{HOST}:{ports['grpc']}",
        "VITALYST_OTLP_HTTP_ENDPOINT": f"{HOST}:{ports['http']}",
        "VITALYST_OTELCOL_HEALTH_ENDPOINT": f"{HOST}:{ports['health']}",
        "VITALYST_OTELCOL_METRICS_HOST": HOST,
        "VITALYST_OTELCOL_METRICS_PORT": str(ports["metrics"]),
        "VITALYST_OTELCOL_PPROF_ENDPOINT": f"{HOST}:{ports['pprof']}",
        "VITALYST_OTELCOL_ZPAGES_ENDPOINT": f"{HOST}:{ports['zpages']}",
        "VITALYST_PROMETHEUS_EXPORTER_ENDPOINT": f"{HOST}:{ports['prometheus']}",
        "VITALYST_OTELCOL_STORAGE_DIR": str(queue_dir),
    }


def collector_metric(metrics_port: int, prefix: str) -> float:
    """Sum of every sample of the collector's own metrics whose name starts with ``prefix``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(prefix) and not line.startswith("#"))


def jaeger_span_counts(jaeger: str, service: str) -> dict[str, int]:
    """{trace id: number of spans} of every trace Jaeger holds for ``service`` (one query)."""
    query = urllib.parse.urlencode({"service": service, "limit": 100000, "lookback": "2h"})
    try:
        data = get_json(f"{jaeger}/api/traces?{query}", timeout=30)["data"] or []
    except urllib.error.HTTPError:
        return {}
    return {trace["traceID"]: len(trace["spans"]) for trace in data}


def jaeger_component(binary: Path, ports: dict[str, int], **extra_env: str):
    """Jaeger v2 on the given ports (grpc, http, query, query_grpc, health, metrics), to be run by a
    Stack used as a process supervisor."""
    from devstack import stack

    root = Path(__file__).resolve().parents[2]
    return stack.jaeger_component(
        binary, root, otlp_grpc=ports["grpc"], otlp_http=ports["http"], query=ports["query"],
        query_grpc=ports["query_grpc"], health=ports["health"], metrics=ports["metrics"], **extra_env)
