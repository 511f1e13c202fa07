import gzip
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vitalyst_otel.export.http import OtlpHttpSender


class Server:
    """A local HTTP server answering from a script of status codes (then 200)."""

    def __init__(self, statuses=(), retry_after=None):
        self.statuses = list(statuses)
        self.bodies = []
        self.headers = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.bodies.append(body)
                server.headers.append(dict(self.headers))
                status = server.statuses.pop(0) if server.statuses else 200
                self.send_response(status)
                if retry_after and status == 429:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/traces"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(request):
    s = Server(*getattr(request, "param", ((),)))
    yield s
    s.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_posts_protobuf_with_headers_over_one_kept_alive_connection(server):
    sender = OtlpHttpSender(server.url, {"Authorization": "Bearer t"}, timeout_s=5)
    assert sender.send(b"abc").ok and sender.send(b"def").ok
    assert server.bodies == [b"abc", b"def"]
    assert server.headers[0]["Content-Type"] == "application/x-protobuf"
    assert server.headers[0]["Authorization"] == "Bearer t"
    assert server.headers[0]["User-Agent"].startswith("vitalyst-otel/")


def test_gzip_compression(server):
    OtlpHttpSender(server.url, compression="gzip").send(b"payload" * 10)
    assert gzip.decompress(server.bodies[0]) == b"payload" * 10
    assert server.headers[0]["Content-Encoding"] == "gzip"


@pytest.mark.parametrize("server", [((503, 429),)], indirect=True)
def test_retryable_statuses_are_retried(server):
    result = OtlpHttpSender(server.url, timeout_s=10).send(b"x")
    assert result.ok and len(server.bodies) == 3


@pytest.mark.parametrize("server", [((400,),)], indirect=True)
def test_other_errors_are_not_retried(server):
    result = OtlpHttpSender(server.url).send(b"x")
    assert not result.ok and result.status == 400 and len(server.bodies) == 1


def test_a_collector_that_is_down_costs_at_most_the_timeout():
    sender = OtlpHttpSender(f"http://127.0.0.1:{free_port()}/v1/traces", timeout_s=1.5)
    started = time.monotonic()
    result = sender.send(b"x")
    elapsed = time.monotonic() - started
    assert not result.ok and result.status is None and "Connection" in result.reason
    assert elapsed < 2.0


def test_a_deadline_caps_the_retries():
    sender = OtlpHttpSender(f"http://127.0.0.1:{free_port()}/v1/traces", timeout_s=30)
    started = time.monotonic()
    assert not sender.send(b"x", deadline=time.monotonic() + 0.5).ok
    assert time.monotonic() - started < 1.0


def test_close_aborts_a_retry_in_progress():
    sender = OtlpHttpSender(f"http://127.0.0.1:{free_port()}/v1/traces", timeout_s=30)
    threading.Timer(0.3, sender.close).start()
    started = time.monotonic()
    assert not sender.send(b"x").ok
    assert time.monotonic() - started < 1.5


def test_a_slow_collector_is_bounded_by_the_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    try:
        sender = OtlpHttpSender(f"http://127.0.0.1:{listener.getsockname()[1]}/v1/traces", timeout_s=0.5)
        started = time.monotonic()
        assert not sender.send(b"x").ok
        assert time.monotonic() - started < 1.0
    finally:
        listener.close()
