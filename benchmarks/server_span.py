"""The server middleware's CPU per request on the request thread, the server span's fast
attribute path against the SDK's public one, in one process, interleaved:

    python -m benchmarks.server_span [--rounds 15] [--requests 10000] [--profile]

Both middlewares share one tracer provider built by ``build_tracer_provider`` from the default
settings (the byte-bounded span queue, an exporter that drops what it gets) and a meter
provider with an in-memory reader, around an ASGI app that only answers. ``thread_time`` of the
request loop, so the export thread is not counted; medians and minima over the rounds.
``--profile`` prints cProfile's view of the fast path instead.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

from benchmarks.asgi import http_scope

_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


class DroppingExporter:
    def export(self, spans):
        return None

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis=30000):
        return True


class _Factory:
    def named(self, signal, name):
        return DroppingExporter()


async def answer(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive():
    return _REQUEST


async def _send(message):
    pass


async def _loop(app, n: int) -> None:
    for _ in range(n):
        await app(http_scope("/items/1"), _receive, _send)


def us_per_request(app, n: int) -> float:
    started = time.thread_time()
    asyncio.run(_loop(app, n))
    return (time.thread_time() - started) / n * 1e6


def providers():
    """The tracer provider of the default settings (exporting to nothing) and a meter provider
    with an in-memory reader."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource

    from vitalyst_otel.config.settings import Settings
    from vitalyst_otel.redaction import Redactor
    from vitalyst_otel.tracing import build_tracer_provider

    settings = Settings.load({}, environ={})
    tracer_provider = build_tracer_provider(settings, Resource.create({"service.name": "bench"}), Redactor(()),
                                            _Factory())
    return tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()])


def build():
    from vitalyst_otel.http.server import HttpServerTelemetry, ServerTelemetryMiddleware
    from vitalyst_otel.redaction import Redactor

    tracer_provider, meter_provider = providers()
    fast = HttpServerTelemetry(tracer_provider, meter_provider, Redactor(()))
    public = HttpServerTelemetry(tracer_provider, meter_provider, Redactor(()))
    spans = getattr(public, "spans", None)  # absent before the fast path: both are the public path
    if spans is not None:
        spans.fast = False
    return (tracer_provider, ServerTelemetryMiddleware(answer, fast), ServerTelemetryMiddleware(answer, public),
            spans is not None and fast.spans.fast)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    tracer_provider, fast, public, available = build()
    print(f"fast path available: {available}")
    us_per_request(fast, 2000)
    us_per_request(public, 2000)
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        asyncio.run(_loop(fast, args.requests))
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    else:
        bare, slow, quick = [], [], []
        for _ in range(args.rounds):
            bare.append(us_per_request(answer, args.requests))
            slow.append(us_per_request(public, args.requests))
            quick.append(us_per_request(fast, args.requests))
        for name, values in (("app alone", bare), ("public span path", slow), ("fast span path", quick)):
            values.sort()
            print(f"{name:18} {values[len(values) // 2]:7.1f} µs/request median, {values[0]:7.1f} min")
    tracer_provider.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
