"""Where the served case's CPU goes: py-spy's collapsed stacks (``--format raw --threads``) sorted
into cost buckets.

A stack belongs to the first bucket, in :data:`BUCKETS` order, that one of its frames matches
(a frame is ``function (path:line)``); its thread (the request loop or an export thread) is kept
apart, since an export thread's time is what competes with requests for the GIL.
"""

from __future__ import annotations

import re
from collections import Counter

# A stack whose leaf frame waits (a condition, the selector) is idle time, not CPU.
IDLE = re.compile(r"^(Condition\.wait|Event\.wait|EpollSelector\.select|select|_wait_for_tstate_lock) ")
# (bucket, pattern searched in the whole stack); the first match wins.
SPECIFIC: list[tuple[str, re.Pattern]] = [(name, re.compile(pattern)) for name, pattern in [
    ("span redaction (export thread)", r"redaction/spans\.py|RedactingSpanExporter\._clean"),
    ("encoding (protobuf)", r"(^|[ (/;])protobuf/|google/protobuf"),
    ("HTTP send", r"http/client\.py|export/http\.py|socket\.py|ssl\.py"),
    ("metric collection (reader thread)", r"PeriodicExportingMetricReader\._ticker"),
    # The span queue is a BatchQueue too: its _put_sized under span_processor.py is the span's.
    ("access line: OTLP log record", r"logs/bridge\.py|log_record_size|^(?!.*span_processor\.py).*BatchQueue\._put_sized"),
    ("access line: JSON to stdout", r"logs/json_format\.py|logs/line_output\.py"),
    ("access line: logging call + filter", r"logging/__init__\.py|logs/setup\.py|logs/access_filter\.py"
     r"|logs/access_line\.py"),
    # Before the span: the histogram's exemplar reads the current span (context, propagation frames).
    ("histogram record", r"metrics/_internal|Measurement|bound_histogram\.py"),
    ("span (start, attributes, end, queue)", r"(^|[ (/;])trace/__init__\.py|trace/id_generator|sampling\.py"
     r"|opentelemetry/context|context/__init__\.py|contextvars_context|propagat|span_processor\.py|span_size"
     r"|http/server_span\.py|http/span_build\.py"
     r"|attributes/__init__\.py \((BoundedAttributes|_clean)[^;]*;(?!.*Measurement)"),
    ("socket write to the client (kernel)", r"_SelectorSocketTransport\.write"),
]]
# Otherwise the stack belongs to the package of its leaf-most frame that one of these matches.
BY_LEAF: list[tuple[str, re.Pattern]] = [(name, re.compile(pattern)) for name, pattern in [
    ("middleware (own code)", r"vitalyst_otel/|http/server\.py|redaction/|request_context"),
    ("app (FastAPI, Starlette, pydantic)", r"fastapi/|starlette/|pydantic"),
    ("server (uvicorn, asyncio, h11/httptools)", r"uvicorn/|asyncio/|h11/|httptools"),
]]


def parse(text: str) -> list[tuple[str, list[str], int]]:
    """(thread label, frames root first, samples) per line of py-spy's raw output."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        thread = frames.pop(0) if frames and frames[0].startswith("thread ") else "?"
        out.append((thread, frames, int(count)))
    return out


def thread_kind(thread: str) -> str:
    return "request loop" if "MainThread" in thread else "export threads"


def bucket(frames: list[str]) -> str:
    if frames and IDLE.match(frames[-1]):
        return "idle (waiting)"
    joined = ";".join(frames)
    for name, pattern in SPECIFIC:
        if pattern.search(joined):
            return name
    for frame in reversed(frames):
        for name, pattern in BY_LEAF:
            if pattern.search(frame):
                return name
    return "other"


def breakdown(text: str) -> dict:
    """{"total": busy samples, "idle": idle samples, "by_thread": {kind: busy samples},
    "buckets": {kind: {bucket: samples}}}; idle stacks are counted apart."""
    buckets: dict[str, Counter] = {}
    by_thread: Counter = Counter()
    total = idle = 0
    for thread, frames, count in parse(text):
        name = bucket(frames)
        if name == "idle (waiting)":
            idle += count
            continue
        kind = thread_kind(thread)
        buckets.setdefault(kind, Counter())[name] += count
        by_thread[kind] += count
        total += count
    return {"total": total, "idle": idle, "by_thread": dict(by_thread),
            "buckets": {kind: dict(counter.most_common()) for kind, counter in buckets.items()}}


def render(result: dict) -> str:
    b = result["buckets"]
    cpu = result.get("server_cpu_us_per_request")
    wrk = result.get("wrk") or {}
    lines = [f"variant {result['variant']}{' (GIL holders only)' if result.get('gil_only') else ''}: "
             f"{wrk.get('requests_per_s')} req/s, p99 {wrk.get('p99_ms')} ms, "
             f"server CPU {cpu:.0f} µs/request" if cpu else f"variant {result['variant']}"]
    total = b["total"] or 1
    for kind, counter in b["buckets"].items():
        lines.append(f"  {kind}: {b['by_thread'][kind] / total:.1%} of samples")
        for name, samples in counter.items():
            share = samples / total
            extra = f"  ~{share * cpu:.0f} µs/request" if cpu else ""
            lines.append(f"    {name:<45} {share:6.1%}{extra}")
    return "\n".join(lines)
