"""Liveness and readiness: ``/health/live`` and ``/health/ready`` on every instrumented app.

``/health/live`` answers 200 as long as the process answers. ``/health/ready`` runs the registered
checks concurrently, each under its own timeout, and caches the result for a short TTL (and
shares one run among concurrent probes), so a storm of probes cannot overload a dependency. It
answers 503 when a critical check fails. The body lists every check with its status, duration
and error::

    health.register("graph-store", store.ping, timeout=0.5)
    health.register("validation-consumer", consumer_alive, critical=False)

A check is a function or coroutine function; it passes when it returns anything but ``False``
and does not raise. The built-in ``telemetry`` check reports the last successful export per
signal; it is never critical: a collector outage must not take a service out of rotation.
Each check's last state is also the metric ``vitalyst.health.check.status`` (1 pass, 0 fail).

Checks live in a registry (``registry``, the process's default, or one passed to
:func:`routes`), like loggers live in the logging module's.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from vitalyst_otel.setup.lifecycle import lifecycle

LIVE_PATH = "/health/live"
READY_PATH = "/health/ready"


@dataclass
class Check:
    name: str
    function: Callable[[], Any]
    timeout: float = 1.0
    critical: bool = True


@dataclass
class CheckResult:
    name: str
    ok: bool
    duration_ms: float
    error: str | None
    critical: bool

    def as_dict(self) -> dict[str, Any]:
        return {"status": "pass" if self.ok else "fail", "duration_ms": round(self.duration_ms, 2),
                "error": self.error, "critical": self.critical}


@dataclass
class Report:
    ready: bool
    checks: list[CheckResult]
    at: float

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not_ready",
                "checks": {r.name: r.as_dict() for r in self.checks}}


@dataclass
class HealthRegistry:
    ttl_s: float = 2.0
    checks: dict[str, Check] = field(default_factory=dict)
    _last: Report | None = None
    _running: asyncio.Future | None = None
    _clock: Callable[[], float] = time.monotonic

    def register(self, name: str, function: Callable[[], Any], timeout: float = 1.0,
                 critical: bool = True) -> None:
        self.checks[name] = Check(name, function, timeout, critical)
        self._last = None

    def unregister(self, name: str) -> None:
        self.checks.pop(name, None)
        self._last = None

    async def report(self) -> Report:
        """The cached report if fresh, else one run shared by every concurrent caller."""
        last = self._last
        if last is not None and self._clock() - last.at < self.ttl_s:
            return last
        running = self._running
        if running is not None and not running.done() and running.get_loop() is asyncio.get_running_loop():
            return await asyncio.shield(running)
        self._running = asyncio.ensure_future(self._run())
        return await asyncio.shield(self._running)

    async def _run(self) -> Report:
        results = await asyncio.gather(*(_run_check(check) for check in list(self.checks.values())))
        report = Report(all(r.ok for r in results if r.critical), list(results), self._clock())
        self._last = report
        return report

    def last_states(self) -> list[CheckResult]:
        return list(self._last.checks) if self._last is not None else []


async def _run_check(check: Check) -> CheckResult:
    started = time.perf_counter()
    error = None
    try:
        if inspect.iscoroutinefunction(check.function):
            outcome = await asyncio.wait_for(check.function(), check.timeout)
        else:
            outcome = await asyncio.wait_for(asyncio.to_thread(check.function), check.timeout)
        ok = outcome is not False
        if not ok:
            error = "check returned False"
    except asyncio.TimeoutError:
        ok, error = False, f"timed out after {check.timeout:g} s"
    except Exception as exc:  # noqa: BLE001 - a failing check is a result, not an error
        ok, error = False, f"{type(exc).__name__}: {exc}"[:300]
    return CheckResult(check.name, ok, (time.perf_counter() - started) * 1000, error, check.critical)


def default_registry() -> HealthRegistry:
    """The process's registry, the one ``configure()`` serves and reports."""
    return lifecycle.get_or_create("health", HealthRegistry)


def __getattr__(name: str) -> Any:
    if name == "registry":  # health.registry: the process's registry, as before
        return default_registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register(name: str, function: Callable[[], Any], timeout: float = 1.0, critical: bool = True) -> None:
    """Register a readiness check on the process's default registry."""
    default_registry().register(name, function, timeout, critical)


def telemetry_check(statuses: dict, stale_after_s: float) -> Callable[[], Any]:
    """Fails when a signal's exports have been failing (none succeeded for ``stale_after_s``)."""
    started = time.time()

    def check():
        problems = []
        now = time.time()
        for signal, status in sorted(statuses.items()):
            snap = status.snapshot()
            last = snap.last_success or started
            if not snap.healthy and now - last > stale_after_s:
                problems.append(f"{signal}: no successful export for {now - last:.0f} s ({snap.last_error})")
        if problems:
            raise RuntimeError("; ".join(problems))
        return True

    return check


def observe_states(health: HealthRegistry, meter_provider=None) -> Any:
    def observe(options: CallbackOptions):
        return [Observation(1 if r.ok else 0, {"vitalyst.health.check.name": r.name})
                for r in health.last_states()]

    meter = metrics.get_meter("vitalyst_otel", meter_provider=meter_provider)
    return meter.create_observable_gauge(
        "vitalyst.health.check.status", callbacks=[observe], unit="",
        description="Last result of each readiness check: 1 pass, 0 fail.")


def routes(health: HealthRegistry) -> list[tuple[str, Callable]]:
    """Starlette endpoints for the two paths."""
    from starlette.responses import JSONResponse

    async def live(request):
        return JSONResponse({"status": "ok"})

    async def ready(request):
        report = await health.report()
        return JSONResponse(report.as_dict(), status_code=200 if report.ready else 503)

    return [(LIVE_PATH, live), (READY_PATH, ready)]
