import asyncio
import time

import httpx
from fastapi import FastAPI

from vitalyst_otel import health
from vitalyst_otel.health import HealthRegistry


def run(coro):
    return asyncio.run(coro)


def test_checks_run_concurrently_each_with_its_own_timeout():
    registry = HealthRegistry(ttl_s=0)

    async def hangs():
        await asyncio.sleep(10)

    def raises():
        raise ConnectionError("db refused")

    def slow_ok():
        time.sleep(0.2)
        return True

    registry.register("hangs", hangs, timeout=0.3)
    registry.register("raises", raises)
    registry.register("slow", slow_ok, timeout=1.0)
    registry.register("optional", lambda: False, critical=False)
    started = time.monotonic()
    report = run(registry.report())
    elapsed = time.monotonic() - started
    assert elapsed < 0.8  # concurrent: bounded by the slowest timeout, not the sum
    checks = report.as_dict()["checks"]
    assert report.ready is False
    assert checks["hangs"]["status"] == "fail" and "timed out after 0.3 s" in checks["hangs"]["error"]
    assert checks["raises"]["error"] == "ConnectionError: db refused"
    assert checks["slow"]["status"] == "pass" and checks["slow"]["duration_ms"] >= 200
    assert checks["optional"] == {"status": "fail", "duration_ms": checks["optional"]["duration_ms"],
                                  "error": "check returned False", "critical": False}


def test_a_non_critical_failure_keeps_the_service_ready():
    registry = HealthRegistry(ttl_s=0)
    registry.register("db", lambda: True)
    registry.register("cache", lambda: False, critical=False)
    assert run(registry.report()).ready is True


def test_a_probe_storm_runs_each_check_once_per_ttl():
    registry = HealthRegistry(ttl_s=5)
    calls = []

    async def dependency():
        calls.append(1)
        await asyncio.sleep(0.05)
        return True

    registry.register("dep", dependency)

    async def storm():
        return await asyncio.gather(*(registry.report() for _ in range(200)))

    reports = run(storm())
    assert len(calls) == 1 and all(r.ready for r in reports)
    run(registry.report())
    assert len(calls) == 1  # still cached


def test_endpoints_answer_503_when_not_ready_and_report_state_as_metric(otel_capture):
    registry = health.registry  # the process's registry: configure() made its state a metric
    state = {"ok": True}
    registry.register("store", lambda: state["ok"])
    registry.ttl_s = 0
    app = FastAPI()
    for path, endpoint in health.routes(registry):
        app.add_route(path, endpoint)

    async def probe(path):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.get(path)

    assert run(probe("/health/live")).json() == {"status": "ok"}
    ready = run(probe("/health/ready"))
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    state["ok"] = False
    not_ready = run(probe("/health/ready"))
    assert not_ready.status_code == 503 and not_ready.json()["checks"]["store"]["status"] == "fail"
    points = otel_capture.metric_points("vitalyst.health.check.status", **{"vitalyst.health.check.name": "store"})
    registry.unregister("store")
    assert [v for _, v in points] == [0]


def test_telemetry_check_fails_only_after_exports_stayed_failing():
    from vitalyst_otel.export.status import ExportStatus

    status = ExportStatus("traces", "http://c")
    check = health.telemetry_check({"traces": status}, stale_after_s=0.1)
    assert check() is True
    status.failed("refused")
    assert check() is True  # not yet stale
    time.sleep(0.15)
    try:
        check()
        raise AssertionError("expected failure")
    except RuntimeError as exc:
        assert "traces: no successful export" in str(exc)
    status.succeeded()
    assert check() is True
