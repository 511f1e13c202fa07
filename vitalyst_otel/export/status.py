"""Per-signal export state: the last success, and one warning per outage instead of one per batch.

An exporter calls :meth:`ExportStatus.succeeded` or :meth:`ExportStatus.failed` after every
attempt. The first failure after a success logs one warning naming the signal, the endpoint and
the reason; further failures are counted silently; the first success after an outage logs one
line saying how long it lasted and how many batches were lost. The health check reads
:attr:`last_success` (seconds since the epoch, 0 for never).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from vitalyst_otel.setup.lifecycle import lifecycle

_log = logging.getLogger("vitalyst_otel.export")
QUEUE_FULL_REPEAT_S = 300.0


@dataclass
class StatusSnapshot:
    signal: str
    endpoint: str
    healthy: bool
    last_success: float
    last_failure: float
    failed_batches: int
    dropped_items: int
    last_error: str | None
    repaired_items: int = 0
    invalid_items: int = 0


class ExportStatus:
    def __init__(self, signal: str, endpoint: str, clock=time.time):
        self.signal = signal
        self.endpoint = endpoint
        self._clock = clock
        self._lock = threading.Lock()
        self.healthy = True
        self.last_success = 0.0
        self.last_failure = 0.0
        self.outage_started = 0.0
        self.failed_batches = 0
        self.dropped_items = 0
        self.outage_failures = 0
        self.outage_dropped = 0
        self.queue_full_warned = -QUEUE_FULL_REPEAT_S
        self.queue_dropped_since_warning = 0
        self.last_error: str | None = None
        self.repaired_items = 0
        self.invalid_items = 0
        lifecycle.on_fork(self._new_lock)

    def _new_lock(self) -> None:
        self._lock = threading.Lock()

    def succeeded(self) -> None:
        with self._lock:
            now = self._clock()
            self.last_success = now
            if self.healthy:
                return
            self.healthy = True
            lost, dropped = self.outage_failures, self.outage_dropped
            lasted = now - self.outage_started
            self.outage_failures = self.outage_dropped = 0
        _log.warning(
            "Export of %s to %s recovered after %.1f s; %d batch(es) were not delivered, %d "
            "item(s) dropped from the full queue.", self.signal, self.endpoint, lasted, lost, dropped)

    def attempt_failed(self, reason: str) -> None:
        """An attempt failed and will be retried: the outage starts now (one warning), the batch
        is not lost yet."""
        with self._lock:
            if not self.healthy:
                return
            self.healthy = False
            self.outage_started = self.last_failure = self._clock()
            self.last_error = reason
        self._warn(reason)

    def dropped(self, items: int) -> None:
        """Items refused because the export queue was full. During an outage that is expected
        and only counted (the recovery line gives the number); otherwise the exporter cannot keep
        up, which is said at most once every QUEUE_FULL_REPEAT_S seconds."""
        with self._lock:
            now = self._clock()
            self.dropped_items += items
            self.outage_dropped += items
            self.queue_dropped_since_warning += items
            if not self.healthy or now - self.queue_full_warned < QUEUE_FULL_REPEAT_S:
                return
            self.queue_full_warned = now
            count, self.queue_dropped_since_warning = self.queue_dropped_since_warning, 0
        _log.warning("The %s export queue is full: %d item(s) dropped; the exporter cannot keep up "
                     "with what the application produces (the application is not affected).",
                     self.signal, count)

    def repaired(self, strings: int) -> None:
        """Strings that were not valid UTF-8 (lone surrogates), sent escaped: said once, then counted."""
        with self._lock:
            first = self.repaired_items == 0
            self.repaired_items += strings
        if first:
            _log.warning("A %s item held text that is not valid UTF-8 (a lone surrogate); it was sent with the "
                         "character escaped. Further cases are counted (ExportStatus.repaired_items), not logged.", self.signal)

    def invalid(self, items: int, reason: str) -> None:
        """Items that could not be encoded at all, dropped alone (never their batch): said once, then counted."""
        with self._lock:
            first = self.invalid_items == 0
            self.invalid_items += items
            self.dropped_items += items
        if first:
            _log.warning("A %s item could not be encoded (%s) and was dropped alone; the rest of its batch "
                         "was sent. Further cases are counted (ExportStatus.invalid_items), not logged.", self.signal, reason)

    def _warn(self, reason: str) -> None:
        _log.warning(
            "Export of %s to %s failed (%s); telemetry for this signal is dropped until it "
            "recovers. The application is not affected; one line will say when it recovers.",
            self.signal, self.endpoint, reason,
        )

    def failed(self, reason: str, items: int = 0) -> None:
        with self._lock:
            now = self._clock()
            self.last_failure = now
            self.failed_batches += 1
            self.dropped_items += items
            self.outage_failures += 1
            self.last_error = reason
            if not self.healthy:
                return
            self.healthy = False
            self.outage_started = now
        self._warn(reason)

    def snapshot(self) -> StatusSnapshot:
        with self._lock:
            return StatusSnapshot(self.signal, self.endpoint, self.healthy, self.last_success,
                                  self.last_failure, self.failed_batches, self.dropped_items,
                                  self.last_error, self.repaired_items, self.invalid_items)
