"""A stand-in for a language-model API (no real model can run here): a local HTTP server that
answers ``POST /v1/chat/completions`` in the OpenAI chat-completions shape, so the real ``openai``
client and the real contrib instrumentor run unchanged against it. It keeps the requests it got.

``python -m tests.support.fake_model_server`` serves on a free port and prints its base URL.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INPUT_TOKENS = 42
OUTPUT_TOKENS = 7
RESPONSE_MODEL = "fake-model-2026-01-01"


def completion(request: dict) -> dict:
    return {
        "id": "chatcmpl-fake-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": RESPONSE_MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "A short summary."},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS,
                  "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS},
    }


class FakeModelServer:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.requests.append(body)
                if self.path.rstrip("/").endswith("/chat/completions"):
                    status, answer = 200, completion(body)
                else:
                    status, answer = 404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}}
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    with FakeModelServer() as fake:
        print(fake.base_url, flush=True)
        threading.Event().wait()
