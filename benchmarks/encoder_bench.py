"""Encoder benchmark: the SDK's OTLP encoder against ours on realistic spans and log records.

Spans are FastAPI server spans made by the real SDK (ten HTTP attributes, most pairs repeating,
url.path nearly unique, half with a remote parent), log records come through the SDK's logging
handler inside those spans; batches of 512 as the batch processors send them. Several distinct
batches are cycled so that high-cardinality values are not served from our cache by repetition.

Each round times the SDK, then ours, on the same batches (interleaved); the figures are medians
over rounds with min-max. ``run()`` returns them as a dict; ``python -m benchmarks.encoder_bench``
prints a table.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

BATCH = 512
BATCHES = 4

_ROUTES = [("GET", "/items/{item_id}", "/items/{}"), ("GET", "/graph/nodes/{node_id}", "/graph/nodes/{}"),
           ("POST", "/graph/nodes", "/graph/nodes"), ("GET", "/health/ready", "/health/ready"),
           ("PUT", "/validation/{item_id}", "/validation/{}"), ("GET", "/search", "/search")]
_AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
           "python-httpx/0.27.0", "curl/8.5.0", "kube-probe/1.29"]
_CLIENTS = [f"10.0.{i}.{i * 7 % 250}" for i in range(8)]
_STATUS = [200] * 16 + [201, 404, 422, 500]


def _resource():
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": "vitalyst-kg-api", "service.version": "1.4.2",
                            "service.namespace": "vitalyst", "deployment.environment.name": "production",
                            "service.instance.id": "4b0c6e0e-2f0a-4a53-9d6e-7f6b8f1e2a31",
                            "host.name": "kg-api-7d9f8c6b5-x2x9q", "process.pid": 4242})


def make_spans(batches: int = BATCHES, batch: int = BATCH, seed: int = 1) -> list[list[Any]]:
    """``batches`` lists of ``batch`` finished SDK spans (ReadableSpan), as the processor exports."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
    from opentelemetry.trace import set_span_in_context

    rng = random.Random(seed)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=_resource())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("opentelemetry.instrumentation.fastapi", "0.66b2",
                                 schema_url="https://opentelemetry.io/schemas/1.11.0")
    for _ in range(batches * batch):
        method, route, path = rng.choice(_ROUTES)
        status = rng.choice(_STATUS)
        parent = None
        if rng.random() < 0.5:
            remote = SpanContext(rng.getrandbits(128), rng.getrandbits(64), is_remote=True,
                                 trace_flags=TraceFlags(TraceFlags.SAMPLED))
            parent = set_span_in_context(NonRecordingSpan(remote))
        span = tracer.start_span(f"{method} {route}", context=parent, kind=SpanKind.SERVER, attributes={
            "http.request.method": method,
            "url.path": path.format(rng.randrange(1, 100_000)),
            "url.scheme": "http",
            "server.address": "kg-api.vitalyst.svc",
            "server.port": 8000,
            "client.address": rng.choice(_CLIENTS),
            "user_agent.original": rng.choice(_AGENTS),
            "network.protocol.version": "1.1",
            "http.route": route,
            "http.response.status_code": status,
        })
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return [spans[i * batch:(i + 1) * batch] for i in range(batches)]


def make_log_records(batches: int = BATCHES, batch: int = BATCH, seed: int = 2) -> list[list[Any]]:
    """``batches`` lists of ``batch`` SDK ReadableLogRecords from the logging handler, in spans."""
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.trace import TracerProvider

    rng = random.Random(seed)
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=_resource())
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    handler = LoggingHandler(logger_provider=provider)
    logger = logging.Logger("vitalyst.kg.api")  # not registered: no other handler sees these
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    tracer = TracerProvider(resource=_resource()).get_tracer("bench")
    for i in range(batches * batch):
        with tracer.start_as_current_span("request"):
            if i % 10 == 9:
                logger.warning("Validation queue above %d items", rng.randrange(100, 1000))
            else:
                logger.info("Node %s enriched in %.1f ms", rng.randrange(1, 100_000), rng.random() * 50)
    records = list(memory.get_finished_logs())
    provider.shutdown()
    return [records[i * batch:(i + 1) * batch] for i in range(batches)]


def _time_per_item(encode: Callable[[Sequence[Any]], bytes], batches: list[list[Any]],
                   min_seconds: float) -> float:
    """Microseconds per item: cycle through the batches until ``min_seconds`` have passed."""
    gc.collect()
    items = loops = 0
    start = time.perf_counter()
    while True:
        for batch in batches:
            encode(batch)
            items += len(batch)
        loops += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and loops >= 2:
            return elapsed / items * 1e6


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run(rounds: int = 5, min_seconds: float = 0.5) -> dict:
    """Interleaved rounds, SDK then ours on the same batches; medians with min-max."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as sdk_logs
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_spans

    from vitalyst_otel.export import protobuf as encoder

    load_before = os.getloadavg()
    cases = {
        "spans": (make_spans(), lambda b: sdk_spans(b).SerializeToString(), encoder.encode_spans),
        "logs": (make_log_records(), lambda b: sdk_logs(b).SerializeToString(), encoder.encode_logs),
    }
    for name, (batches, sdk, ours) in cases.items():  # warm-up, and a check that they agree
        for batch in batches:
            if sdk(batch) != ours(batch):
                raise AssertionError(f"{name}: our encoding differs from the SDK's")
    times: dict[str, dict[str, list[float]]] = {name: {"sdk": [], "ours": []} for name in cases}
    for _ in range(rounds):
        for name, (batches, sdk, ours) in cases.items():
            times[name]["sdk"].append(_time_per_item(sdk, batches, min_seconds))
            times[name]["ours"].append(_time_per_item(ours, batches, min_seconds))
    result: dict[str, Any] = {"rounds": rounds, "batch": BATCH, "unit": "us per item",
                              "python": platform.python_version(), "cpus": os.cpu_count(),
                              "load_average_before": load_before, "load_average_after": os.getloadavg()}
    for name, variants in times.items():
        ratios = [s / o for s, o in zip(variants["sdk"], variants["ours"], strict=True)]
        sample = cases[name][0][0]
        result[name] = {
            "sdk_us": _summary(variants["sdk"]),
            "ours_us": _summary(variants["ours"]),
            "speedup": _summary(ratios),
            "bytes_per_item": len(cases[name][2](sample)) / len(sample),
        }
    return result


def _table(result: dict) -> str:
    def cell(s: dict[str, float], fmt: str) -> str:
        return f"{s['median']:{fmt}} ({s['min']:{fmt}}-{s['max']:{fmt}})"

    lines = [f"OTLP encoder, batches of {result['batch']}, {result['rounds']} interleaved rounds, "
             "median (min-max)",
             f"{'signal':<8}{'SDK us/item':>24}{'ours us/item':>24}{'speedup':>24}"]
    for name in ("spans", "logs"):
        r = result[name]
        lines.append(f"{name:<8}{cell(r['sdk_us'], '.2f'):>24}{cell(r['ours_us'], '.2f'):>24}"
                     f"{cell(r['speedup'], '.1f'):>24}")
    lines.append(f"load average before/after: {result['load_average_before'][0]:.2f}/"
                 f"{result['load_average_after'][0]:.2f} on {result['cpus']} CPUs")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.5, help="per variant and round")
    parser.add_argument("--json", action="store_true", help="print the dict as JSON as well")
    args = parser.parse_args(argv)
    result = run(args.rounds, args.min_seconds)
    print(_table(result))
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
