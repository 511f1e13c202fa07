"""A rolling restart loses nothing: the real servers get SIGTERM (or SIGINT) while requests are
served, and a decoding OTLP receiver counts what arrived.

Each case: 10 requests, then a load that keeps going, then the signal 0.2 s after the 10 were
answered. Every request that was answered 200 must have its server span and its audit record
(under uvicorn also its access line) at the receiver (collector up), or its audit record in the
fallback file (collector down). The span batch delay stays at its default (5 s), so only the
shutdown flush can deliver them. The exit status is the one the server gives without us
(uvicorn re-raises the signal: -15)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.otlp_receiver import OtlpReceiver, attrs
from vitalyst_otel.audit_fallback import FallbackFile

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
APP = "tests.support.shutdown_app:app"
FIRST = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launcher(*argv: str) -> list[str]:
    return [str(BIN / "opentelemetry-instrument"), *argv]


def _gunicorn(port: int, *extra: str) -> list[str]:
    return [str(BIN / "gunicorn"), *extra, "-c", "python:vitalyst_otel.gunicorn", "-k",
            "uvicorn.workers.UvicornWorker", "-w", "2", "-b", f"127.0.0.1:{port}", APP]


# id -> (argv for a port, exit status the server intends on SIGTERM)
SERVERS = {
    "uvicorn-launcher": (lambda p: _launcher(str(BIN / "uvicorn"), APP, "--port", str(p)), -15),
    "uvicorn": (lambda p: [str(BIN / "uvicorn"), APP, "--port", str(p)], -15),
    "uvicorn-workers-2": (lambda p: _launcher(str(BIN / "uvicorn"), APP, "--workers", "2", "--port", str(p)), 0),
    "uvicorn.run": (lambda p: [sys.executable, "tests/support/shutdown_app.py", str(p)], -15),
    "gunicorn": (lambda p: _gunicorn(p), 0),
    "gunicorn-preload": (lambda p: _gunicorn(p, "--preload"), 0),
    "hypercorn": (lambda p: [str(BIN / "hypercorn"), APP, "--bind", f"127.0.0.1:{p}"], 0),
}


@dataclass
class Run:
    answered: list[str] = field(default_factory=list)
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0


def _serve_and_stop(argv: list[str], port: int, env: dict[str, str], sig: int, request) -> Run:
    # UVICORN_TIMEOUT_WORKER_HEALTHCHECK: see tests/integration/test_servers.py (a loaded machine).
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OTEL_METRICS_EXPORTER": "none",
                   "UVICORN_TIMEOUT_WORKER_HEALTHCHECK": "60", **env}
    environment.pop("VIRTUAL_ENV", None)
    process = subprocess.Popen(argv, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    run = Run()
    try:
        deadline = time.monotonic() + 90  # a loaded CI machine
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                raise AssertionError(f"server did not come up: {process.communicate(timeout=10)}")
            try:
                httpx.get(base + "/health/live", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10) as client:
            for i in range(FIRST):
                item = request(client, f"first-{i}")
                assert item is not None
                run.answered.append(item)
        stop = threading.Event()

        def load() -> None:
            i = 0
            while not stop.is_set():
                try:
                    with httpx.Client(base_url=base, timeout=10) as client:
                        item = request(client, f"load-{i}")
                except httpx.HTTPError:
                    item = None
                if item is not None:
                    run.answered.append(item)
                i += 1

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        time.sleep(0.2)
        started = time.monotonic()
        if sig == signal.SIGINT:
            os.killpg(process.pid, sig)  # Ctrl-C reaches the whole foreground group
        else:
            os.kill(process.pid, sig)  # Kubernetes signals the container's first process only
        run.stdout, run.stderr = process.communicate(timeout=40)
        run.seconds = time.monotonic() - started
        run.returncode = process.returncode
        stop.set()
        loader.join(15)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return run


def _work(client: httpx.Client, item: str) -> str | None:
    response = client.get(f"/work/{item}")
    return item if response.status_code == 200 else None


def _spans_by_item(receiver: OtlpReceiver) -> set[str]:
    return {attrs(span.attributes)["url.path"].removeprefix("/work/") for _, span in receiver.received.spans()
            if attrs(span.attributes).get("url.path", "").startswith("/work/")}


def _audit_by_item(receiver: OtlpReceiver) -> list[str]:
    found = []
    for _, record in receiver.received.log_records():
        values = attrs(record.attributes)
        if values.get("log.type") == "audit" and values.get("resource", "").startswith("item/"):
            found.append(values["resource"].removeprefix("item/"))
    return found


def _access_by_item(receiver: OtlpReceiver) -> set[str]:
    """Items whose access line (uvicorn's, written before the response) reached the receiver."""
    found = set()
    for _, record in receiver.received.log_records():
        body = record.body.string_value
        if " /work/" in body and "HTTP/" in body:
            found.add(body.split(" /work/", 1)[1].split(" ", 1)[0])
    return found


def _fallback_items(path: Path) -> list[str]:
    records = [json.loads(line) for line in FallbackFile(str(path)).unsent()]
    return [r["resource"].removeprefix("item/") for r in records if str(r.get("resource", "")).startswith("item/")]


def _explain(run: Run) -> str:
    return f"exit {run.returncode} after {run.seconds:.1f} s; stderr tail: {run.stderr[-1500:]}"


CASES = [(server, signal.SIGTERM) for server in SERVERS] + [
    (server, signal.SIGINT) for server in ("uvicorn", "uvicorn.run", "gunicorn", "hypercorn")]


@pytest.mark.parametrize(("server", "sig"), CASES, ids=[f"{s}-{g.name}" for s, g in CASES])
def test_signal_exports_everything_answered(server, sig, tmp_path):
    make_argv, intended = SERVERS[server]
    port = free_port()
    with OtlpReceiver() as receiver:
        run = _serve_and_stop(make_argv(port), port, {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "VITALYST_AUDIT_FALLBACK_FILE": str(tmp_path / "audit.jsonl")}, sig, _work)
        answered = set(run.answered)
        assert len(answered) >= FIRST
        access_lines = server.startswith("uvicorn")  # the servers that write uvicorn's access line
        receiver.wait_for(lambda r: answered <= _spans_by_item(receiver)
                          and (not access_lines or answered <= _access_by_item(receiver)), timeout=2)
    if sig == signal.SIGTERM:
        assert run.returncode == intended, _explain(run)
    missing_spans = answered - _spans_by_item(receiver)
    audit = _audit_by_item(receiver) + _fallback_items(tmp_path / "audit.jsonl")
    missing_audit = answered - set(audit)
    print(f"{server} {sig.name}: {len(answered)} answered, {len(missing_spans)} spans and {len(missing_audit)} "
          f"audit records missing, exit {run.returncode} after {run.seconds:.1f} s")
    assert not missing_spans, f"{len(missing_spans)} of {len(answered)} spans lost; {_explain(run)}"
    assert not missing_audit, f"{len(missing_audit)} of {len(answered)} audit records lost; {_explain(run)}"
    if access_lines:
        missing_access = answered - _access_by_item(receiver)
        assert not missing_access, f"{len(missing_access)} of {len(answered)} access lines lost; {_explain(run)}"
    assert run.seconds < 15, _explain(run)


@pytest.mark.parametrize("server", ["uvicorn", "uvicorn.run", "gunicorn", "hypercorn"])
def test_sigterm_with_the_collector_down_puts_audit_in_the_fallback_file(server, tmp_path):
    make_argv, intended = SERVERS[server]
    port = free_port()
    fallback = tmp_path / "audit.jsonl"
    run = _serve_and_stop(make_argv(port), port, {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "VITALYST_AUDIT_FALLBACK_FILE": str(fallback)}, signal.SIGTERM, _work)
    answered = set(run.answered)
    assert run.returncode == intended, _explain(run)
    missing = answered - set(_fallback_items(fallback))
    assert len(answered) >= FIRST
    assert not missing, f"{len(missing)} of {len(answered)} audit records neither sent nor in the file; {_explain(run)}"
    assert run.seconds < 15, _explain(run)


def test_sigterm_under_the_demo_entry_point(tmp_path):
    """``python -m vitalyst_otel.demo``: POST /nodes makes one server span and two audit records."""
    port = free_port()
    key = os.environ.get("DEMO_API_KEY", "demo-key-" + "0" * 8)

    def create(client: httpx.Client, item: str) -> str | None:
        response = client.post("/nodes", json={"type": "entity", "label": item}, headers={"X-API-Key": key})
        return response.json()["id"] if response.status_code == 201 else None

    with OtlpReceiver() as receiver:
        run = _serve_and_stop([sys.executable, "-m", "vitalyst_otel.demo", "--port", str(port)], port, {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "VITALYST_AUDIT_FALLBACK_FILE": str(tmp_path / "audit.jsonl")}, signal.SIGTERM, create)
    created = set(run.answered)
    assert run.returncode == -15, _explain(run)
    spans = [s for _, s in receiver.received.spans() if s.name == "POST /nodes"]
    audited = {attrs(r.attributes).get("resource", "").removeprefix("node/")
               for _, r in receiver.received.log_records() if attrs(r.attributes).get("action") == "node.create"}
    assert len(spans) >= len(created) >= FIRST, _explain(run)
    assert created <= audited, _explain(run)
