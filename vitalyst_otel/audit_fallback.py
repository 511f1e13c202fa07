"""The audit fallback file: where audit records go when they cannot be exported, and from where
they are sent again, in order and once, when the endpoint is back.

Layout (``PATH`` is VITALYST_AUDIT_FALLBACK_FILE)::

    PATH              the segment records are appended to (JSON lines)
    PATH.000001 ...   closed segments, oldest first (a segment closes at VITALYST_AUDIT_FALLBACK_MAX_BYTES)
    PATH.sent         replay cursor: "<segment number> <bytes of it already re-sent>"
    PATH.lock         advisory lock of appending and closing segments (held for a moment)
    PATH.replay.lock  advisory lock of replaying: one process (of gunicorn's workers) at a time

At most VITALYST_AUDIT_FALLBACK_BACKUP_COUNT closed segments are kept: past them the oldest is
deleted, and its records are counted as lost and said in one error line. Replay closes the
current segment, then sends the closed ones oldest first in batches; the cursor is written after
every batch the endpoint acknowledged, and a segment is deleted once it is all sent. A process
that dies between an acknowledgement and the cursor write sends that one batch again on the next
replay: that is the only way a record arrives twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per file is assumed
    fcntl = None  # type: ignore[assignment]

from vitalyst_otel.config.variables import BY_NAME

_log = logging.getLogger("vitalyst_otel")
REPLAY_BATCH = 256


class FallbackFile:
    def __init__(self, path: str, max_bytes: int = BY_NAME["VITALYST_AUDIT_FALLBACK_MAX_BYTES"].default,
                 backup_count: int = BY_NAME["VITALYST_AUDIT_FALLBACK_BACKUP_COUNT"].default):
        self.path = os.path.abspath(path)
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self.failed = False
        self.lost = 0  # records deleted unsent with the oldest segment (this process's count)
        self._segment = re.compile(re.escape(os.path.basename(self.path)) + r"\.(\d{6,})$")

    # --- writing --------------------------------------------------------------------------

    def write(self, lines: list[bytes]) -> bool:
        """Append ``lines`` (JSON, without newline); False if the file cannot be written."""
        try:
            with self._locked(".lock"):
                with open(self.path, "ab") as out:
                    out.write(b"".join(line + b"\n" for line in lines))
                if os.path.getsize(self.path) >= self.max_bytes:
                    self._close_segment()
            return True
        except OSError as exc:
            if not self.failed:
                self.failed = True
                _log.error("Audit fallback file %s is not writable (%s): audit records that cannot be "
                           "exported are lost and counted as destination=lost.", self.path, exc)
            return False

    def _close_segment(self) -> None:
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return
        numbers = self._segments()
        os.replace(self.path, self._name((numbers[-1] if numbers else 0) + 1))
        numbers = self._segments()
        while len(numbers) > self.backup_count:
            oldest = numbers.pop(0)
            self._drop(oldest)

    def _drop(self, number: int) -> None:
        name = self._name(number)
        try:
            with open(name, "rb") as segment:
                segment.seek(self._cursor_for(number))
                count = sum(1 for line in segment if line.strip())
            os.remove(name)
        except OSError:
            return
        self.lost += count
        if self.lost > count:
            return  # said once per process; the counter (destination=lost) has the rest
        _log.error("Audit fallback file %s is full (%d segments): its oldest segment was deleted with %d unsent "
                   "audit record(s). Raise VITALYST_AUDIT_FALLBACK_BACKUP_COUNT or fix the export.",
                   self.path, self.backup_count, count)

    # --- replay ---------------------------------------------------------------------------

    def pending(self) -> bool:
        """Whether anything waits to be re-sent (cheap: a directory listing at most)."""
        try:
            if os.path.getsize(self.path) > 0:
                return True
        except OSError:
            pass
        return bool(self._segments())

    def replay(self, send: Callable[[list], bool], decode: Callable[[bytes], object]) -> bool:
        """Send what the file holds, oldest first, in batches (``send`` returns whether the
        endpoint took the batch). True when everything is sent; False when a batch failed (the
        rest stays), or another process is replaying right now."""
        try:
            with self._locked(".replay.lock", blocking=False) as got:
                if not got:
                    return False
                with self._locked(".lock"):  # appends go on meanwhile: replay never blocks a writer long
                    self._close_segment()
                for number in self._segments():
                    if not self._replay_segment(number, send, decode):
                        return False
                return True
        except OSError:
            _log.debug("audit fallback replay failed", exc_info=True)
            return False

    def _replay_segment(self, number: int, send, decode) -> bool:
        name = self._name(number)
        offset = self._cursor_for(number)
        with open(name, "rb") as segment:
            segment.seek(offset)
            while True:
                lines, end = [], offset
                for line in segment:
                    end += len(line)
                    if line.strip():
                        lines.append(line)
                    if len(lines) >= REPLAY_BATCH:
                        break
                if not lines:
                    break
                records = []
                for line in lines:
                    try:
                        records.append(decode(line))
                    except ValueError:  # a torn line (a crash mid-write): it cannot be sent, skip it
                        _log.warning("Skipping an unreadable line of audit fallback segment %s", name)
                if records and not send(records):
                    return False
                offset = end
                self._write_cursor(number, offset)
        os.remove(name)
        with contextlib.suppress(OSError):
            os.remove(self.path + ".sent")
        return True

    def unsent(self) -> list[bytes]:
        """Every line still waiting to be re-sent, oldest first (for tests and diagnostics)."""
        lines = []
        for name, offset in [(self._name(n), self._cursor_for(n)) for n in self._segments()] + [(self.path, 0)]:
            try:
                with open(name, "rb") as segment:
                    segment.seek(offset)
                    lines += [line.rstrip(b"\n") for line in segment if line.strip()]
            except OSError:
                continue
        return lines

    # --- helpers --------------------------------------------------------------------------

    def _name(self, number: int) -> str:
        return f"{self.path}.{number:06d}"

    def _segments(self) -> list[int]:
        directory = os.path.dirname(self.path)
        try:
            names = os.listdir(directory)
        except OSError:
            return []
        return sorted(int(m.group(1)) for m in map(self._segment.match, names) if m)

    def _cursor_for(self, number: int) -> int:
        try:
            with open(self.path + ".sent") as cursor:
                segment, offset = cursor.read().split()
            return int(offset) if int(segment) == number else 0
        except (OSError, ValueError):
            return 0

    def _write_cursor(self, number: int, offset: int) -> None:
        temporary = self.path + ".sent.tmp"
        with open(temporary, "w") as cursor:
            cursor.write(f"{number} {offset}\n")
            cursor.flush()
            os.fsync(cursor.fileno())
        os.replace(temporary, self.path + ".sent")

    @contextlib.contextmanager
    def _locked(self, suffix: str, blocking: bool = True) -> Iterator[bool]:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        if fcntl is None:  # pragma: no cover
            yield True
            return
        with open(self.path + suffix, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class ReplayFirst:
    """An audit exporter in front of ``inner``: while the fallback file holds records, they are
    re-sent first (in order), and a live batch goes out only after them; if they cannot be sent,
    the live batch fails too and is appended behind them. Nothing is replayed once shutdown has
    begun (no time for it: the file keeps them for the next start)."""

    def __init__(self, inner, fallback: FallbackFile, rebuild: Callable[[bytes], object],
                 on_replayed: Callable[[int], None] | None = None):
        self.inner = inner
        self.fallback = fallback
        self.rebuild = rebuild
        self.on_replayed = on_replayed
        self.stopping = False

    def _send(self, records: list) -> bool:
        if self.stopping or not _succeeded(self.inner.export(records)):
            return False
        if self.on_replayed is not None:
            self.on_replayed(len(records))
        return True

    def replay(self) -> bool:
        """Re-send what waits in the file; True if nothing is left."""
        if self.stopping or not self.fallback.pending():
            return not self.fallback.pending()
        return self.fallback.replay(self._send, self.rebuild)

    def export(self, batch):
        if self.fallback.pending() and not self.replay():
            return _FAILURE
        return self.inner.export(batch)

    def begin_shutdown(self, deadline: float) -> None:
        self.stopping = True
        begin = getattr(self.inner, "begin_shutdown", None)
        if begin is not None:
            begin(deadline)

    def shutdown(self):
        self.stopping = True
        return self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class _Failure:
    name = "FAILURE"


_FAILURE = _Failure()


def _succeeded(result) -> bool:
    return getattr(result, "name", "SUCCESS") == "SUCCESS"
