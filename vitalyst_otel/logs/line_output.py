"""Writing a finished line (UTF-8 bytes with its newline) to a text stream: straight to its byte
buffer when it has one (no str round trip, no text-layer encoding), after whatever the text layer
still holds, and flushed, so a reader sees every line as soon as it is written."""

from __future__ import annotations

from typing import Any


def write_line(stream: Any, line: bytes) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(line.decode("utf-8"))
        stream.flush()
        return
    stream.flush()  # whatever the text layer still holds goes first
    buffer.write(line)
    buffer.flush()


def passes_all(handler: Any, levelno: int) -> bool:
    """``handler`` would emit a record of ``levelno`` as it is: its level lets it, no filters."""
    return not handler.filters and handler.level <= levelno


def write_through(handler: Any, line: bytes) -> None:
    """``line`` written to a stream handler's stream under its lock, as its ``handle`` would,
    without a ``LogRecord``: for a writer that is the only listener of its logger."""
    with handler.lock:
        write_line(handler.stream, line)
