"""The metric-API variants: one recording call each, as instrumentation code makes it per request.

OTel instruments come from an SDK MeterProvider whose periodic reader exports over OTLP/HTTP to
the receiver; prometheus_client metrics live in a fresh registry. Attribute values are passed at
call time, as per-request code does. Each setup returns a :class:`~benchmarks.apps.Recorder` whose ``one()``
records once.

To add a variant (issue 4's business meters): write a setup here, add it to :data:`SETUPS` and,
if it should be compared with something other than the suite's baseline, to :data:`BASELINES`.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.apps import Recorder, Unavailable, endpoint

ROUTE = "/items/{item_id}"


def _meter():
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    provider = MeterProvider(resource=Resource.create({"service.name": "bench"}), metric_readers=[
        PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{endpoint()}/v1/metrics"))])
    return provider.get_meter("bench"), provider


def _registry():
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


def prom_counter():
    from prometheus_client import Counter

    counter = Counter("bench_requests", "Requests.", ["route", "status"], registry=_registry())

    def one() -> None:
        counter.labels(ROUTE, "200").inc()

    return Recorder(one)


def otel_counter():
    meter, provider = _meter()
    counter = meter.create_counter("bench.requests", unit="{request}")

    def one() -> None:
        counter.add(1, {"http.route": ROUTE, "http.response.status_code": 200})

    return Recorder(one, provider.force_flush, provider.shutdown)


def prom_histogram():
    from prometheus_client import Histogram

    histogram = Histogram("bench_duration_seconds", "Duration.", ["route", "status"], registry=_registry())

    def one() -> None:
        histogram.labels(ROUTE, "200").observe(0.012)

    return Recorder(one)


def otel_histogram():
    meter, provider = _meter()
    histogram = meter.create_histogram("bench.duration", unit="s")

    def one() -> None:
        histogram.record(0.012, {"http.route": ROUTE, "http.response.status_code": 200})

    return Recorder(one, provider.force_flush, provider.shutdown)


def ours_business():
    """One business-meter recording through our public API (issue 4): a validation-processed
    counter add with its declared outcome attribute, after configure() (metrics exported to the
    receiver; traces, logs and stdout JSON off)."""
    import os

    try:
        import vitalyst_otel
        from vitalyst_otel import meters
    except ImportError as exc:
        raise Unavailable(f"business meters (issue 4) do not exist ({exc})") from exc
    os.environ.update(OTEL_TRACES_EXPORTER="none", OTEL_LOGS_EXPORTER="none", VITALYST_LOG_FORMAT="none")
    handle = vitalyst_otel.configure()

    def one() -> None:
        meters.validation_processed("valid")

    return Recorder(one, lambda: handle.force_flush(10.0), lambda: handle.shutdown(10.0))


SETUPS: dict[str, Callable] = {
    "prom_counter": prom_counter,
    "otel_counter": otel_counter,
    "prom_histogram": prom_histogram,
    "otel_histogram": otel_histogram,
    "ours_business": ours_business,
}

# Variants compared with something other than the benchmark's baseline (prom_counter).
BASELINES = {"otel_histogram": "prom_histogram"}

DESCRIPTIONS = {
    "prom_counter": "prometheus_client Counter.labels(route, status).inc() (baseline)",
    "otel_counter": "SDK Counter.add(1, {2 attributes}), OTLP periodic reader",
    "prom_histogram": "prometheus_client Histogram.labels(...).observe()",
    "otel_histogram": "SDK Histogram.record(v, {2 attributes}); ratio vs prom_histogram",
    "ours_business": "vitalyst_otel.meters.validation_processed('valid') after configure()",
}
