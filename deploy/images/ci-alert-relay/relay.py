"""CI stand-in for the Alertmanager webhook relay: keeps every POST to /alerts/<receiver> (its
JSON body and whether it carried the receiver's bearer token from /run/secrets/<receiver>.token)
and lists them at GET /received. Listens on 127.0.0.1:9095 inside Alertmanager's network
namespace, where prometheus/alertmanager.yml sends."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECEIVED: list[dict] = []
LOCK = threading.Lock()


def token(receiver: str) -> str:
    path = Path("/run/secrets") / f"alertmanager_{receiver}_token"
    return path.read_text().strip() if path.is_file() else ""


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        receiver = self.path.rstrip("/").rsplit("/", 1)[-1]
        expected = token(receiver)
        authorized = bool(expected) and self.headers.get("Authorization") == f"Bearer {expected}"
        with LOCK:
            RECEIVED.append({"receiver": receiver, "authorized": authorized, "body": json.loads(body or b"{}")})
        self.send_response(200 if authorized else 401)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        with LOCK:
            payload = json.dumps(RECEIVED).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


ThreadingHTTPServer(("0.0.0.0", 9095), Handler).serve_forever()
