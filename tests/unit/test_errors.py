import asyncio
import json
import logging

import httpx
from fastapi import FastAPI

from vitalyst_otel.errors import DuplicateExceptionFilter, fingerprint


def failing_lookup(key):
    return {}[key]


def other_path(key):
    return failing_lookup(key)


def capture_exception(function, *args):
    try:
        function(*args)
    except Exception as exc:  # noqa: BLE001
        return exc


def test_fingerprint_is_stable_per_call_path_and_type():
    first = fingerprint(capture_exception(failing_lookup, "a"))
    again = fingerprint(capture_exception(failing_lookup, "b"))
    via_other = fingerprint(capture_exception(other_path, "a"))
    assert first == again and first != via_other and len(first) == 16


def test_an_unhandled_exception_is_logged_once_with_stack_fingerprint_and_counted(otel_capture, caplog):
    app = FastAPI()

    @app.get("/explode/{item}")
    async def explode(item: str):
        failing_lookup(item)

    async def run():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/explode/x")

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(run()).status_code == 500
    errors = [r for r in caplog.records if r.name == "vitalyst.errors"]
    assert len(errors) == 1
    record = errors[0]
    assert record.__dict__["error.type"] == "KeyError" and len(record.__dict__["error.fingerprint"]) == 16
    assert record.__dict__["http.route"] == "/explode/{item}" and record.exc_info[0] is KeyError
    (span,) = [s for s in otel_capture.spans if s.name == "GET /explode/{item}"]
    (log_record,) = otel_capture.logs(**{"error.type": "KeyError"})
    assert log_record.trace_id == span.context.trace_id
    assert otel_capture.metric_total("vitalyst.exceptions", **{"error.type": "KeyError"}) == 1
    # the server's own "Exception in ASGI application" line for the same exception is dropped
    server_record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application",
                                      (), (KeyError, record.exc_info[1], None))
    assert DuplicateExceptionFilter().filter(server_record) is False
    other = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "x", (), (ValueError, ValueError(), None))
    assert DuplicateExceptionFilter().filter(other) is True


def test_a_group_of_one_is_named_by_its_exception():
    from vitalyst_otel.errors import error_type

    assert error_type(ExceptionGroup("task group", [ConnectionResetError("gone")])) == "ConnectionResetError"
    assert error_type(ExceptionGroup("two", [KeyError(1), ValueError(2)])) == "ExceptionGroup"
