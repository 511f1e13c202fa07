"""The set-up steps. Each takes what it needs as arguments and returns what it built; none reads
or writes another's results except through those. :mod:`vitalyst_otel.setup.configure` runs
them in order, each never-fatal."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vitalyst_otel.config import Settings
from vitalyst_otel.export.factory import ExporterFactory
from vitalyst_otel.redaction import Redactor

_log = logging.getLogger("vitalyst_otel")


def report(settings: Settings, environ: Mapping[str, str]) -> None:
    """Each configuration problem once, and each variable that looks like a misspelt one."""
    from vitalyst_otel.config.variables import BY_NAME
    from vitalyst_otel.variable_typos import find_typos, unknown_variable_message

    for problem in settings.problems:
        _log.log(logging.ERROR if problem.severity == "error" else logging.WARNING, "%s", problem.message())
    for given, meant in find_typos(environ, BY_NAME):
        _log.warning("%s", unknown_variable_message(given, meant))


def diagnostics_level(settings: Settings) -> None:
    for name in ("opentelemetry", "vitalyst_otel"):
        logging.getLogger(name).setLevel(settings.otel_log_level)


def resource(settings: Settings):
    from vitalyst_otel.resources import build_resource

    return build_resource(settings.resource_attributes, settings.service_name,
                          settings.experimental_resource_detectors)


def propagators(names: tuple[str, ...]) -> None:
    from opentelemetry import propagate

    from vitalyst_otel.propagation import composite

    propagate.set_global_textmap(composite(names))


def traces(settings: Settings, resource, redactor: Redactor, factory: ExporterFactory, capture=None):
    from opentelemetry import trace

    from vitalyst_otel.tracing import build_tracer_provider

    provider = build_tracer_provider(settings, resource, redactor, factory,
                                     capture.span_exporter if capture is not None else None)
    trace.set_tracer_provider(provider)
    return provider


def metrics(settings: Settings, resource, redactor: Redactor, factory: ExporterFactory, capture=None):
    """The meter provider and, with OTEL_METRICS_EXPORTER=prometheus, the Prometheus reader (served
    on the app, or on its own port where no Starlette is installed)."""
    from importlib.util import find_spec

    from opentelemetry import metrics as metrics_api

    from vitalyst_otel.metrics import build_meter_provider

    provider, prometheus = build_meter_provider(
        settings, resource, factory, extra_reader=capture.metric_reader if capture is not None else None,
        redactor=redactor)
    metrics_api.set_meter_provider(provider)
    if prometheus is not None and find_spec("starlette") is None:
        from prometheus_client import start_http_server

        host, port = settings.exporter_prometheus_host, settings.exporter_prometheus_port
        try:
            start_http_server(port, host)
        except OSError as exc:
            _log.warning("Prometheus exporter could not listen on %s:%s (%s); metrics are not served.",
                         host, port, exc)
    return provider, prometheus


def logs(settings: Settings, resource, redactor: Redactor, factory: ExporterFactory, logging_setup,
         capture=None):
    """The OTLP log pipeline, its bridge attached to the root logger; None when nothing exports."""
    if not settings.logs_exporter and capture is None:
        return None
    from opentelemetry import _logs

    from vitalyst_otel.logs.pipeline import build_log_pipeline

    exporters = [factory.named("logs", name) for name in settings.logs_exporter]
    if capture is not None:
        exporters.append(capture.log_exporter)
    pipeline = build_log_pipeline(settings, resource, redactor, exporters, synchronous=capture is not None)
    _logs.set_logger_provider(pipeline.provider)
    if logging_setup is not None:
        logging_setup.add_bridge(pipeline.handler)
    return pipeline


def runtime(settings: Settings, meter_provider):
    if not settings.runtime_metrics:
        return None
    from vitalyst_otel.runtime_metrics import RuntimeMetrics

    return RuntimeMetrics(meter_provider, host=settings.host_metrics)


@dataclass
class Signals:
    audit: Any
    security: Any
    errors: Any
    health: Any


def signals(settings: Settings, resource, redactor: Redactor, hasher, factory: ExporterFactory,
            meter_provider=None, capture=None) -> Signals:
    """Audit trail, security monitor, error tracker and the health registry with its metric."""
    from vitalyst_otel import health
    from vitalyst_otel.audit import AuditLimits, AuditTrail
    from vitalyst_otel.errors import ErrorTracker, install_duplicate_filter
    from vitalyst_otel.export.status import ExportStatus
    from vitalyst_otel.security import SecurityMonitor

    audit_exporters = []
    if "otlp" in settings.logs_exporter:  # its own status: audit failures are not log failures
        audit_exporters.append(factory.otlp("logs", ExportStatus("audit", settings.otlp["logs"].endpoint)))
    if capture is not None:
        audit_exporters.append(capture.log_exporter)
    audit = AuditTrail(settings.service_name, redactor, resource, audit_exporters, settings.audit_fallback_file,
                       settings.blrp_max_queue_size, meter_provider, synchronous=capture is not None,
                       limits=AuditLimits.of(settings))
    security = SecurityMonitor(redactor, hasher, settings.security_log_rate, meter_provider)
    errors = ErrorTracker(meter_provider)
    install_duplicate_filter()
    registry = health.default_registry()
    registry.ttl_s = settings.health_cache_ttl / 1000
    if factory.statuses:
        stale = max(settings.metric_export_interval, settings.bsp_schedule_delay) / 1000 * 3
        registry.register("telemetry", health.telemetry_check(factory.statuses, stale), critical=False)
    health.observe_states(registry, meter_provider)
    return Signals(audit, security, errors, registry)


def routes(settings: Settings, prometheus=None) -> list[tuple[str, Callable]]:
    """The routes every instrumented app gets: /metrics (Prometheus exporter) and /health/* (on
    the process's registry, whatever else failed or is off: a probe must never fail for that)."""
    found = []
    if prometheus is not None and settings.metrics_route:
        from vitalyst_otel.metrics import prometheus_endpoint

        found.append((settings.metrics_route, prometheus_endpoint()))
    if settings.health_routes:
        from vitalyst_otel import health

        found.extend(health.routes(health.default_registry()))
    return found


def health_routes_only(settings: Settings, app_routes: list):
    """With the SDK disabled: no telemetry, but /health/live and /health/ready still answer."""
    from importlib.util import find_spec

    if not settings.health_routes or find_spec("starlette") is None:
        return None
    from vitalyst_otel.http.fastapi import AppPatch

    patch = AppPatch(None, app_routes)
    patch.install()
    return patch


def http(settings: Settings, tracer_provider, meter_provider, redactor: Redactor, hasher, security, errors,
         app_routes: list, on_stopping: Callable[[], object] | None = None):
    """The server telemetry shared by every app, and the class patch that instruments each app.
    ``on_stopping`` runs when the app's lifespan ends (a flush, before the server exits)."""
    from vitalyst_otel.http.fastapi import AppPatch
    from vitalyst_otel.http.header_capture import server_header_captures
    from vitalyst_otel.http.server import HttpServerTelemetry

    on_started = None
    if settings.gc_freeze:
        from vitalyst_otel.gc_tuning import freeze_after_startup as on_started
    captures = server_header_captures(settings.instrumentation_http_capture_headers_server_request,
                                      settings.instrumentation_http_capture_headers_server_response,
                                      settings.instrumentation_http_capture_headers_sanitize_fields, redactor)
    telemetry = HttpServerTelemetry(tracer_provider, meter_provider, redactor, settings.excluded_paths,
                                    security=security, errors=errors, hasher=hasher, on_started=on_started,
                                    header_captures=captures, on_stopping=on_stopping)
    patch = AppPatch(telemetry, app_routes)
    patch.install()
    return telemetry, patch


def instrumentors(under_launcher: bool, capture=None) -> list[str]:
    """The installed library instrumentors, loaded like the launcher loads them. The launcher
    loads them itself, after us; the test capture keeps the test process as it is."""
    if under_launcher or capture is not None:
        return []
    from vitalyst_otel.instrumentors import load_installed

    return load_installed()


def semconv_opt_in(settings: Settings) -> None:
    """Contrib instrumentations read OTEL_SEMCONV_STABILITY_OPT_IN from the environment, and only
    from there: the one value vitalyst_otel puts into it (when the application has not)."""
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", ",".join(settings.semconv_stability_opt_in))
