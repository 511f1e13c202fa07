import asyncio
import json
import logging

import httpx
from fastapi import FastAPI, HTTPException

from vitalyst_otel import security
from vitalyst_otel.cardinality import OTHER
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.security import AddressHasher, SecurityMonitor, _RateLimit


def call(app, path, headers=None):
    async def run():
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path, headers=headers or {})

    return asyncio.run(run())


def app_with_auth():
    app = FastAPI()

    @app.get("/private")
    async def private():
        raise HTTPException(status_code=401)

    @app.get("/admin")
    async def admin():
        raise HTTPException(status_code=403)

    @app.get("/token")
    async def token():
        security.event("invalid_token", reason="expired", token="abc.def")
        raise HTTPException(status_code=401)

    return app


def test_events_are_counted_by_declared_type(otel_capture):
    security.event("rate_limited", limit=100)
    security.event("made_up_type")
    counts = {a["vitalyst.security.event.type"]: v for a, v in otel_capture.metric_points("vitalyst.security.events")}
    assert counts == {"rate_limited": 1, OTHER: 1}


def test_401_and_403_responses_become_events_once_with_a_span_event_and_a_log(otel_capture, caplog):
    app = app_with_auth()
    with caplog.at_level(logging.WARNING, logger="vitalyst.security"):
        call(app, "/private")
        call(app, "/admin")
        call(app, "/token")
    counts = {a["vitalyst.security.event.type"]: v for a, v in otel_capture.metric_points("vitalyst.security.events")}
    assert counts == {"auth_failure": 1, "authz_denied": 1, "invalid_token": 1}  # /token not counted twice
    token_span = next(s for s in otel_capture.spans if s.name == "GET /token")
    assert [e.name for e in token_span.events] == ["vitalyst.security.event"]
    records = [r for r in caplog.records if r.name == "vitalyst.security"]
    assert len(records) == 3
    token_record = next(r for r in records if r.__dict__["vitalyst.security.event.type"] == "invalid_token")
    assert token_record.__dict__["http.route"] == "/token" and token_record.__dict__["details.token"] == "[REDACTED]"
    assert token_record.__dict__["client.address"] == "203.0.113.7"


def test_metrics_never_carry_addresses_or_users(otel_capture):
    call(app_with_auth(), "/private")
    for attrs, _ in otel_capture.metric_points("vitalyst.security.events"):
        assert set(attrs) == {"vitalyst.security.event.type"}


def test_client_addresses_can_be_hashed_with_a_key():
    hasher = AddressHasher(True, "salt-1")
    hashed = hasher("203.0.113.7")
    assert hashed.startswith("h:") and "203.0.113.7" not in hashed
    assert hashed == AddressHasher(True, "salt-1")("203.0.113.7") != AddressHasher(True, "salt-2")("203.0.113.7")
    assert AddressHasher(False, None)("203.0.113.7") == "203.0.113.7"


def test_a_flood_is_counted_in_full_but_logged_at_a_bounded_rate(otel_capture, caplog):
    now = [1000.0]  # the bucket's clock stands still during the flood: the test does not depend on speed
    monitor = SecurityMonitor(Redactor(()), AddressHasher(False, None), log_rate=5)
    monitor.limit = _RateLimit(5, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="vitalyst.security"):
        for _ in range(20_000):
            monitor.event("auth_failure")
        logged = [r for r in caplog.records if r.name == "vitalyst.security"]
        assert len(logged) == 5  # the burst, then silence
        now[0] += 1.0
        monitor.event("auth_failure")
    assert otel_capture.metric_total("vitalyst.security.events") == 20_001
    logged = [r for r in caplog.records if r.name == "vitalyst.security"]
    assert len(logged) == 6
    assert logged[-1].suppressed_since_last == 19_995  # what was not logged is said, not lost
    assert len(monitor.limit.suppressed) <= len(security.EVENT_TYPES) + 1  # memory bounded by the type set
