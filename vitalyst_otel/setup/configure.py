"""The one code path behind ``configure()`` and the ``opentelemetry-instrument`` launcher.

Set-up is a sequence of named steps (:mod:`vitalyst_otel.setup.steps`), each handed what it
needs and returning what it built. A step that fails is reported once, naming what is lost, and
the application carries on without it: nothing in telemetry set-up may stop an app from
starting. A second ``configure()`` returns the first handle with a warning.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from vitalyst_otel import shutdown_signals
from vitalyst_otel.config import Settings
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.setup import steps
from vitalyst_otel.setup.handle import Parts, Telemetry
from vitalyst_otel.setup.lifecycle import lifecycle

_log = logging.getLogger("vitalyst_otel")
T = TypeVar("T")


class _Runner:
    """Runs one named step; a failure is reported with what is lost, and the fallback used."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, name: str, lost: str, work: Callable[[], T], fallback: Any = None) -> T:
        try:
            return work()
        except Exception as exc:  # noqa: BLE001 - set-up must never stop the application
            self.failed.append(name)
            _log.warning("Telemetry set-up step '%s' failed (%s: %s); the application continues without %s.",
                         name, type(exc).__name__, exc, lost, exc_info=_log.isEnabledFor(logging.DEBUG))
            return fallback


def current() -> Telemetry | None:
    """The handle of this process's configuration, if any."""
    return lifecycle.handle


def configure(app=None, **overrides: Any) -> Telemetry:
    """Set up traces, metrics and logs once for this process; see :func:`vitalyst_otel.configure`.
    Every variable in docs/configuration.md is also a keyword here."""
    with lifecycle.lock:
        handle = lifecycle.handle
        if handle is not None:
            _log.warning("vitalyst_otel is already configured in this process (pid %d); this "
                         "configure() call changes nothing.", os.getpid())
        else:
            handle = _configure(overrides, lifecycle.capture)
            lifecycle.handle = handle
            if lifecycle.capture is None:
                lifecycle.on_exit(handle.shutdown)
                if not handle.settings.sdk_disabled:
                    shutdown_signals.install(handle.shutdown)
    if app is not None:
        try:
            handle.instrument_app(app)
        except Exception:  # noqa: BLE001
            _log.exception("Could not instrument %s; it runs without HTTP telemetry", app)
    return handle


def _load(overrides: dict[str, Any]) -> Settings:
    try:
        return Settings.load(overrides)
    except Exception:  # noqa: BLE001 - a bug in parsing must not stop the app
        _log.exception("Could not read the telemetry settings; telemetry is off")
        return Settings.load({}, environ={"OTEL_SDK_DISABLED": "true"})


def _configure(overrides: dict[str, Any], capture=None) -> Telemetry:
    from vitalyst_otel import process_role
    from vitalyst_otel.export.factory import ExporterFactory
    from vitalyst_otel.logs.setup import install
    from vitalyst_otel.security import AddressHasher

    settings = _load(overrides)
    run = _Runner()
    parts = Parts()
    role = process_role.role(getattr(sys, "orig_argv", sys.argv), sys.argv, os.environ)
    if role == process_role.HELPER:  # multiprocessing's own helper: not even log formatting
        return Telemetry(settings, _parts=parts)
    redactor = Redactor(settings.redact_keys, settings.redact_max_chars)
    hasher = AddressHasher(settings.hash_client_ip, settings.hash_salt)
    parts.logging_setup = run("logging", "JSON log formatting", lambda: install(settings, redactor, hasher=hasher))
    run("report", "configuration reports", lambda: steps.report(settings, os.environ))
    run("diagnostics", "the diagnostics level", lambda: steps.diagnostics_level(settings))
    if settings.sdk_disabled or role != process_role.SERVING:  # a supervisor is no instance
        if settings.sdk_disabled:
            parts.routes = run("routes", "the health routes", lambda: steps.routes(settings), fallback=[])
            parts.app_patch = run("health routes", "the health routes",
                                  lambda: steps.health_routes_only(settings, parts.routes))
        return Telemetry(settings, failed_steps=run.failed, _parts=parts)

    run("semconv", "the semantic-convention opt-in of contrib instrumentations",
        lambda: steps.semconv_opt_in(settings))
    from opentelemetry.sdk.resources import Resource

    resource = run("resource", "resource detection (a minimal resource is used)", lambda: steps.resource(settings),
                   fallback=Resource({"service.name": settings.service_name}))
    run("propagators", "context propagation", lambda: steps.propagators(settings.propagators))
    factory = ExporterFactory(settings, os.getpid() if process_role.is_forking_master(sys.argv) else None)
    tracer_provider = run("traces", "traces", lambda: steps.traces(settings, resource, redactor, factory, capture))
    meter_provider, prometheus = run("metrics", "metrics", lambda: steps.metrics(settings, resource, redactor, factory, capture),
                                     fallback=(None, None))
    pipeline = run("logs", "OTLP logs",
                   lambda: steps.logs(settings, resource, redactor, factory, parts.logging_setup, capture))
    run("runtime", "runtime metrics", lambda: steps.runtime(settings, meter_provider))
    signals = run("signals", "audit, security, error and health signals",
                  lambda: steps.signals(settings, resource, redactor, hasher, factory, meter_provider, capture))
    if signals is not None:
        lifecycle.audit, lifecycle.security = signals.audit, signals.security
        parts.audit = signals.audit
    parts.routes = run("routes", "the /metrics and /health routes", lambda: steps.routes(settings, prometheus),
                       fallback=[])
    parts.http, parts.app_patch = run(
        "http", "HTTP server telemetry",
        lambda: steps.http(settings, tracer_provider, meter_provider, redactor, hasher,
                           getattr(signals, "security", None), getattr(signals, "errors", None), parts.routes,
                           on_stopping=lambda: _flush_current(settings.shutdown_timeout / 1000)),
        fallback=(None, None))
    loaded = run("instrumentors", "library instrumentation",
                 lambda: steps.instrumentors(under_launcher(), capture), fallback=[])
    parts.log_queue = pipeline.queue if pipeline is not None else None
    parts.exporters = factory.built
    handle = Telemetry(settings, tracer_provider=tracer_provider, meter_provider=meter_provider,
                       logger_provider=pipeline.provider if pipeline is not None else None,
                       statuses=factory.statuses, failed_steps=run.failed, instrumentors=loaded, _parts=parts)
    return handle


def under_launcher() -> bool:
    """Whether ``opentelemetry-instrument`` ran our configurator in this process (read without
    making the class, which imports the SDK's auto-configuration)."""
    made = globals().get("VitalystConfigurator")
    return made is not None and made._instance is not None


def _flush_current(timeout: float) -> None:
    handle = lifecycle.handle
    if handle is not None:
        handle.force_flush(timeout)


def install_logging_only():
    """JSON logging from the environment's settings, without telemetry providers: for a process
    that only supervises others (a gunicorn master whose workers configure themselves)."""
    from vitalyst_otel.logs.setup import install

    settings = Settings.load()
    return install(settings, Redactor(settings.redact_keys, settings.redact_max_chars))


def shutdown(timeout: float | None = None) -> bool:
    """Flush and stop this process's telemetry within ``timeout`` seconds."""
    handle = lifecycle.handle
    return True if handle is None else handle.shutdown(timeout)


def _launcher_configurator() -> type:
    """The ``opentelemetry_configurator`` entry point's class, made on first use: its base's
    module (the SDK's auto-configuration, about 1 MiB) is needed only under the launcher."""
    from opentelemetry.sdk._configuration import _BaseConfigurator

    class VitalystConfigurator(_BaseConfigurator):
        """The launcher's way into :func:`configure`."""

        def _configure(self, **kwargs: Any) -> None:
            configure()

    return VitalystConfigurator


def __getattr__(name: str):
    if name == "VitalystConfigurator":
        made = globals().setdefault("VitalystConfigurator", _launcher_configurator())
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
