"""The application variants: the same trivial FastAPI app, instrumented each way we compare.

Each builder runs in a fresh benchmark process and returns a :class:`Built` with the app and how
to flush and stop its telemetry. Instrumented variants export for real over OTLP/HTTP to the
endpoint in ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the benchmark receiver, or a closed port for the
collector-down benchmark). To add a variant: write a builder, add it to :data:`BUILDERS`, and name
it in the benchmark's variant list (benchmarks/suite.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

ROUTE = "/items/{item_id}"


class Unavailable(Exception):
    """The variant cannot run on this installation (a package or feature is missing); the
    suite reports it as skipped with this message."""


@dataclass
class Built:
    app: object
    flush: Callable[[], None] = lambda: None
    shutdown: Callable[[float], object] = lambda timeout: None
    notes: list[str] = field(default_factory=list)


@dataclass
class Recorder:
    """A logging or metric-API variant: ``one()`` makes one call; ``flush()`` empties export
    queues; ``stop()`` shuts down; ``otlp`` says whether it exports log records."""

    one: Callable[[], None]
    flush: Callable[[], object] = lambda: None
    stop: Callable[[], object] = lambda: None
    otlp: bool = False


def endpoint() -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318").rstrip("/")


def fastapi_supports_telemetry() -> bool:
    import inspect

    from fastapi import FastAPI

    return "telemetry" in inspect.signature(FastAPI.__init__).parameters


def make_app(native: bool | None):
    """The benchmark app. ``native=False`` switches FastAPI's own telemetry off (where the
    installed FastAPI has it), ``True`` leaves it on, ``None`` leaves FastAPI's defaults."""
    from fastapi import FastAPI

    if native is None or not fastapi_supports_telemetry():
        if native is True:
            raise Unavailable("the installed FastAPI has no native telemetry (FastAPI(telemetry=...))")
        app = FastAPI()
    elif native:
        app = FastAPI(telemetry={"tracing": True, "metrics": True, "logs": True})
    else:
        app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.get(ROUTE)
    async def read_item(item_id: int):
        return {"item_id": item_id, "name": "widget", "in_stock": True}

    return app


def sdk_providers():
    """The SDK as its documentation sets it up: global tracer and meter providers, batch span
    processor and periodic metric reader, OTLP/HTTP exporters (SDK defaults otherwise; the export
    interval comes from OTEL_METRIC_EXPORT_INTERVAL, which the suite sets)."""
    from opentelemetry import metrics, trace
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    base = endpoint()
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "bench")})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    meter_provider = MeterProvider(resource=resource, metric_readers=[
        PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics"))])
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)

    def flush() -> None:
        tracer_provider.force_flush()
        meter_provider.force_flush()

    def shutdown(timeout: float) -> None:
        tracer_provider.shutdown()
        meter_provider.shutdown()

    return tracer_provider, meter_provider, flush, shutdown


def build_plain() -> Built:
    return Built(make_app(native=False))


def build_contrib() -> Built:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    tracer_provider, meter_provider, flush, shutdown = sdk_providers()
    app = make_app(native=None)  # as a user has it: FastAPI's defaults, contrib added
    FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider, meter_provider=meter_provider)
    return Built(app, flush, shutdown)


def build_native() -> Built:
    _, _, flush, shutdown = sdk_providers()
    return Built(make_app(native=True), flush, shutdown)


def build_pfi() -> Built:
    try:
        from prometheus_fastapi_instrumentator import Instrumentator
    except ImportError as exc:
        raise Unavailable(f"prometheus-fastapi-instrumentator is not installed ({exc})") from exc
    app = make_app(native=False)
    Instrumentator().instrument(app)
    return Built(app)


def _ours(**env: str) -> Built:
    os.environ.update(env)
    os.environ.setdefault("OTEL_LOGS_EXPORTER", "otlp")
    import vitalyst_otel

    app = make_app(native=None)  # ours decides about FastAPI's native telemetry itself
    handle = vitalyst_otel.configure(app=app)
    return Built(app, lambda: handle.force_flush(10.0), handle.shutdown)


def build_ours() -> Built:
    return _ours()


def build_ours_old_redactor() -> Built:
    """ours with the redactor as it was before issue 10 (benchmarks/old_redaction.py): the
    baseline of the new redactor's per-request cost."""
    from benchmarks.old_redaction import install_baseline

    install_baseline()
    return _ours()


def build_ours_sampled10() -> Built:
    return _ours(OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1")


def build_ours_access_stdout() -> Built:
    return _ours(VITALYST_ACCESS_LOG_OTLP="false")


def build_ours_access_logging() -> Built:
    """ours with a pass-through filter on ``uvicorn.access``, as a user's filter would be: every
    access line takes the logging path (``findCaller``, ``makeRecord``, the handlers), as before the
    direct one (vitalyst_otel/logs/access_line.py); its baseline in the same run."""
    import logging

    built = _ours()
    logging.getLogger("uvicorn.access").addFilter(lambda record: True)
    return built


def build_ours_metrics60s() -> Built:
    """ours collecting and exporting metrics every 60 s (the SDK default) instead of the suite's 1 s:
    what metric collection adds to the served latency."""
    return _ours(OTEL_METRIC_EXPORT_INTERVAL="60000")


def build_ours_nogc() -> Built:
    """ours with the garbage collector off while it serves (benchmark only: memory grows): the
    upper bound of what GC pauses add to the served latency."""
    import gc

    built = _ours()
    gc.disable()
    return built


def build_ours_eager_imports() -> Built:
    """ours in an app that imports the instrumented libraries installed here (openai, httpx)
    before configure(): what configure() cost when it activated every instrumentor at once."""
    import httpx  # noqa: F401
    import openai  # noqa: F401

    return _ours()


def build_ours_contrib_runtime() -> Built:
    """ours with the runtime metrics read by contrib's system-metrics instrumentor, as before
    vitalyst_otel read them itself (same metrics): the baseline of the memory figure."""
    from opentelemetry import metrics
    from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

    built = _ours(VITALYST_RUNTIME_METRICS="false")
    config = {"process.cpu.time": ["user", "system"], "process.memory.usage": None,
              "process.memory.virtual": None, "process.thread.count": None,
              "process.open_file_descriptor.count": None, "process.context_switches": ["involuntary", "voluntary"],
              "cpython.gc.collections": None, "cpython.gc.collected_objects": None,
              "cpython.gc.uncollectable_objects": None}
    SystemMetricsInstrumentor(config=config).instrument(meter_provider=metrics.get_meter_provider())
    return built


def build_ours_unsliced() -> Built:
    """ours with the export workers redacting and encoding each batch in one go, never pausing
    for the request thread (vitalyst_otel/export/gil_slices.py): what the slices do."""
    from vitalyst_otel.export import gil_slices

    gil_slices.SLICE_S = float("inf")
    return _ours()


def _ours_sliced(slice_s: float, pause_s: float) -> Built:
    """ours with other GIL slices on the export workers (vitalyst_otel/export/gil_slices.py)."""
    from vitalyst_otel.export import gil_slices

    gil_slices.SLICE_S, gil_slices.PAUSE_S = slice_s, pause_s
    return _ours()


BUILDERS: dict[str, Callable[[], Built]] = {
    "plain": build_plain,
    "contrib": build_contrib,
    "native": build_native,
    "pfi": build_pfi,
    "ours": build_ours,
    "ours_sampled10": build_ours_sampled10,
    "ours_old_redactor": build_ours_old_redactor,
    "ours_access_stdout": build_ours_access_stdout,
    "ours_access_logging": build_ours_access_logging,
    "ours_unsliced": build_ours_unsliced,
    "ours_slice2ms": lambda: _ours_sliced(0.002, 0.0001),
    "ours_slice1ms": lambda: _ours_sliced(0.001, 0.0001),
    "ours_pause0": lambda: _ours_sliced(0.0005, 0.0),
    "ours_eager_imports": build_ours_eager_imports,
    "ours_contrib_runtime": build_ours_contrib_runtime,
    "ours_with_psutil": build_ours,  # the memory benchmark leaves psutil importable for it
    "ours_metrics60s": build_ours_metrics60s,
    "ours_nogc": build_ours_nogc,
    # collector-down benchmark: the same as ``ours``/``contrib``; the suite points the endpoint
    # at a closed port for the *_down variants.
    "ours_up": build_ours,
    "ours_down": build_ours,
    "contrib_down": build_contrib,
}

DESCRIPTIONS = {
    "plain": "FastAPI, native telemetry off, no instrumentation",
    "contrib": "contrib FastAPIInstrumentor + SDK (BatchSpanProcessor, PeriodicExportingMetricReader, OTLP/HTTP)",
    "native": "FastAPI native telemetry + the same SDK set-up",
    "pfi": "prometheus-fastapi-instrumentator (metrics only, no export)",
    "ours": "vitalyst_otel.configure(app=app), defaults, traces+metrics+logs over OTLP/HTTP",
    "ours_sampled10": "ours with OTEL_TRACES_SAMPLER=parentbased_traceidratio, ARG=0.1",
    "ours_access_stdout": "ours with VITALYST_ACCESS_LOG_OTLP=false (access lines on stdout only)",
    "ours_access_logging": "ours with a pass-through filter on uvicorn.access: access lines through logging, as before",
    "ours_metrics60s": "ours with OTEL_METRIC_EXPORT_INTERVAL=60000 (the suite sets 1000 for every variant)",
    "ours_nogc": "ours with gc.disable() after set-up: the upper bound of GC's share of the latency",
    "ours_eager_imports": "ours in an app that imports openai and httpx first (configure() before lazy instrumentors)",
    "ours_contrib_runtime": "ours with contrib's system-metrics instrumentor reading the runtime metrics (before issue 16)",
    "ours_with_psutil": "ours with psutil installed (macOS, the [host] extra): the SDK imports it",
    "ours_unsliced": "ours exporting each batch in one go (no GIL slices): the slices' baseline",
    "ours_slice2ms": "ours with 2 ms GIL slices (0.1 ms pause) on the export workers instead of 0.5 ms",
    "ours_slice1ms": "ours with 1 ms GIL slices (0.1 ms pause) on the export workers instead of 0.5 ms",
    "ours_pause0": "ours with 0.5 ms GIL slices and time.sleep(0) as the pause",
    "ours_old_redactor": "ours with the pre-issue-10 redactor (benchmarks/old_redaction.py): baseline of the new one",
    "ours_up": "ours, receiver up",
    "ours_down": "ours, receiver down (connection refused)",
    "contrib_down": "contrib + SDK, receiver down (reference)",
}


def build(name: str) -> Built:
    try:
        builder = BUILDERS[name]
    except KeyError:
        raise Unavailable(f"no app variant named {name!r}") from None
    return builder()
