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
