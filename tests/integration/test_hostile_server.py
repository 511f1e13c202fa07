"""A real uvicorn server with our instrumentation (the demo under opentelemetry-instrument):
one client sends 100 KB hostile paths, headers and baggage while another client's latency is
measured; it stays within a small ratio of the baseline measured in the same test. Also: an
absolute-form request target with user:password@ leaks neither into url.path nor into the access
line, and malformed baggage gives one warning line per request."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import threading
import time

import httpx

from tests.integration.test_servers import BIN, ROOT, free_port, launcher
from tests.support.otlp_receiver import OtlpReceiver, attrs

HOSTILE_KB = 100
SECRET = "Zq9hostilePw7"


def _latencies(base: str, count: int) -> list[float]:
    out = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            assert client.get("/nodes").status_code == 200
            out.append(time.perf_counter() - started)
    return out


def _raw_request(port: int, target: str, headers: dict[str, str] | None = None) -> bytes:
    """One request over a raw socket (httpx refuses URLs over 64 KB)."""
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
             *(f"{name}: {value}" for name, value in (headers or {}).items())]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _hostile_requests(port: int, stop: threading.Event, sent: list[int]) -> None:
    letters = "a" * (HOSTILE_KB * 1024)
    separators = "a=b:c@" * (HOSTILE_KB * 1024 // 6)
    baggage = ",".join(f"bad member {i}" for i in range(HOSTILE_KB * 1024 // 14))
    shapes = [
        ("/nodes/" + letters, None),
        ("/nodes/" + separators, None),
        ("/nodes", {"baggage": baggage}),
        ("/nodes", {"user-agent": separators, "x-request-id": letters}),
    ]
    while not stop.is_set():
        for target, headers in shapes:
            try:
                if _raw_request(port, target, headers).startswith(b"HTTP/1.1 "):
                    sent[0] += 1
            except OSError:
                pass


class LoggingServer:
    """The server with its stdout and stderr going to files (a pipe nobody reads fills up and
    blocks the server once the hostile requests' log lines add up)."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str], logs):
        self.base = f"http://127.0.0.1:{port}"
        self.out, self.err = logs / "stdout", logs / "stderr"
        environment = {**os.environ, "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BLRP_SCHEDULE_DELAY": "100",
                       "PYTHONPATH": str(ROOT), **env}
        self.process = subprocess.Popen(argv, cwd=ROOT, env=environment, stdout=open(self.out, "w"),  # noqa: SIM115
                                        stderr=open(self.err, "w"), start_new_session=True)  # noqa: SIM115
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.err.read_text()[-3000:]
            try:
                httpx.get(self.base + "/health/live", timeout=0.5)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("server did not come up")

    def stop(self) -> tuple[str, str]:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        return self.out.read_text(), self.err.read_text()


def test_a_hostile_client_does_not_slow_another_and_leaks_nothing(tmp_path):
    port = free_port()
    with OtlpReceiver() as receiver:
        server = LoggingServer(
            launcher(str(BIN / "uvicorn"), "vitalyst_otel.demo.app:app", "--port", str(port),
                     "--h11-max-incomplete-event-size", str(1024 * 1024)), port,
            {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "hostile"}, tmp_path)
        try:
            _latencies(server.base, 20)  # warm-up
            baseline = _latencies(server.base, 60)
            stop, sent = threading.Event(), [0]
            attacker = threading.Thread(target=_hostile_requests, args=(port, stop, sent), daemon=True)
            attacker.start()
            time.sleep(1.0)
            under_attack = _latencies(server.base, 60)
            stop.set()
            attacker.join(60)
            response = _raw_request(port, f"http://ana:{SECRET}@internal.example/nodes?token={SECRET}")
            assert response.startswith(b"HTTP/1.1 ")
            bad = httpx.get(server.base + "/nodes", headers={"baggage": ",".join(["x"] * 100 + ["ok=1"])})
            assert bad.status_code == 200
            receiver.wait_for(lambda r: any(SECRET in str(m) or "internal.example" in str(m)
                                            for m in r.of("/v1/traces")), timeout=10)
        finally:
            out, err = server.stop()
    assert sent[0] >= 4, "the hostile client got no request through"
    base, attacked = statistics.median(baseline), statistics.median(under_attack)
    # The hostile requests and the measured ones share one event loop and two CPU cores with the
    # rest of the machine. h11 parses each hostile request (up to 1 MiB of headers) in Python on
    # that loop, and a measured request arriving meanwhile waits for it: a median of 7-13 ms under
    # attack against 1.8-5 ms without, at load 5 (the same before and after the speed work of
    # issue 16), 18 ms on a fresh CI machine compiling beside the suite. What this guards against
    # is telemetry blocking the loop (a quadratic scan of a hostile value costs seconds), so the
    # slack is that parse cost.
    assert attacked < 4 * base + 0.025, (base, attacked, sent[0])
    assert SECRET not in out and SECRET not in err
    assert all(SECRET not in str(m) for path in ("/v1/traces", "/v1/logs") for m in receiver.received.of(path))
    paths = [attrs(span.attributes).get("url.path", "") for _, span in receiver.received.spans()]
    assert any("internal.example" in p and "[REDACTED]" in p for p in paths), [p[:80] for p in paths[-5:]]
    access = [line for line in out.splitlines() if "internal.example" in line and "uvicorn.access" in line]
    assert access and all("[REDACTED]" in line for line in access)
    baggage_lines = [line for line in out.splitlines() if "Baggage" in line]
    assert 1 <= len(baggage_lines) <= sent[0] // 4 + 2 and all(len(line) < 2048 for line in baggage_lines)
