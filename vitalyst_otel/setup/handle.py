"""The handle ``configure()`` returns: :class:`Telemetry`."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vitalyst_otel.config import Settings

_log = logging.getLogger("vitalyst_otel")


@dataclass
class Parts:
    """What set-up built that the handle flushes, stops or re-applies; not public."""

    logging_setup: Any = None
    app_patch: Any = None  # the Starlette/FastAPI class patch
    http: Any = None  # HttpServerTelemetry, for instrument_app
    routes: list[tuple[str, Callable]] = field(default_factory=list)  # /metrics, /health/*
    log_queue: Any = None
    audit: Any = None
    exporters: list = field(default_factory=list)  # told to hurry when shutdown begins


@dataclass
class Telemetry:
    """This process's telemetry: the settings, the providers (None where a signal is off or its
    set-up failed), the export status of each signal, the set-up steps that failed, and a
    bounded :meth:`shutdown`."""

    settings: Settings
    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    statuses: Mapping[str, Any] = field(default_factory=dict)
    failed_steps: list[str] = field(default_factory=list)
    instrumentors: list[str] = field(default_factory=list)  # library instrumentors configure() loaded
    _parts: Parts = field(default_factory=Parts, repr=False)
    _shut_down: bool = field(default=False, repr=False)

    def instrument_app(self, app) -> bool:
        """Instrument a Starlette/FastAPI app created before (or without) the class patch."""
        if self._parts.http is None and self._parts.app_patch is None:
            return False
        from vitalyst_otel.http.fastapi import instrument_app

        return instrument_app(app, self._parts.http, self._parts.routes)

    def force_flush(self, timeout: float = 5.0) -> bool:
        parts = self._parts

        def flush() -> bool:
            queues = [q for q in (parts.log_queue, getattr(parts.audit, "queue", None)) if q is not None]
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
        parts = self._parts
        timeout = self.settings.shutdown_timeout / 1000 if timeout is None else timeout
        deadline = time.monotonic() + max(timeout - 0.2, 0.0)
        for exporter in parts.exporters:
            begin = getattr(exporter, "begin_shutdown", None)
            if begin is not None:
                begin(deadline)
        if parts.logging_setup is not None:
            parts.logging_setup.remove_bridge()
        if parts.app_patch is not None:
            parts.app_patch.uninstall()

        def stop() -> None:
            remaining = max(deadline - time.monotonic(), 0.0)
            if parts.log_queue is not None:
                parts.log_queue.shutdown(remaining / 2)
            if parts.audit is not None:
                parts.audit.shutdown(max(deadline - time.monotonic(), 0.0))
            for provider in self._providers():
                try:
                    provider.shutdown()
                except Exception:  # noqa: BLE001
                    _log.debug("provider shutdown failed", exc_info=True)

        finished = _bounded(stop, timeout)
        if not finished:
            _log.warning("Telemetry shutdown did not finish within %.1f s; unsent data is dropped.", timeout)
        return finished

    def mute_this_process(self) -> None:
        """Export nothing from this process (a forking master); its forks export as themselves."""
        from vitalyst_otel.export.factory import mute

        mute(self._parts.exporters, os.getpid())

    def reapply_logging(self) -> None:
        """Put our log handlers back on the root logger (a server replaced them)."""
        if self._parts.logging_setup is not None:
            self._parts.logging_setup.apply()

    def _restore(self) -> None:
        """Back as this process's handle after a test's isolated configuration."""
        if self._parts.logging_setup is not None:
            self._parts.logging_setup.activate()
        if self._parts.app_patch is not None:
            self._parts.app_patch.install()

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
