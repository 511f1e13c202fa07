"""Real servers, real launcher: opentelemetry-instrument, uvicorn (one and two workers) and
gunicorn (two workers, with and without --preload), exporting to a real OTLP receiver."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.otlp_receiver import OtlpReceiver, attrs

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, argv: list[str], port: int, env: dict[str, str]):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        # uvicorn's supervisor kills a worker that has not answered its ping in 5 s; on a loaded
        # CI machine a spawned worker takes longer than that to import, so it was killed in a loop.
        environment = {**os.environ, "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BLRP_SCHEDULE_DELAY": "100",
                       "OTEL_METRIC_EXPORT_INTERVAL": "500", "PYTHONPATH": str(ROOT),
                       "UVICORN_TIMEOUT_WORKER_HEALTHCHECK": "60", **env}
        environment.pop("VIRTUAL_ENV", None)
        self.process = subprocess.Popen(argv, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 90  # two workers importing everything on a loaded CI machine
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.process.communicate()}")
            try:
                httpx.get(self.base + "/health/live", timeout=0.5)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        out, err, _ = self.stop()
        raise AssertionError(f"server did not come up in 90 s: {(out + err)[-3000:]}")

    def stop(self, timeout: float = 20) -> tuple[str, str, float]:
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            out, err = self.process.communicate()
        return out, err, time.monotonic() - started


def hammer(base: str, path: str, count: int, parallel: int = 8) -> list[httpx.Response]:
    def one(_):
        with httpx.Client(base_url=base, timeout=10) as client:  # a new connection each time
            return client.get(path)

    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, range(count)))


def pids_serving(base: str, workers: int, seconds: float = 60) -> set[int]:
    """Send bursts of requests on fresh connections until ``workers`` different processes have
    answered: the server is up as soon as one worker listens, and on a loaded machine the other
    can take many seconds more to boot."""
    pids: set[int] = set()
    deadline = time.monotonic() + seconds
    while len(pids) < workers and time.monotonic() < deadline:
        pids |= {r.json()["pid"] for r in hammer(base, "/whoami", 40)}
    return pids


def instance_ids(receiver: OtlpReceiver, route: str) -> set[str]:
    return {resource["service.instance.id"] for resource, span in receiver.received.spans()
            if attrs(span.attributes).get("http.route") == route}


def all_instances(receiver: OtlpReceiver) -> set[str]:
    """Every service.instance.id that sent anything: spans, metrics or log records."""
    received = receiver.received
    return {resource.get("service.instance.id") for resource, _ in
            (*received.spans(), *received.metrics(), *received.log_records())}


def settle_instances(receiver: OtlpReceiver, expected: int) -> set[str]:
    """Wait until ``expected`` instances reported, then a few more export intervals, so that a
    process which should not export (a supervisor, a resource tracker) has had time to."""
    receiver.wait_for(lambda r: len(all_instances(receiver)) >= expected)
    time.sleep(2.0)
    return all_instances(receiver)


def launcher(*argv: str) -> list[str]:
    return [str(BIN / "opentelemetry-instrument"), *argv]


def test_launcher_instruments_the_demo_under_uvicorn():
    port = free_port()
    with OtlpReceiver() as receiver:
        server = Server(launcher(str(BIN / "uvicorn"), "vitalyst_otel.demo.app:app", "--port", str(port)), port,
                        {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "kg-launcher"})
        try:
            created = httpx.post(server.base + "/nodes", headers={"X-API-Key": "demo-key-00000000"},
                                 json={"type": "concept", "label": "x"})
            assert created.status_code == 201
            assert httpx.get(f"{server.base}/nodes/{created.json()['id']}").status_code == 200
            assert httpx.get(server.base + "/nodes/missing").status_code == 404
            receiver.wait_for(lambda r: len(r.spans()) >= 3 and r.log_records()
                              and "http.server.request.duration" in {m.name for _, m in r.metrics()})
        finally:
            out, err, _ = server.stop()
    spans = receiver.received.spans()
    server_spans = [s for _, s in spans if s.kind == 2]
    assert sorted(s.name for s in server_spans) == ["GET /nodes/{node_id}", "GET /nodes/{node_id}", "POST /nodes"]
    scopes = {ss.scope.name for m in receiver.received.of("/v1/traces") for rs in m.resource_spans for ss in rs.scope_spans}
    assert scopes == {"vitalyst_otel.http_server"}  # not FastAPI's native telemetry, not contrib's
    resource = spans[0][0]
    assert resource["service.name"] == "kg-launcher" and resource["telemetry.distro.name"] == "vitalyst-otel"
    access = [rec for _, rec in receiver.received.log_records() if "HTTP/1.1" in rec.body.string_value]
    assert len(access) == 3 and all(rec.trace_id for rec in access)
    assert {m.name for _, m in receiver.received.metrics()} >= {"http.server.request.duration", "http.server.active_requests"}
    lines = [line for line in out.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every stdout line is one JSON object
    assert any(p.get("logger") == "uvicorn.error" and "Application startup complete" in p["message"] for p in parsed)
    assert sum(1 for p in parsed if p.get("logger") == "uvicorn.access") == 3
    audit = [p for p in parsed if p.get("log.type") == "audit"]
    assert [a["action"] for a in audit] == ["api_key.use", "node.create"]
    assert "Traceback" not in err


@pytest.mark.parametrize("preload", [False, True], ids=["no-preload", "preload"])
def test_gunicorn_workers_each_report_their_own_instance(preload):
    port = free_port()
    argv = [str(BIN / "gunicorn"), "-c", "python:vitalyst_otel.gunicorn", "-k", "uvicorn.workers.UvicornWorker",
            "-w", "2", "-b", f"127.0.0.1:{port}", "tests.support.prefork_app:app"]
    if preload:
        argv.insert(1, "--preload")
    with OtlpReceiver() as receiver:
        server = Server(argv, port, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
        try:
            assert len(pids_serving(server.base, 2)) == 2, "both workers must have served requests"
            assert receiver.wait_for(lambda r: len(instance_ids(receiver, "/whoami")) == 2)
            assert receiver.wait_for(lambda r: len({res["service.instance.id"] for res, m in r.metrics()
                                                    if m.name == "http.server.request.duration"}) >= 2)
            assert receiver.wait_for(lambda r: len({res["service.instance.id"] for res, _ in r.log_records()}) >= 2)
            instances = settle_instances(receiver, 2)
        finally:
            out, err, stop_seconds = server.stop()
    assert len(instance_ids(receiver, "/whoami")) == 2
    assert len(instances) == 2, "the master must export nothing"
    gunicorn_lines = [json.loads(line) for line in out.splitlines() if '"gunicorn.error"' in line]
    assert any("Booting worker" in line["message"] for line in gunicorn_lines)
    assert stop_seconds < 15


def test_uvicorn_workers_under_the_launcher_each_report_their_own_instance():
    port = free_port()
    with OtlpReceiver() as receiver:
        server = Server(launcher(str(BIN / "uvicorn"), "tests.support.prefork_app:app", "--workers", "2",
                                 "--port", str(port)),
                        port, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
        try:
            assert len(pids_serving(server.base, 2)) == 2, "both workers must have served requests"
            assert receiver.wait_for(lambda r: len(instance_ids(receiver, "/whoami")) == 2)
            instances = settle_instances(receiver, 2)
        finally:
            out, err, _ = server.stop()
    assert len(instance_ids(receiver, "/whoami")) == 2
    restarted = (err + out).count("] died")  # uvicorn replaced a worker (it does so under heavy load)
    assert len(instances) == 2 + restarted, ("neither the supervisor nor the resource tracker may export", err[-2000:])


@pytest.mark.parametrize("way", ["launcher", "configure"])
def test_uvicorn_reload_exports_from_the_serving_process_only(way):
    port = free_port()
    argv = [str(BIN / "uvicorn"), "tests.support.prefork_app:app", "--reload", "--reload-dir", "tests/support",
            "--port", str(port)]
    with OtlpReceiver() as receiver:
        server = Server(launcher(*argv) if way == "launcher" else argv, port,
                        {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
        try:
            served_by = {r.json()["pid"] for r in hammer(server.base, "/whoami", 10)}
            assert receiver.wait_for(lambda r: len(instance_ids(receiver, "/whoami")) == 1)
            instances = settle_instances(receiver, 1)
        finally:
            server.stop()
    assert len(served_by) == 1 and server.process.pid not in served_by  # the reloader serves nothing
    assert len(instances) == 1, "the reloader may not export"
