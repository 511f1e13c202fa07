"""A bounded queue and one worker thread that exports in batches: what the log bridge and the
audit trail use (spans go through the SDK's BatchSpanProcessor).

``put`` never blocks: past ``max_queue`` items the item is refused and ``on_full`` decides what
happens to it (the log bridge counts it as dropped; the audit trail writes it to its fallback
file). A batch that every exporter did not take is given to ``on_failure``. After ``fork()`` the
child gets a fresh lock, an empty queue and its own worker. ``synchronous=True`` exports on
the caller's thread (the in-memory test capture).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

from vitalyst_otel.setup.lifecycle import lifecycle

_log = logging.getLogger("vitalyst_otel.export")


def _succeeded(result) -> bool:
    return getattr(result, "name", "SUCCESS") == "SUCCESS"


class BatchQueue:
    def __init__(self, exporters: Sequence, name: str, max_queue: int = 2048, max_batch: int = 512,
                 delay_s: float = 1.0, on_full: Callable[[list], None] | None = None,
                 on_failure: Callable[[list, str], None] | None = None,
                 on_success: Callable[[list], None] | None = None, synchronous: bool = False):
        self.exporters = list(exporters)
        self.name = name
        self.max_queue = max_queue
        self.max_batch = max(1, min(max_batch, max_queue))
        self.delay_s = delay_s
        self.on_full = on_full
        self.on_failure = on_failure
        self.on_success = on_success
        self.synchronous = synchronous
        self.dropped = 0
        self._queue: deque = deque()
        self._stopped = False
        self._start()
        lifecycle.on_fork(self._start)

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._export_lock = threading.Lock()
        self._wake = threading.Event()
        self._queue.clear()
        self._thread = None
        if not self.synchronous:
            self._thread = threading.Thread(target=self._work, name=f"vitalyst-{self.name}", daemon=True)
            self._thread.start()

    def put(self, item) -> None:
        if self._stopped:
            self._refuse([item])
            return
        if self.synchronous:
            self._export([item])
            return
        queue = self._queue
        if len(queue) >= self.max_queue:
            self._refuse([item])
            return
        queue.append(item)
        if len(queue) >= self.max_batch:
            self._wake.set()

    def _refuse(self, items: list) -> None:
        self.dropped += len(items)
        if self.on_full is not None:
            self.on_full(items)

    def _take(self) -> list:
        with self._lock:
            queue = self._queue
            return [queue.popleft() for _ in range(min(self.max_batch, len(queue)))]

    def _export(self, batch: list) -> None:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        failure = ""
        try:
            for exporter in self.exporters:
                try:
                    if not _succeeded(exporter.export(batch)):
                        failure = "export failed"
                except Exception as exc:  # noqa: BLE001 - an exporter bug must not kill the worker
                    failure = f"export error: {type(exc).__name__}: {exc}"
        finally:
            detach(token)
        if failure:
            if self.on_failure is not None:
                self.on_failure(batch, failure)
        elif self.on_success is not None:
            self.on_success(batch)

    def _drain(self, deadline: float | None = None) -> bool:
        wait = -1 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._export_lock.acquire(timeout=wait):
            # An export is stuck (a collector that does not answer): do not wait for it.
            if self._stopped:
                self._refuse(self._take_all())
            return False
        try:
            while True:
                batch = self._take()
                if not batch:
                    return True
                if deadline is not None and time.monotonic() > deadline:
                    self._refuse(batch + self._take_all())
                    return False
                self._export(batch)
        finally:
            self._export_lock.release()

    def _take_all(self) -> list:
        with self._lock:
            items = list(self._queue)
            self._queue.clear()
            return items

    def _work(self) -> None:
        while not self._stopped:
            self._wake.wait(self.delay_s)
            self._wake.clear()
            if not self._stopped:
                self._drain()

    def force_flush(self, timeout_s: float = 30.0) -> bool:
        return self._drain(time.monotonic() + timeout_s)

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Export what is queued within ``timeout_s`` (an export already under way, or one that
        starts now, is bounded by the exporter's own deadline); what is left is refused
        (``on_full``)."""
        if self._stopped:
            return True
        self._stopped = True
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        if self._thread is not None:
            self._thread.join(max(0.0, timeout_s / 2))
        done = self._drain(deadline)
        for exporter in self.exporters:
            try:
                exporter.shutdown()  # also aborts an export that is still under way
            except Exception:  # noqa: BLE001
                _log.debug("exporter shutdown failed", exc_info=True)
        if self._thread is not None and self._thread.is_alive():
            # Let an aborted in-flight batch reach on_failure (the audit fallback) before we go.
            self._thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        return done
