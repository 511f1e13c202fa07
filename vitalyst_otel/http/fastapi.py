"""FastAPI (and Starlette) integration: :func:`instrument_app` and the class patch that does it
for every app, including apps created before ``configure()`` ran.

We use our own ASGI middleware on every FastAPI version. FastAPI 0.16x ships native
OpenTelemetry support that switches itself on as soon as global providers exist; measured on this
machine it costs about 1.5x to 2.3x what our middleware costs per request (docs/performance.md),
so on an app we instrument it is switched off through the app's telemetry configuration. Either
way a request gets exactly one server span and one duration measurement. An app already
instrumented by contrib's FastAPIInstrumentor is left to it, with a warning.
"""

from __future__ import annotations

import logging

from vitalyst_otel.http.server import HttpServerTelemetry, ServerTelemetryMiddleware

_log = logging.getLogger("vitalyst_otel")
MARK = "_vitalyst_otel_instrumented"


def disable_native_telemetry(app) -> bool:
    """Switch off FastAPI's own telemetry for ``app`` (FastAPI >= 0.16x); True if it had one."""
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict) and "tracing" in config:
        config.update(tracing=False, metrics=False, logs=False)
        return True
    return False


def add_routes(app, routes) -> None:
    """Our routes (health, metrics) on ``app``, unless it has its own at the same path."""
    for path, endpoint in routes:
        if not any(getattr(route, "path", None) == path for route in app.router.routes):
            app.add_route(path, endpoint, include_in_schema=False)


def instrument_app(app, telemetry: HttpServerTelemetry | None, extra_routes=()) -> bool:
    """Add the server-telemetry middleware (and our routes) to ``app`` once. Returns whether the
    app is instrumented by us afterwards. Without ``telemetry`` (OTEL_SDK_DISABLED=true), and on
    an app left to contrib's instrumentor, the routes are added all the same: a switched-off or
    foreign telemetry must never make a Kubernetes probe fail."""
    if getattr(app, MARK, False):
        return True
    if getattr(app, "middleware_stack", None) is None:
        add_routes(app, extra_routes)
    if telemetry is None:
        setattr(app, MARK, True)
        return False
    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        _log.warning(
            "%s is already instrumented by opentelemetry-instrumentation-fastapi; vitalyst_otel "
            "leaves its HTTP telemetry to it so that no request gets two server spans.", app)
        return False
    if getattr(app, "middleware_stack", None) is not None:
        _log.warning("%s has already started serving; it cannot be instrumented any more. Call "
                     "vitalyst_otel.configure(app=app) before the server starts.", app)
        return False
    disable_native_telemetry(app)
    app.add_middleware(ServerTelemetryMiddleware, telemetry=telemetry)
    setattr(app, MARK, True)
    return True


class AppPatch:
    """Instruments every Starlette/FastAPI app when it builds its middleware stack (on its first
    request or lifespan event), so apps created before or after ``configure()`` are covered."""

    def __init__(self, telemetry: HttpServerTelemetry | None, extra_routes=()):
        self.telemetry = telemetry
        self.extra_routes = tuple(extra_routes)
        self._patched: list[tuple[type, object]] = []

    def install(self) -> None:
        classes = []
        try:
            from starlette.applications import Starlette

            classes.append(Starlette)
        except ImportError:
            return
        try:
            from fastapi import FastAPI

            if "build_middleware_stack" in vars(FastAPI):
                classes.append(FastAPI)
        except ImportError:
            pass
        patch = self
        for cls in classes:
            original = vars(cls)["build_middleware_stack"]
            if getattr(original, "_vitalyst_original", None) is not None:
                continue

            def build_middleware_stack(app, __original=original):
                try:
                    instrument_app(app, patch.telemetry, patch.extra_routes)
                except Exception:  # never let telemetry stop an app from starting
                    _log.exception("Could not instrument %s; it runs without HTTP telemetry", app)
                return __original(app)

            build_middleware_stack._vitalyst_original = original
            cls.build_middleware_stack = build_middleware_stack
            self._patched.append((cls, original))

    def uninstall(self) -> None:
        for cls, original in self._patched:
            cls.build_middleware_stack = original
        self._patched.clear()
