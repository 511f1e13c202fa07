"""The one code path behind ``configure()`` and the ``opentelemetry-instrument`` launcher.

Set-up is a list of small steps. Each step that fails is reported once, naming what is lost,
and the application carries on without it: nothing in telemetry set-up may stop an app from
starting. A second ``configure()`` returns the first handle with a warning.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk._configuration import _BaseConfigurator

from vitalyst_otel import shutdown_signals
from vitalyst_otel.config import Settings
from vitalyst_otel.redaction import Redactor

_log = logging.getLogger("vitalyst_otel")


@dataclass
class Telemetry:
    """The handle ``configure()`` returns: the providers, the settings they came from, and a
    bounded ``shutdown()``."""

    settings: Settings
    resource: Any = None
    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    prometheus_reader: Any = None
    logging_setup: Any = None
    http: Any = None
    app_patch: Any = None
    redactor: Redactor | None = None
    statuses: dict = field(default_factory=dict)
    exporters: list = field(default_factory=list)
    capture: Any = None
    log_queue: Any = None
    fork_hooks: list[Callable[[], None]] = field(default_factory=list)
    hasher: Any = None
    runtime: Any = None
    audit: Any = None
    security: Any = None
    errors: Any = None
    health: Any = None
    failed_steps: list[str] = field(default_factory=list)
    instrumentors: list[str] = field(default_factory=list)
    _shut_down: bool = False

    def instrument_app(self, app) -> bool:
        """Instrument a Starlette/FastAPI app created before (or without) the class patch."""
        from vitalyst_otel.fastapi import instrument_app

        if self.http is None and self.app_patch is None:
            return False
        return instrument_app(app, self.http, self._app_routes())

    def _app_routes(self) -> list[tuple[str, Callable]]:
        routes = []
        if self.prometheus_reader is not None and self.settings.metrics_route:
            from vitalyst_otel.metrics import prometheus_endpoint

            routes.append((self.settings.metrics_route, prometheus_endpoint()))
        if self.settings.health_routes:
            from vitalyst_otel import health

            routes.extend(health.routes(self.health if self.health is not None else health.registry))
        return routes

    def force_flush(self, timeout: float = 5.0) -> bool:
        def flush() -> bool:
            queues = [q for q in (self.log_queue, getattr(self.audit, "queue", None)) if q is not None]
            return all([q.force_flush(timeout) for q in queues]
                       + [p.force_flush(int(timeout * 1000)) is not False for p in self._providers()])

        return _bounded(flush, timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush and stop every provider within ``timeout`` seconds (default
        VITALYST_SHUTDOWN_TIMEOUT), whatever state the collector is in. True if everything
        finished in time."""
        if self._shut_down:
            return True
        self._shut_down = True
        timeout = self.settings.shutdown_timeout / 1000 if timeout is None else timeout
        deadline = time.monotonic() + max(timeout - 0.2, 0.0)
        for exporter in self.exporters:
            begin = getattr(exporter, "begin_shutdown", None)
            if begin is not None:
                begin(deadline)
        if self.logging_setup is not None:
            self.logging_setup.remove_bridge()
        if self.app_patch is not None:
            self.app_patch.uninstall()

        def stop() -> None:
            remaining = max(deadline - time.monotonic(), 0.0)
            if self.log_queue is not None:
                self.log_queue.shutdown(remaining / 2)
            if self.audit is not None:
                self.audit.shutdown(max(deadline - time.monotonic(), 0.0))
            for provider in self._providers():
                try:
                    provider.shutdown()
                except Exception:  # noqa: BLE001
                    _log.debug("provider shutdown failed", exc_info=True)

        finished = _bounded(stop, timeout)
        if not finished:
            _log.warning("Telemetry shutdown did not finish within %.1f s; unsent data is dropped.", timeout)
        return finished

    def after_fork(self) -> None:
        """Per-process state the fork copied but must not share. The SDK renews the instance id
        and export threads itself; exporters reconnect on their own when the pid changes."""
        for hook in self.fork_hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001
                _log.debug("after-fork hook failed", exc_info=True)

    def mute_this_process(self) -> None:
        """Export nothing from this process (a forking master); its forks export as themselves."""
        pid = os.getpid()
        for exporter in self.exporters:
            for _ in range(4):  # through the wrappers (redaction, gRPC guard) to our OTLP exporter
                if hasattr(exporter, "muted_pid"):
                    exporter.muted_pid = pid
                    break
                exporter = getattr(exporter, "inner", None) or getattr(exporter, "_inner", None)
                if exporter is None:
                    break

    def _providers(self) -> list:
        return [p for p in (self.tracer_provider, self.meter_provider, self.logger_provider) if p is not None]


def _bounded(work: Callable[[], Any], timeout: float) -> bool:
    """Run ``work`` in a daemon thread; wait at most ``timeout`` seconds for it."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception:  # noqa: BLE001
            _log.debug("bounded work failed", exc_info=True)
            outcome.append(False)

    thread = threading.Thread(target=run, name="vitalyst-otel-shutdown", daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive() and outcome[:1] != [False]


# --- the steps ------------------------------------------------------------------------------


def _report(handle: Telemetry) -> None:
    for problem in handle.settings.problems:
        _log.log(logging.ERROR if problem.severity == "error" else logging.WARNING, "%s", problem.message())
    from vitalyst_otel.doctor import find_typos
    from vitalyst_otel.variable_typos import unknown_variable_message

    for given, meant in find_typos(os.environ):
        _log.warning("%s", unknown_variable_message(given, meant))


def _diagnostics_level(handle: Telemetry) -> None:
    level = handle.settings.otel_log_level
    for name in ("opentelemetry", "vitalyst_otel"):
        logging.getLogger(name).setLevel(level)
    # OTEL_SEMCONV_STABILITY_OPT_IN is read by contrib instrumentations from the environment.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", ",".join(handle.settings.semconv_stability_opt_in))


def _resource(handle: Telemetry) -> None:
    from vitalyst_otel.resources import build_resource

    handle.resource = build_resource(handle.settings.resource_attributes, handle.settings.service_name,
                                     handle.settings.experimental_resource_detectors)


def _propagators(handle: Telemetry) -> None:
    from opentelemetry.propagators.composite import CompositePropagator

    chosen = []
    for name in handle.settings.propagators:
        try:
            chosen.append(_propagator(name))
        except ImportError:
            _log.warning("OTEL_PROPAGATORS names %s, whose package is not installed "
                         "(pip install opentelemetry-propagator-%s); it is left out.",
                         name, "jaeger" if name == "jaeger" else "b3")
    propagate.set_global_textmap(CompositePropagator(chosen))


def _propagator(name: str):
    if name == "tracecontext":
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        return TraceContextTextMapPropagator()
    if name == "baggage":
        from vitalyst_otel.baggage import BoundedBaggagePropagator

        return BoundedBaggagePropagator()
    if name in ("b3", "b3multi"):
        from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat

        return B3SingleFormat() if name == "b3" else B3MultiFormat()
    from opentelemetry.propagators.jaeger import JaegerPropagator

    return JaegerPropagator()


def _traces(handle: Telemetry) -> None:
    from vitalyst_otel.tracing import build_tracer_provider

    capture = handle.capture
    provider = build_tracer_provider(handle.settings, handle.resource, handle.redactor,
                                     handle.statuses, handle.exporters,
                                     capture.span_exporter if capture is not None else None)
    trace.set_tracer_provider(provider)
    handle.tracer_provider = provider


def _metrics(handle: Telemetry) -> None:
    from opentelemetry import metrics

    from vitalyst_otel.metrics import build_meter_provider

    capture = handle.capture
    provider, prometheus = build_meter_provider(handle.settings, handle.resource, handle.statuses,
                                                handle.exporters,
                                                extra_reader=capture.metric_reader if capture is not None else None,
                                                redactor=handle.redactor)
    metrics.set_meter_provider(provider)
    handle.meter_provider, handle.prometheus_reader = provider, prometheus
    if prometheus is not None and not _has_starlette():
        from prometheus_client import start_http_server

        try:
            start_http_server(handle.settings.exporter_prometheus_port, handle.settings.exporter_prometheus_host)
        except OSError as exc:
            _log.warning("Prometheus exporter could not listen on %s:%s (%s); metrics are not served.",
                         handle.settings.exporter_prometheus_host, handle.settings.exporter_prometheus_port, exc)


def _has_starlette() -> bool:
    from importlib.util import find_spec

    return find_spec("starlette") is not None


def _console_logging(handle: Telemetry) -> None:
    from vitalyst_otel.logs.setup import install

    handle.logging_setup = install(handle.settings, handle.redactor, hasher=handle.hasher)


def _logs(handle: Telemetry) -> None:
    """The OTLP log bridge for stdlib logging (our own queue and worker), and the SDK's logger
    provider for code that uses the OpenTelemetry logs API directly."""
    settings = handle.settings
    if not settings.logs_exporter and handle.capture is None:
        return
    import sys

    from opentelemetry import _logs
    from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
    from opentelemetry.sdk._logs.export import (
        BatchLogRecordProcessor,
        ConsoleLogRecordExporter,
        SimpleLogRecordProcessor,
    )

    from vitalyst_otel.export.batch import BatchQueue
    from vitalyst_otel.export.guard import exporter_for
    from vitalyst_otel.export.sizes import log_record_size
    from vitalyst_otel.logs.bridge import OtlpLogHandler
    from vitalyst_otel.redaction.records import RedactingLogProcessor

    def exporter(name: str):
        made = (ConsoleLogRecordExporter(out=sys.stderr) if name == "console"
                else exporter_for("logs", settings, handle.statuses))
        handle.exporters.append(made)
        return made

    max_attributes = settings.logrecord_attribute_count_limit
    length = settings.logrecord_attribute_value_length_limit
    provider = LoggerProvider(
        resource=handle.resource, shutdown_on_exit=False,
        log_record_limits=LogRecordLimits(
            max_attributes=max_attributes, max_attribute_length=LogRecordLimits.UNSET if length is None else length))
    provider.add_log_record_processor(RedactingLogProcessor(handle.redactor))
    for name in settings.logs_exporter:
        provider.add_log_record_processor(BatchLogRecordProcessor(
            exporter(name), max_queue_size=settings.blrp_max_queue_size,
            schedule_delay_millis=settings.blrp_schedule_delay,
            max_export_batch_size=min(settings.blrp_max_export_batch_size, settings.blrp_max_queue_size),
            export_timeout_millis=settings.blrp_export_timeout))
    bridge_exporters = [exporter(name) for name in settings.logs_exporter]
    if handle.capture is not None:
        provider.add_log_record_processor(SimpleLogRecordProcessor(handle.capture.log_exporter))
        bridge_exporters.append(handle.capture.log_exporter)
    _logs.set_logger_provider(provider)
    handle.logger_provider = provider
    status = handle.statuses.get("logs")
    handle.log_queue = BatchQueue(
        bridge_exporters, "logs", max_queue=settings.blrp_max_queue_size,
        max_batch=settings.blrp_max_export_batch_size, delay_s=settings.blrp_schedule_delay / 1000, synchronous=handle.capture is not None,
        on_full=(lambda items: status.dropped(len(items))) if status is not None else None,
        max_bytes=settings.export_queue_max_bytes, size_of=log_record_size)
    tracer_provider = handle.tracer_provider
    handler = OtlpLogHandler(handle.log_queue, handle.resource, handle.redactor, max_attributes=max_attributes,
                             max_length=min(length or settings.record_max_length, settings.record_max_length),
                             resource_of=(lambda: tracer_provider.resource) if tracer_provider is not None else None)
    if handle.logging_setup is not None:
        handle.logging_setup.add_bridge(handler)


def _runtime(handle: Telemetry) -> None:
    if not handle.settings.runtime_metrics:
        return
    from vitalyst_otel.runtime_metrics import RuntimeMetrics

    handle.runtime = RuntimeMetrics(handle.meter_provider, host=handle.settings.host_metrics)
    handle.fork_hooks.append(handle.runtime.after_fork)


def _signals(handle: Telemetry) -> None:
    from vitalyst_otel import health
    from vitalyst_otel.audit import AuditLimits, AuditTrail
    from vitalyst_otel.errors import ErrorTracker, install_duplicate_filter
    from vitalyst_otel.security import SecurityMonitor

    settings = handle.settings
    audit_exporters = []
    if "otlp" in settings.logs_exporter:
        from vitalyst_otel.export.guard import exporter_for

        exporter = exporter_for("logs", settings, {})  # its own status: audit failures are not log failures
        audit_exporters.append(exporter)
        handle.exporters.append(exporter)
    if handle.capture is not None:
        audit_exporters.append(handle.capture.log_exporter)
    tracer_provider = handle.tracer_provider
    handle.audit = AuditTrail(settings.service_name, handle.redactor, handle.resource, audit_exporters,
                              settings.audit_fallback_file, settings.blrp_max_queue_size,
                              handle.meter_provider, synchronous=handle.capture is not None,
                              resource_of=(lambda: tracer_provider.resource) if tracer_provider is not None else None,
                              limits=AuditLimits.of(settings))
    handle.security = SecurityMonitor(handle.redactor, handle.hasher, settings.security_log_rate,
                                      handle.meter_provider)
    handle.errors = ErrorTracker(handle.meter_provider)
    install_duplicate_filter()
    handle.health = health.registry
    handle.health.ttl_s = settings.health_cache_ttl / 1000
    if handle.statuses:
        stale = max(settings.metric_export_interval, settings.bsp_schedule_delay) / 1000 * 3
        handle.health.register("telemetry", health.telemetry_check(handle.statuses, stale), critical=False)
    health.observe_states(handle.health, handle.meter_provider)


def _http_server(handle: Telemetry) -> None:
    from vitalyst_otel.fastapi import AppPatch
    from vitalyst_otel.http.header_capture import server_header_captures
    from vitalyst_otel.http_server import HttpServerTelemetry

    on_started = None
    if handle.settings.gc_freeze:
        from vitalyst_otel.gc_tuning import freeze_after_startup as on_started
    settings = handle.settings
    captures = server_header_captures(settings.instrumentation_http_capture_headers_server_request,
                                      settings.instrumentation_http_capture_headers_server_response,
                                      settings.instrumentation_http_capture_headers_sanitize_fields, handle.redactor)
    handle.http = HttpServerTelemetry(handle.tracer_provider, handle.meter_provider, handle.redactor,
                                      handle.settings.excluded_paths, security=handle.security,
                                      errors=handle.errors, hasher=handle.hasher, on_started=on_started,
                                      header_captures=captures,
                                      on_stopping=lambda: handle.force_flush(handle.settings.shutdown_timeout / 1000))
    handle.app_patch = AppPatch(handle.http, handle._app_routes())
    handle.app_patch.install()


def _health_routes_only(handle: Telemetry) -> None:
    """With the SDK disabled: no telemetry, but /health/live and /health/ready still answer."""
    if not handle.settings.sdk_disabled or not handle.settings.health_routes or not _has_starlette():
        return
    from vitalyst_otel.fastapi import AppPatch

    handle.app_patch = AppPatch(None, handle._app_routes())
    handle.app_patch.install()


def _instrumentors(handle: Telemetry) -> None:
    # The launcher loads them itself, after us; the test capture keeps the test process as it is.
    if VitalystConfigurator._instance is not None or handle.capture is not None:
        return
    from vitalyst_otel.instrumentors import load_installed

    handle.instrumentors = load_installed()


STEPS: list[tuple[str, Callable[[Telemetry], None], str]] = [
    ("logging", _console_logging, "JSON log formatting"),
    ("report", _report, "configuration reports"),
    ("diagnostics", _diagnostics_level, "the diagnostics level"),
    ("resource", _resource, "resource detection (a minimal resource is used)"),
    ("propagators", _propagators, "context propagation"),
    ("traces", _traces, "traces"),
    ("metrics", _metrics, "metrics"),
    ("logs", _logs, "OTLP logs"),
    ("runtime", _runtime, "runtime metrics"),
    ("signals", _signals, "audit, security, error and health signals"),
    ("http", _http_server, "HTTP server telemetry"),
    ("instrumentors", _instrumentors, "library instrumentation"),
    ("health routes", _health_routes_only, "the health routes"),
]
DISABLED_STEPS = {"logging", "report", "diagnostics", "health routes"}


# --- entry points ---------------------------------------------------------------------------

_state: dict[str, Telemetry] = {}
_lock = threading.Lock()


def current() -> Telemetry | None:
    """The handle of this process's configuration, if any."""
    return _state.get("handle")


def configure(app=None, _capture=None, **overrides: Any) -> Telemetry:
    """Set up traces, metrics and logs once for this process; see :func:`vitalyst_otel.configure`.
    ``_capture`` is for :mod:`vitalyst_otel.testing` only."""
    with _lock:
        handle = _state.get("handle")
        if handle is not None:
            if _capture is None or handle.capture is not _capture:
                _log.warning("vitalyst_otel is already configured in this process (pid %d); this "
                             "configure() call changes nothing.", os.getpid())
        else:
            handle = _configure(overrides, _capture)
            _state["handle"] = handle
    if app is not None:
        try:
            handle.instrument_app(app)
        except Exception:  # noqa: BLE001
            _log.exception("Could not instrument %s; it runs without HTTP telemetry", app)
    return handle


def _configure(overrides: dict[str, Any], capture=None) -> Telemetry:
    try:
        settings = Settings.load(overrides)
    except Exception:  # noqa: BLE001 - a bug in parsing must not stop the app
        _log.exception("Could not read the telemetry settings; telemetry is off")
        settings = Settings.load({}, environ={"OTEL_SDK_DISABLED": "true"})
    from vitalyst_otel.security import AddressHasher

    handle = Telemetry(settings=settings, capture=capture,
                       redactor=Redactor(settings.redact_keys, settings.redact_max_chars),
                       hasher=AddressHasher(settings.hash_client_ip, settings.hash_salt))
    from vitalyst_otel import process_role

    role = process_role.role(getattr(sys, "orig_argv", sys.argv), sys.argv, os.environ)
    quiet = role != process_role.SERVING  # a supervisor or a helper process is no instance
    for name, step, lost in STEPS:
        if (settings.sdk_disabled or quiet) and name not in DISABLED_STEPS:
            continue
        if role == process_role.HELPER:  # multiprocessing's own helper: not even log formatting
            continue
        try:
            step(handle)
        except Exception as exc:  # noqa: BLE001
            handle.failed_steps.append(name)
            _log.warning("Telemetry set-up step '%s' failed (%s: %s); the application continues "
                         "without %s.", name, type(exc).__name__, exc, lost, exc_info=_log.isEnabledFor(logging.DEBUG))
    if process_role.is_forking_master(sys.argv):
        handle.mute_this_process()
    if capture is None:
        atexit.register(handle.shutdown)
        if not settings.sdk_disabled:
            shutdown_signals.install(handle.shutdown)
    os.register_at_fork(after_in_child=handle.after_fork)
    return handle


def install_logging_only():
    """JSON logging from the environment's settings, without telemetry providers: for a process
    that only supervises others (a gunicorn master whose workers configure themselves)."""
    from vitalyst_otel.logs.setup import install

    settings = Settings.load()
    return install(settings, Redactor(settings.redact_keys, settings.redact_max_chars))


def shutdown(timeout: float | None = None) -> bool:
    """Flush and stop this process's telemetry within ``timeout`` seconds."""
    handle = _state.get("handle")
    return True if handle is None else handle.shutdown(timeout)


class VitalystConfigurator(_BaseConfigurator):
    """``opentelemetry_configurator`` entry point: the launcher's way into :func:`configure`."""

    def _configure(self, **kwargs: Any) -> None:
        configure()
