"""OTLP/HTTP transport: one keep-alive connection per exporter, bounded retries, bounded time.

Retries follow the OTLP specification (429, 502, 503, 504 and connection errors, exponential
backoff with jitter, ``Retry-After`` honoured) but never past the export timeout, and never once
shutdown has begun: a collector that is down or slow costs a worker thread some sleep, never the
application a request.
"""

from __future__ import annotations

import gzip
import http.client
import os
import random
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from vitalyst_otel.resources import DISTRO_NAME, distribution_version
from vitalyst_otel.setup.lifecycle import lifecycle

RETRYABLE = frozenset({429, 502, 503, 504})
_USER_AGENT = f"{DISTRO_NAME}/{distribution_version(DISTRO_NAME) or 'dev'}"


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status: int | None
    reason: str
    body: bytes = b""


class OtlpHttpSender:
    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
        compression: str = "none",
        certificate: str | None = None,
    ):
        parts = urlsplit(endpoint)
        self.endpoint = endpoint
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout_s
        self._gzip = compression == "gzip"
        self._headers = {
            "Content-Type": "application/x-protobuf",
            "User-Agent": _USER_AGENT,
            **({"Content-Encoding": "gzip"} if self._gzip else {}),
            **dict(headers or {}),
        }
        self._context = ssl.create_default_context(cafile=certificate) if self._https else None
        self._lock = threading.Lock()
        self._conn: http.client.HTTPConnection | None = None
        self._pid = os.getpid()
        self._closing = threading.Event()
        self._hurry = threading.Event()
        # A fork can happen while another thread holds the lock mid-send: the child would wait on
        # it forever. The child gets a fresh lock and no connection.
        lifecycle.on_fork(self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._conn = None
        self._pid = os.getpid()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._conn is None or self._pid != os.getpid():
            # A connection inherited through fork() belongs to the parent: never share it.
            self._pid = os.getpid()
            if self._https:
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout,
                                                         context=self._context)
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        else:
            self._conn.timeout = timeout
            if self._conn.sock is not None:
                self._conn.sock.settimeout(timeout)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        self._conn = None

    def _attempt(self, body: bytes, timeout: float) -> SendResult:
        conn = self._connection(timeout)
        try:
            conn.request("POST", self._path, body=body, headers=self._headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            return SendResult(False, None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if response.will_close:
            self._drop_connection()
        ok = 200 <= response.status < 300
        retry_after = response.getheader("Retry-After")
        reason = f"HTTP {response.status}" + (f" (retry after {retry_after})" if retry_after else "")
        return SendResult(ok, response.status, "" if ok else reason, payload)

    def send(self, body: bytes, deadline: float | None = None, retry: bool = True,
             on_retry=None) -> SendResult:
        """POST one payload; retries (if ``retry``) while it may. ``deadline`` (monotonic) caps
        the whole call."""
        if self._gzip:
            body = gzip.compress(body, compresslevel=5)
        end = time.monotonic() + self._timeout
        if deadline is not None:
            end = min(end, deadline)
        attempt = 0
        with self._lock:
            while True:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return SendResult(False, None, "export timeout reached")
                result = self._attempt(body, remaining)
                if result.ok or not retry or self._hurry.is_set():
                    return result
                if result.status is not None and result.status not in RETRYABLE:
                    return result
                backoff = min(2**attempt, 30) * random.uniform(0.8, 1.2)
                if attempt == 0 and result.status is None:
                    backoff = 0.05  # one quick retry: a pooled connection may just have gone stale
                elif on_retry is not None:
                    on_retry(result.reason)
                attempt += 1
                if backoff >= end - time.monotonic():
                    return result
                if self._hurry.wait(backoff) or self._closing.is_set():
                    return result

    def hurry(self) -> None:
        """Shutdown has begun: stop waiting to retry (an attempt under way still finishes)."""
        self._hurry.set()

    def close(self) -> None:
        """Abort any retry at once and close the connection."""
        self._closing.set()
        self._hurry.set()
        if self._lock.acquire(timeout=0.5):
            try:
                self._drop_connection()
            finally:
                self._lock.release()
