"""One benchmark process: one variant, one round. The suite starts it as

    python -m benchmarks.child MODE VARIANT CONFIG_JSON RESULT_PATH

and reads the JSON result it writes. Modes: ``request`` (in-process ASGI loop), ``serve`` (a
uvicorn server for wrk), ``log``, ``metric``, ``memory``, ``down`` (collector down), ``encoder``.
A variant that cannot run here writes ``{"unavailable": reason}``.

Heavy imports happen inside the modes, so every variant starts from the same interpreter.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


class Noise:
    """How busy the rest of the machine was during a measured window (see probe.SystemCpu)."""

    def __init__(self, config: dict) -> None:
        from benchmarks.probe import SystemCpu, cpu_seconds, pid_cpu_seconds

        self.receiver_pid = config.get("receiver_pid")
        self.machine = SystemCpu()
        self.own = cpu_seconds()
        self.receiver = pid_cpu_seconds(self.receiver_pid)

    def report(self) -> dict:
        from benchmarks.probe import cpu_seconds, pid_cpu_seconds

        own = cpu_seconds() - self.own
        receiver_now = pid_cpu_seconds(self.receiver_pid)
        receiver = (receiver_now - self.receiver) if receiver_now is not None and self.receiver is not None else 0.0
        return {"own_cpu_s": own, "receiver_cpu_s": receiver, **(self.machine.other_cores(own + receiver) or {})}


def _start(app):
    """A fresh event loop with the app's lifespan started and one request served, as a server
    would have it; returns (loop, lifespan)."""
    import asyncio

    from benchmarks.asgi import Lifespan, request

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    lifespan = Lifespan(app)
    loop.run_until_complete(lifespan.startup())
    if loop.run_until_complete(request(app, "/items/1")) != 200:
        raise RuntimeError("the first request failed")
    return loop, lifespan


def _gc_freeze_note() -> dict:
    import gc

    return {"gc_threshold": list(gc.get_threshold()), "gc_frozen": gc.get_freeze_count()}


# --- per request, in-process ----------------------------------------------------------------


def mode_request(variant: str, config: dict) -> dict:
    from benchmarks.apps import build
    from benchmarks.asgi import run_for
    from benchmarks.probe import GcMonitor, ReceiverClient, http_histogram_count, items, received

    receiver = ReceiverClient(config.get("receiver"))
    receiver.reset()
    started = time.perf_counter()
    built = build(variant)
    loop, lifespan = _start(built.app)
    setup_s = time.perf_counter() - started
    warm_requests, _ = loop.run_until_complete(run_for(built.app, config["warmup_s"]))
    built.flush()  # the measured window starts with empty export queues
    before = receiver.stats()
    noise = Noise(config)
    with GcMonitor(census=bool(config.get("gc_census"))) as monitor:
        requests, elapsed = loop.run_until_complete(run_for(built.app, config["seconds"]))
    machine = noise.report()
    at_end = receiver.stats()
    built.flush()
    flushed = receiver.stats()
    loop.run_until_complete(lifespan.shutdown())
    t0 = time.perf_counter()
    built.shutdown(10.0)
    shutdown_s = time.perf_counter() - t0
    loop.close()
    in_window = received(before, at_end)
    after_flush = received(before, flushed)
    total_requests = 1 + warm_requests + requests
    histogram, measured = http_histogram_count(flushed)
    spans_window = in_window["traces"]["items"] if in_window else None
    spans_total = after_flush["traces"]["items"] if after_flush else None
    return {
        "us_per_request": elapsed / requests * 1e6,
        "requests": requests,
        "elapsed_s": elapsed,
        "setup_s": setup_s,
        "shutdown_s": shutdown_s,
        "spans_in_window": spans_window,
        "spans_after_flush": spans_total,
        "spans_per_request": spans_total / requests if spans_total is not None else None,
        "export_requests_in_window": {s: v["requests"] for s, v in in_window.items()} if in_window else None,
        "logs_after_flush": after_flush["logs"]["items"] if after_flush else None,
        "metric_points_after_flush": after_flush["metrics"]["items"] if after_flush else None,
        "http_histogram": histogram,
        "http_histogram_count": measured,
        "total_requests": total_requests,
        # None when the variant exports no metrics at all; 0.0 when it does but without the
        # HTTP duration histogram.
        "metrics_coverage": (measured / total_requests
                             if measured is not None and flushed and flushed["signals"]["metrics"]["requests"]
                             else None),
        "receiver_total": {"spans": items(flushed, "traces")},
        "gc": monitor.report(elapsed),
        "machine": machine,
        **_gc_freeze_note(),
        "notes": built.notes,
    }


# --- a server for wrk -----------------------------------------------------------------------


def mode_serve(variant: str, config: dict) -> dict:
    import uvicorn

    from benchmarks.apps import build

    from benchmarks.probe import GcMonitor

    built = build(variant)
    if config.get("threads_file"):
        _name_threads_on_signal(Path(config["threads_file"]))
    started = time.perf_counter()
    # uvicorn's defaults (access log on, log level info); stdout goes to /dev/null.
    with GcMonitor(census=bool(config.get("gc_census"))) as monitor:
        uvicorn.run(built.app, host="127.0.0.1", port=config["port"], workers=1)
    built.shutdown(5.0)
    return {"gc": monitor.report(time.perf_counter() - started)}


def _name_threads_on_signal(path: Path) -> None:
    """On SIGUSR1, write {native thread id: Python thread name} to ``path`` (Python 3.11 does not
    name OS threads, so /proc shows them all as "python"): benchmarks/served_threads.py."""
    import signal
    import threading

    def write(signum, frame) -> None:
        names = {str(t.native_id): t.name for t in threading.enumerate()}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(names))
        tmp.replace(path)

    signal.signal(signal.SIGUSR1, write)


# --- logging --------------------------------------------------------------------------------


def _timed_loop(one, seconds: float, unroll: int = 100, after=None) -> tuple[int, float]:
    """Call ``one()`` for about ``seconds`` (the clock is read every ``unroll`` calls, after
    ``after()`` if given); returns (calls, elapsed seconds)."""
    clock = time.perf_counter
    start = clock()
    deadline = start + seconds
    calls = 0
    while True:
        for _ in range(unroll):
            one()
        if after is not None:
            after()
        calls += unroll
        now = clock()
        if now >= deadline:
            return calls, now - start


def _active_span():
    from opentelemetry import trace

    if type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider":
        from opentelemetry.sdk.trace import TracerProvider

        trace.set_tracer_provider(TracerProvider())
    return trace.get_tracer("bench").start_as_current_span("request")


def _log_window(recorder, receiver, config: dict, paced: bool) -> dict:
    from benchmarks.probe import GcMonitor, received

    recorder.flush()
    before = receiver.stats()
    noise = Noise(config)
    with GcMonitor(census=bool(config.get("gc_census"))) as monitor:
        if paced and recorder.otlp:
            # the exporting variant's queues are flushed after every ``chunk`` lines, inside the
            # window: nothing is dropped and all export work is paid for in the window
            calls, elapsed = _timed_loop(recorder.one, config["seconds"], config["chunk"], recorder.flush)
        else:
            calls, elapsed = _timed_loop(recorder.one, config["seconds"])
    machine = noise.report()
    recorder.flush()
    delivered = received(before, receiver.stats())
    records = delivered["logs"]["items"] if delivered and recorder.otlp else None
    return {
        "us_per_line": elapsed / calls * 1e6,
        "cpu_us_per_line": machine["own_cpu_s"] / calls * 1e6,
        "lines": calls,
        "elapsed_s": elapsed,
        "otlp_records": records,
        "otlp_delivered": records / calls if records is not None else None,
        "gc": monitor.report(elapsed),
        "machine": machine,
    }


def mode_log(variant: str, config: dict) -> dict:
    """The paced window first (the figure the suite reports), then the same loop unpaced (what a
    tight loop gets, drops and all)."""
    from benchmarks.log_variants import SETUPS, Sinks
    from benchmarks.probe import ReceiverClient

    receiver = ReceiverClient(config.get("receiver"))
    receiver.reset()
    recorder = SETUPS[variant](Sinks())
    with _active_span():
        recorder.one()
        _timed_loop(recorder.one, config["warmup_s"])
        paced = _log_window(recorder, receiver, config, paced=True)
        unpaced = _log_window(recorder, receiver, config, paced=False) if recorder.otlp else None
    recorder.stop()
    return {**paced, "otlp": recorder.otlp, "chunk": config["chunk"], "unpaced": unpaced}


# --- metric API -----------------------------------------------------------------------------


def mode_metric(variant: str, config: dict) -> dict:
    from benchmarks.metric_variants import SETUPS
    from benchmarks.probe import ReceiverClient

    ReceiverClient(config.get("receiver")).reset()
    recorder = SETUPS[variant]()
    recorder.one()
    _timed_loop(recorder.one, config["warmup_s"])
    noise = Noise(config)
    calls, elapsed = _timed_loop(recorder.one, config["seconds"])
    machine = noise.report()
    recorder.flush()
    recorder.stop()
    return {"us_per_call": elapsed / calls * 1e6, "calls": calls, "elapsed_s": elapsed, "machine": machine}


# --- memory ---------------------------------------------------------------------------------


# The variants whose own install brings psutil: contrib's system-metrics instrumentor requires it;
# ours_with_psutil is ours where psutil is there anyway (macOS, the [host] extra, another package
# needing it). The others' installs do not have it on Linux, but this venv has it for the tests,
# and the SDK imports it whenever it is installed (about 2.6 MiB): for them it is not importable.
WITH_PSUTIL = {"ours_contrib_runtime", "ours_with_psutil"}


class NotInstalled:
    """A ``sys.meta_path`` finder: importing one of ``names`` fails as if it were not installed."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the benchmark)", name=name)
        return None


def mode_memory(variant: str, config: dict) -> dict:
    import gc

    from benchmarks.probe import rss_bytes

    if variant not in WITH_PSUTIL:
        sys.meta_path.insert(0, NotInstalled("psutil"))
    at_start = rss_bytes()
    started = time.perf_counter()
    if variant == "bare":
        pass
    elif variant == "grpc_import":
        try:
            import opentelemetry.exporter.otlp.proto.grpc.trace_exporter  # noqa: F401
        except ImportError as exc:
            from benchmarks.apps import Unavailable

            raise Unavailable(f"the gRPC exporter is not installed ({exc})") from exc
    else:
        from benchmarks.apps import build

        _start(build(variant).app)
    # import + configure + lifespan start-up + first request (the interpreter's own start-up,
    # the same for every variant, is not in it)
    startup_s = time.perf_counter() - started
    gc.collect()
    time.sleep(0.2)  # let exporter threads start and settle
    rss = rss_bytes()
    return {"rss_mib": rss / 2**20, "rss_at_start_mib": at_start / 2**20, "startup_ms": startup_s * 1e3}


# --- collector down -------------------------------------------------------------------------


class WarningCounter:
    """A root-logger handler that counts WARNING+ records by the signal they name."""

    def __init__(self) -> None:
        import logging

        counter = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                counter.add(record)

        self.handler = Handler(logging.WARNING)
        self.lines: dict[str, int] = {}
        self.by_signal = {"traces": 0, "metrics": 0, "logs": 0, "other": 0}
        self.active = True

    def add(self, record) -> None:
        if not self.active:
            return
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001
            text = str(record.msg)
        lowered = text.lower()
        if "span" in lowered or "trace" in lowered:
            signal = "traces"
        elif "metric" in lowered:
            signal = "metrics"
        elif "log" in lowered:
            signal = "logs"
        else:
            signal = "other"
        self.by_signal[signal] += 1
        key = f"{record.levelname} {record.name}: {text[:160]}"
        self.lines[key] = self.lines.get(key, 0) + 1


async def _with_app_logs(work, every_s: float = 0.1):
    """Run ``work`` while the app logs one INFO line every ``every_s`` seconds, so that the log
    signal has records to export (and to fail exporting) too."""
    import logging
    import threading

    log = logging.getLogger("bench.app")
    stop = threading.Event()

    def chatter():  # a thread: the request loop may never yield to another asyncio task
        while not stop.wait(every_s):
            log.info("background job tick")

    thread = threading.Thread(target=chatter, daemon=True)
    thread.start()
    try:
        return await work
    finally:
        stop.set()


def mode_down(variant: str, config: dict) -> dict:
    import logging

    from benchmarks.apps import build
    from benchmarks.asgi import run_for

    counter = WarningCounter()
    logging.getLogger().addHandler(counter.handler)
    built = build(variant)
    root = logging.getLogger()
    if counter.handler not in root.handlers:  # configure() may have rearranged the root logger
        root.addHandler(counter.handler)
    loop, _ = _start(built.app)
    noise = Noise(config)
    requests, elapsed = loop.run_until_complete(_with_app_logs(run_for(built.app, config["seconds"])))
    machine = noise.report()
    during = dict(counter.by_signal)
    t0 = time.perf_counter()
    built.shutdown(config.get("shutdown_timeout_s") if variant.startswith("ours") else 60.0)
    shutdown_s = time.perf_counter() - t0
    counter.active = False
    return {
        "us_per_request": elapsed / requests * 1e6,
        "requests": requests,
        "outage_s": elapsed,
        "shutdown_s": shutdown_s,
        "warnings_during": during,
        "warnings_total": dict(counter.by_signal),
        "warning_lines": counter.lines,
        "machine": machine,
    }


# --- encoder (another helper's benchmark) ---------------------------------------------------


def mode_encoder(variant: str, config: dict) -> dict:
    import inspect

    from benchmarks import encoder_bench  # absent until its author lands it

    kwargs = {}
    if config.get("min_seconds") is not None and "min_seconds" in inspect.signature(encoder_bench.run).parameters:
        kwargs["min_seconds"] = config["min_seconds"]
    return {"result": encoder_bench.run(config["rounds"], **kwargs)}


MODES = {
    "request": mode_request,
    "serve": mode_serve,
    "log": mode_log,
    "metric": mode_metric,
    "memory": mode_memory,
    "down": mode_down,
    "encoder": mode_encoder,
}


def main(argv: list[str]) -> int:
    mode, variant, config_text, out_path = argv
    config = json.loads(config_text)
    from benchmarks.apps import Unavailable

    try:
        result = MODES[mode](variant, config)
    except Unavailable as exc:
        result = {"unavailable": str(exc)}
    except ImportError as exc:
        if mode != "encoder":
            raise
        result = {"unavailable": f"benchmarks/encoder_bench.py is not there yet ({exc})"}
    with open(out_path, "w") as out:
        json.dump(result, out, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
