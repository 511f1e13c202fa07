"""The rest of the request path (issue 16), new against old in one process, interleaved:

    python -m benchmarks.request_path [--rounds 9] [--requests 10000]

- the server middleware per request (``thread_time`` of the request loop around an app that only
  answers, as benchmarks/server_span.py builds it) with the duration histogram's in-place
  exemplar filter and bucket aggregation (vitalyst_otel/http/bucket_aggregate.py) against the
  same middleware handing the SDK a ``Measurement`` (the previous path), in a sampled span;
- one histogram record alone, both ways, in a sampled and in an unsampled span;
- the query redaction with its cache and pre-check against the parsing path alone, for a
  repeated query and for ever new ones;
- objects per request: the net growth of GC-tracked objects (collector off) and the collections
  per 1000 requests (collector on).

Medians over the rounds (µs per call).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time

from benchmarks.server_span import _loop, answer, us_per_request


class SdkBuckets:
    """BENCHMARK BASELINE ONLY: the previous path, the SDK's filter and ``aggregate(Measurement)``."""

    def __init__(self, measurement_type):
        self._measurement = measurement_type

    def should_sample(self, exemplar_filter, amount, now, attributes, context):
        return exemplar_filter.should_sample(amount, now, attributes, context)

    def aggregate(self, aggregation, instrument, amount, now, attributes, context, sample):
        measurement = self._measurement(amount, now, instrument, context, None)
        object.__setattr__(measurement, "attributes", attributes)
        aggregation.aggregate(measurement, sample)


def build():
    from benchmarks.server_span import providers
    from vitalyst_otel.http.server import HttpServerTelemetry, ServerTelemetryMiddleware
    from vitalyst_otel.redaction import Redactor

    tracer_provider, meter_provider = providers()
    new = HttpServerTelemetry(tracer_provider, meter_provider, Redactor(()))
    old = HttpServerTelemetry(tracer_provider, meter_provider, Redactor(()))
    recorder = old._duration_recorder
    recorder.buckets = SdkBuckets(recorder._measurement)
    return (tracer_provider, meter_provider, ServerTelemetryMiddleware(answer, new),
            ServerTelemetryMiddleware(answer, old))


def _timed(call, n: int) -> float:
    started = time.thread_time()
    for _ in range(n):
        call()
    return (time.thread_time() - started) / n * 1e6


def histogram_records(tracer_provider, meter_provider, rounds: int, n: int) -> dict:
    from opentelemetry import context, trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    from vitalyst_otel.http.bound_histogram import BoundRecorder
    from vitalyst_otel.http.server import DURATION_BUCKETS

    histogram = meter_provider.get_meter("bench").create_histogram(
        "d", unit="s", explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS))
    attributes = {"http.request.method": "GET", "url.scheme": "http", "http.response.status_code": 200,
                  "http.route": "/items/{item_id}", "network.protocol.version": "1.1"}
    new = BoundRecorder(histogram)
    old = BoundRecorder(histogram)
    old.buckets = SdkBuckets(old._measurement)
    new_set, old_set = new.bind(attributes), old.bind(attributes)
    found = {}
    for label, provider in (("sampled span", tracer_provider), ("unsampled span", TracerProvider(sampler=ALWAYS_OFF))):
        span = provider.get_tracer("bench").start_span("s")
        token = context.attach(trace.set_span_in_context(span))
        times: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(rounds):
            for name in ("old", "new") if r % 2 else ("new", "old"):
                bound = old_set if name == "old" else new_set
                times[name].append(_timed(lambda b=bound: b.record(0.003), n))
        context.detach(token)
        found[label] = {k: statistics.median(v) for k, v in times.items()}
    return found


def query_redaction(rounds: int, n: int) -> dict:
    from vitalyst_otel.config.variables import DEFAULT_REDACT_KEYS
    from vitalyst_otel.redaction import Redactor
    from vitalyst_otel.redaction.scanner import clip

    found = {}
    for label, make in (("one query again and again", lambda i: "page=2&size=50&sort=name"),
                        ("ever new queries", lambda i: f"page={i}&size=50&sort=name")):
        times: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(rounds):
            queries = [make(i + r * n) for i in range(n)]
            for name in ("old", "new") if r % 2 else ("new", "old"):
                redactor = Redactor(DEFAULT_REDACT_KEYS)
                call = redactor.query if name == "new" else (
                    lambda q, red=redactor: red._query_by_pairs(clip(q, red.max_chars)))
                started = time.thread_time()
                for q in queries:
                    call(q)
                times[name].append((time.thread_time() - started) / n * 1e6)
        found[label] = {k: statistics.median(v) for k, v in times.items()}
    return found


def objects_per_request(app, n: int) -> dict:
    gc.collect()
    gc.disable()
    before = gc.get_count()[0]
    asyncio.run(_loop(app, n))
    grown = gc.get_count()[0] - before
    gc.enable()
    gc.collect()
    collections = [0, 0, 0]

    def count(phase, info):
        if phase == "stop":
            collections[info["generation"]] += 1

    gc.callbacks.append(count)
    asyncio.run(_loop(app, n))
    gc.callbacks.remove(count)
    return {"net_tracked_per_request": grown / n, "collections_per_1000": [c * 1000 / n for c in collections]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=10000)
    args = parser.parse_args(argv)
    tracer_provider, meter_provider, new, old = build()
    us_per_request(new, 2000)
    us_per_request(old, 2000)
    times: dict[str, list[float]] = {"app alone": [], "old": [], "new": []}
    for r in range(args.rounds):
        times["app alone"].append(us_per_request(answer, args.requests))
        for name in ("old", "new") if r % 2 else ("new", "old"):  # either one first, by turns
            times[name].append(us_per_request(old if name == "old" else new, args.requests))
    print("middleware per request, sampled span (µs): "
          + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in times.items()))
    for label, found in histogram_records(tracer_provider, meter_provider, args.rounds, args.requests).items():
        print(f"one histogram record, {label} (µs): old {found['old']:.2f}, new {found['new']:.2f}")
    for label, found in query_redaction(args.rounds, args.requests).items():
        print(f"query redaction, {label} (µs): old {found['old']:.2f}, new {found['new']:.2f}")
    for name, app in (("app alone", answer), ("middleware", new)):
        print(f"objects, {name}: {objects_per_request(app, args.requests)}")
    tracer_provider.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
