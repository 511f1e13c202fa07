"""An Elasticsearch bulk-API **stand-in** for tests and the local stack. It is not Elasticsearch.

Elasticsearch cannot run on the machines this project is tested on, and the collector's
elasticsearch exporter refuses any server that does not answer with the header
``X-Elastic-Product: Elasticsearch``. This stand-in speaks just enough of the protocol for the
exporter: ``GET /`` (the product check, answered like an 8.x cluster) and the bulk API
(``POST /_bulk`` and ``POST /<index>/_bulk``, NDJSON, gzip or plain) with per-item results. It
records every indexed document per index, in memory, and can inject faults on command so tests
can show that the collector loses nothing when the backend misbehaves.

Control endpoints (JSON in, JSON out), all under ``/_standin/``:

    GET    /_standin/docs[?index=NAME]   the documents, all indices or one
    GET    /_standin/indices             {index: document count}
    DELETE /_standin/docs                forget every document
    GET    /_standin/stats               requests, bulk requests, items, faults served
    POST   /_standin/fault               inject a fault into the next bulk requests:
             {"status": 429 | 503 | ..., "count": N}  answer N bulk requests with that status
             {"drop": true, "seconds": S}             drop connections for S seconds
             {"status": 429, "items": true, "count": N}  reject every item of N bulk requests
                                                       with a per-item 429 (document-level)
           ``count`` and ``seconds`` may be combined: the fault ends when either runs out.
    DELETE /_standin/fault               clear the fault

Run it alone with ``python -m devstack.es_standin --port 19200``; tests use
:class:`ElasticsearchStandin` in process and :class:`StandinClient` to read it back.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PRODUCT_HEADER = ("X-Elastic-Product", "Elasticsearch")
# What GET / answers: an 8.x cluster, which every exporter release we ship accepts.
VERSION = "8.17.0"
DEFAULT_MAX_DOCS = 1_000_000


@dataclass
class Fault:
    status: int = 0  # HTTP status for the whole bulk request (0: none)
    drop: bool = False  # close the connection without an answer
    items: bool = False  # answer 200 but fail every item with ``status``
    remaining: int | None = None  # bulk requests still to fault (None: unlimited)
    until: float | None = None  # monotonic deadline (None: none)

    def active(self, now: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.until is None or now < self.until


@dataclass
class Store:
    """Documents per index and counters, guarded by one lock."""

    max_docs: int = DEFAULT_MAX_DOCS
    lock: threading.Lock = field(default_factory=threading.Lock)
    docs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=lambda: {
        "requests": 0, "bulk_requests": 0, "items": 0, "faults_served": 0, "dropped_docs": 0,
    })
    fault: Fault | None = None
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def take_fault(self) -> Fault | None:
        """The fault to apply to this bulk request, if any (counts it down)."""
        with self.lock:
            fault = self.fault
            if fault is None:
                return None
            if not fault.active(time.monotonic()):
                self.fault = None
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
            self.stats["faults_served"] += 1
            return fault

    def record(self, index: str, doc: dict[str, Any]) -> str:
        with self.lock:
            doc_id = f"standin-{next(self.ids)}"
            self.counts[index] = self.counts.get(index, 0) + 1
            self.stats["items"] += 1
            if sum(len(v) for v in self.docs.values()) < self.max_docs:
                self.docs.setdefault(index, []).append(doc)
            else:
                self.stats["dropped_docs"] += 1
            return doc_id

    def clear(self) -> None:
        with self.lock:
            self.docs.clear()
            self.counts.clear()


def parse_bulk(body: bytes, default_index: str | None) -> list[tuple[str, str, dict[str, Any] | None]]:
    """NDJSON bulk body -> [(operation, index, source)]; ``delete`` has no source.

    Raises ValueError on a malformed body, as Elasticsearch answers 400 to it.
    """
    lines = [line for line in body.split(b"\n") if line.strip()]
    operations = []
    i = 0
    while i < len(lines):
        action = json.loads(lines[i])
        if not isinstance(action, dict) or len(action) != 1:
            raise ValueError(f"malformed action line {i + 1}")
        (op, meta), = action.items()
        if op not in ("index", "create", "update", "delete"):
            raise ValueError(f"unknown bulk operation {op!r}")
        index = (meta or {}).get("_index") or default_index
        if not index:
            raise ValueError(f"action line {i + 1} names no index")
        if op == "delete":
            operations.append((op, index, None))
            i += 1
            continue
        if i + 1 >= len(lines):
            raise ValueError(f"action line {i + 1} has no source line")
        source = json.loads(lines[i + 1])
        operations.append((op, index, source))
        i += 2
    return operations


class _Handler(BaseHTTPRequestHandler):
    server_version = "vitalyst-es-standin"
    protocol_version = "HTTP/1.1"
    store: Store  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    # --- plumbing -------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip" and body:
            body = gzip.decompress(body)
        return body

    def _send(self, status: int, payload: Any, head_only: bool = False) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header(*PRODUCT_HEADER)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head_only:
            self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _count(self) -> None:
        with self.store.lock:
            self.store.stats["requests"] += 1

    # --- verbs ----------------------------------------------------------------------------
    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._count()
        self._send(200, {}, head_only=True)

    def do_GET(self) -> None:  # noqa: N802
        self._count()
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/":
            self._send(200, {
                "name": "vitalyst-es-standin",
                "cluster_name": "standin",
                "cluster_uuid": "standin-not-elasticsearch",
                "version": {
                    "number": VERSION,
                    "build_flavor": "default",
                    "build_type": "standin",
                    "lucene_version": "9.12.0",
                    "minimum_wire_compatibility_version": "7.17.0",
                    "minimum_index_compatibility_version": "7.0.0",
                },
                "tagline": "You Know, for Search (stand-in)",
            })
        elif url.path == "/_standin/docs":
            index = query.get("index", [None])[0]
            with self.store.lock:
                if index is None:
                    payload = {name: list(docs) for name, docs in self.store.docs.items()}
                else:
                    docs = list(self.store.docs.get(index, []))
                    payload = {"index": index, "count": len(docs), "docs": docs}
            self._send(200, payload)
        elif url.path == "/_standin/indices":
            with self.store.lock:
                self._send(200, dict(self.store.counts))
        elif url.path == "/_standin/stats":
            with self.store.lock:
                fault = self.store.fault
                self._send(200, {**self.store.stats, "fault": None if fault is None else {
                    "status": fault.status, "drop": fault.drop, "items": fault.items,
                    "remaining": fault.remaining}})
        else:
            self._send(404, {"error": {"type": "standin_not_found", "reason": url.path}, "status": 404})

    def do_DELETE(self) -> None:  # noqa: N802
        self._count()
        path = urlsplit(self.path).path
        if path == "/_standin/docs":
            self.store.clear()
            self._send(200, {"acknowledged": True})
        elif path == "/_standin/fault":
            with self.store.lock:
                self.store.fault = None
            self._send(200, {"acknowledged": True})
        else:
            self._send(404, {"error": {"type": "standin_not_found", "reason": path}, "status": 404})

    def do_PUT(self) -> None:  # noqa: N802
        # Index/template creation: acknowledge, the stand-in has no mappings.
        self._count()
        self._body()
        self._send(200, {"acknowledged": True})

    def do_POST(self) -> None:  # noqa: N802
        self._count()
        path = urlsplit(self.path).path
        if path == "/_standin/fault":
            self._set_fault(self._body())
            return
        parts = [p for p in path.split("/") if p]
        if parts and parts[-1] == "_bulk" and len(parts) <= 2:
            self._bulk(parts[0] if len(parts) == 2 else None)
            return
        self._body()
        self._send(404, {"error": {"type": "standin_not_found", "reason": path}, "status": 404})

    def _set_fault(self, body: bytes) -> None:
        try:
            spec = json.loads(body or b"{}")
            status = int(spec.get("status", 0))
            drop = bool(spec.get("drop", False))
            if not drop and not 400 <= status <= 599:
                raise ValueError("a fault needs drop=true or an HTTP error status (400-599)")
            count = spec.get("count")
            seconds = spec.get("seconds")
            fault = Fault(
                status=status,
                drop=drop,
                items=bool(spec.get("items", False)),
                remaining=None if count is None else int(count),
                until=None if seconds is None else time.monotonic() + float(seconds),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            self._send(400, {"error": str(exc)})
            return
        with self.store.lock:
            self.store.fault = fault
        self._send(200, {"acknowledged": True})

    def _bulk(self, default_index: str | None) -> None:
        started = time.monotonic()
        body = self._body()
        with self.store.lock:
            self.store.stats["bulk_requests"] += 1
        fault = self.store.take_fault()
        if fault is not None and fault.drop:
            self._drop()
            return
        if fault is not None and not fault.items:
            self._send(fault.status, {
                "error": {"type": "standin_injected_fault", "reason": f"injected {fault.status}"},
                "status": fault.status})
            return
        try:
            operations = parse_bulk(body, default_index)
        except (ValueError, json.JSONDecodeError) as exc:
            self._send(400, {"error": {"type": "parse_exception", "reason": str(exc)}, "status": 400})
            return
        items = []
        for op, index, source in operations:
            if fault is not None:  # document-level rejection, like a full write queue
                items.append({op: {"_index": index, "status": fault.status, "error": {
                    "type": "es_rejected_execution_exception", "reason": "injected by the stand-in"}}})
                continue
            doc_id = self.store.record(index, source) if op != "delete" else "deleted"
            status = 201 if op in ("index", "create") else 200
            items.append({op: {
                "_index": index, "_id": doc_id, "_version": 1,
                "result": "created" if status == 201 else ("updated" if op == "update" else "deleted"),
                "_shards": {"total": 1, "successful": 1, "failed": 0},
                "_seq_no": 0, "_primary_term": 1, "status": status}})
        self._send(200, {
            "took": int((time.monotonic() - started) * 1000),
            "errors": fault is not None,
            "items": items,
        })


class ElasticsearchStandin:
    """The stand-in server, threaded, in this process. ``port=0`` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, max_docs: int = DEFAULT_MAX_DOCS):
        self.store = Store(max_docs=max_docs)
        handler = type("StandinHandler", (_Handler,), {"store": self.store})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def start(self) -> ElasticsearchStandin:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="es-standin", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ElasticsearchStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StandinClient:
    """Reads back and steers a running stand-in over HTTP (stdlib only)."""

    def __init__(self, url: str, timeout: float = 5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"null")

    def docs(self, index: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/_standin/docs?index={index}")["docs"]

    def all_docs(self) -> dict[str, list[dict[str, Any]]]:
        return self._call("GET", "/_standin/docs")

    def indices(self) -> dict[str, int]:
        return self._call("GET", "/_standin/indices")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_standin/stats")

    def clear(self) -> None:
        self._call("DELETE", "/_standin/docs")

    def fault(self, *, status: int = 0, drop: bool = False, items: bool = False,
              count: int | None = None, seconds: float | None = None) -> None:
        spec: dict[str, Any] = {"status": status, "drop": drop, "items": items}
        if count is not None:
            spec["count"] = count
        if seconds is not None:
            spec["seconds"] = seconds
        self._call("POST", "/_standin/fault", spec)

    def clear_fault(self) -> None:
        self._call("DELETE", "/_standin/fault")

    def healthy(self) -> bool:
        try:
            request = urllib.request.Request(self.url + "/")
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.headers.get(PRODUCT_HEADER[0]) == PRODUCT_HEADER[1]
        except (urllib.error.URLError, OSError):
            return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.es_standin",
        description="Elasticsearch bulk-API stand-in (not Elasticsearch): records documents, injects faults.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=19200)
    parser.add_argument("--max-docs", type=int, default=DEFAULT_MAX_DOCS,
                        help="documents kept in memory; beyond that they are only counted")
    args = parser.parse_args(argv)
    standin = ElasticsearchStandin(args.host, args.port, max_docs=args.max_docs)
    print(f"Elasticsearch stand-in listening on {standin.url}", file=sys.stderr, flush=True)
    try:
        standin.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
