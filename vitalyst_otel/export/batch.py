"""A bounded queue and one worker thread that exports in batches: what the log bridge, the
audit trail and the span processor use (vitalyst_otel/export/span_processor.py).

``put`` never blocks: past ``max_queue`` items, or past ``max_bytes`` (the sum of ``size_of``
over what is queued and the batch being exported, :mod:`vitalyst_otel.export.sizes`), the item
is refused and ``on_full`` decides what happens to it (the log bridge counts it as dropped; the
audit trail writes it to its fallback file). A batch that every exporter did not take is given
to ``on_failure``. ``on_idle`` runs on the worker after each round (the audit trail re-sends its
fallback file there). After ``fork()`` the child gets a fresh lock, an empty queue and its own
worker (none for a queue shut down before the fork). ``synchronous=True`` exports on the
caller's thread (the in-memory test capture).
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
                 on_success: Callable[[list], None] | None = None, synchronous: bool = False,
                 max_bytes: int | None = None, size_of: Callable[[object], int] | None = None,
                 on_idle: Callable[[], object] | None = None):
        self.exporters = list(exporters)
        self.name = name
        self.max_queue = max_queue
        self.max_batch = max(1, min(max_batch, max_queue))
        self.delay_s = delay_s
        self.on_full = on_full
        self.on_failure = on_failure
        self.on_success = on_success
        self.on_idle = on_idle
        self.synchronous = synchronous
        self.dropped = 0
        self.max_bytes = max_bytes if size_of is not None else None
        self.size_of = size_of
        self.queued_bytes = self._in_flight_bytes = 0
        self._sizes: deque = deque()  # size of each queued item, in the same order (with max_bytes)
        self._queue: deque = deque()
        self._stopped = False
        self._start()
        lifecycle.on_fork(self._start)

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._export_lock = threading.Lock()
        self._wake = threading.Event()
        self._queue.clear()
        self._sizes.clear()
        self.queued_bytes = self._in_flight_bytes = 0
        self._thread = None
        if not self.synchronous and not self._stopped:  # a queue shut down before a fork stays down
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
        if self.max_bytes is not None:
            self._put_sized(item)
            return
        if len(queue) >= self.max_queue:
            self._refuse([item])
            return
        queue.append(item)
        if len(queue) >= self.max_batch:
            self._wake.set()

    def put_measured(self, item, size: int) -> None:
        """``put`` of an item whose size the producer knows (an encoded log record: its bytes),
        so ``size_of`` is not asked."""
        if self._stopped or self.synchronous or self.max_bytes is None:
            self.put(item)
            return
        self._append_sized(item, size)

    def _put_sized(self, item) -> None:
        try:
            size = self.size_of(item)  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - an item we cannot measure is measured as big
            size = self.max_bytes // 16 + 1  # type: ignore[operator]
        self._append_sized(item, size)

    def _append_sized(self, item, size: int) -> None:
        with self._lock:
            queue = self._queue
            fits = len(queue) < self.max_queue and self.queued_bytes + size <= self.max_bytes
            if fits:
                queue.append(item)
                self._sizes.append(size)
                self.queued_bytes += size
            full = len(queue) >= self.max_batch or self.queued_bytes * 2 >= self.max_bytes  # type: ignore[operator]
        if not fits:
            self._refuse([item])
        elif full:
            self._wake.set()

    def _refuse(self, items: list) -> None:
        self.dropped += len(items)
        if self.on_full is not None:
            self.on_full(items)

    def _take(self) -> list:
        with self._lock:
            queue = self._queue
            count = min(self.max_batch, len(queue))
            if self.max_bytes is not None:
                # Still counted while it is exported (_release): queue plus batch in flight <= max_bytes.
                sizes = self._sizes
                self._in_flight_bytes = sum(sizes.popleft() for _ in range(count))
            return [queue.popleft() for _ in range(count)]

    def _release(self) -> None:
        if self._in_flight_bytes:
            with self._lock:
                self.queued_bytes = max(0, self.queued_bytes - self._in_flight_bytes)
                self._in_flight_bytes = 0

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
                    self._release()
                    self._refuse(batch + self._take_all())
                    return False
                try:
                    self._export(batch)
                finally:
                    self._release()
        finally:
            self._export_lock.release()

    def _take_all(self) -> list:
        with self._lock:
            items = list(self._queue)
            self._queue.clear()
            self._sizes.clear()
            self.queued_bytes = self._in_flight_bytes  # a batch in flight keeps its share until released
            return items

    def _work(self) -> None:
        while not self._stopped:
            self._wake.wait(self.delay_s)
            self._wake.clear()
            if not self._stopped:
                self._drain()
                self._idle()

    def _idle(self) -> None:
        """``on_idle`` on the worker, between exports (the export lock keeps the order of what it sends)."""
        if self.on_idle is None or not self._export_lock.acquire(blocking=False):
            return
        try:
            self.on_idle()
        except Exception:  # noqa: BLE001 - the worker must live on
            _log.debug("on_idle failed", exc_info=True)
        finally:
            self._export_lock.release()

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
