"""Driving an ASGI app in-process the way a server does: lifespan start-up, then requests with a
synthetic HTTP scope, ``receive`` and ``send`` callables, on one asyncio loop."""

from __future__ import annotations

import asyncio
import time

_REQUEST = {"type": "http.request", "body": b"", "more_body": False}
_DISCONNECT = {"type": "http.disconnect"}
HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"vitalyst-bench/1"), (b"accept", b"*/*"),
           (b"accept-encoding", b"gzip, deflate")]


def http_scope(path: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": list(HEADERS),
        "client": ("127.0.0.1", 51000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def request(app, path: str) -> int:
    """One request; returns the response status."""
    sent = [False]
    status = [0]

    async def receive():
        if sent[0]:
            return _DISCONNECT
        sent[0] = True
        return _REQUEST

    async def send(message):
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    await app(http_scope(path), receive, send)
    return status[0]


class Lifespan:
    """Runs the app's lifespan protocol in a task, as uvicorn does."""

    def __init__(self, app):
        self.app = app
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.outgoing: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self.task = asyncio.ensure_future(self.app(scope, self.incoming.get, self.outgoing.put))
        await self.incoming.put({"type": "lifespan.startup"})
        message = await asyncio.wait_for(self.outgoing.get(), 30)
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan start-up failed: {message}")

    async def shutdown(self) -> None:
        if self.task is None or self.task.done():
            return
        await self.incoming.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self.outgoing.get(), 10)
        except asyncio.TimeoutError:
            pass


async def run_for(app, seconds: float, path_of=lambda i: f"/items/{i % 1000}",
                  check_every: int = 50) -> tuple[int, float]:
    """Sequential requests for about ``seconds``; returns (requests, elapsed seconds). The clock
    is read every ``check_every`` requests only."""
    clock = time.perf_counter
    start = clock()
    deadline = start + seconds
    done = 0
    while True:
        for i in range(done, done + check_every):
            status = await request(app, path_of(i))
            if status != 200:
                raise RuntimeError(f"request {i} answered {status}")
        done += check_every
        now = clock()
        if now >= deadline:
            return done, now - start
