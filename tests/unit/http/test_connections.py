"""WebSocket, lifespan and streaming scopes through the real middleware (configure() path)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from opentelemetry.trace import SpanKind, StatusCode

from tests.unit.http.test_route_template import call

PAUSE = 0.15


def make_app() -> FastAPI:
    app = FastAPI()
    rooms = APIRouter(prefix="/rooms")

    @rooms.websocket("/{room}/ws")
    async def chat(websocket: WebSocket, room: str):
        await websocket.accept()
        text = await websocket.receive_text()
        if text == "boom":
            raise RuntimeError("chat broke")
        await websocket.send_text(f"{room}:{text}")
        try:
            await websocket.receive_text()
        except WebSocketDisconnect:
            pass

    app.include_router(rooms, prefix="/live")

    async def chunks(fail: bool):
        for n in range(3):
            yield f"data: {n}\n\n".encode()
            await asyncio.sleep(PAUSE)
        if fail:
            raise ConnectionResetError("upstream went away")

    @app.get("/events/{topic}")
    async def events(topic: str, fail: bool = False):
        return StreamingResponse(chunks(fail), media_type="text/event-stream")

    return app


def server_spans(capture):
    return [s for s in capture.spans if s.kind is SpanKind.SERVER]


def test_each_websocket_connection_gets_one_server_span_and_no_http_metrics(otel_capture):
    app = make_app()
    with TestClient(app) as client:  # runs the lifespan too
        with client.websocket_connect("/live/rooms/r1/ws") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "r1:hi"
        with pytest.raises(RuntimeError), client.websocket_connect("/live/rooms/r2/ws") as ws:
            ws.send_text("boom")
            ws.receive_text()
    ok, broken = server_spans(otel_capture)
    assert ok.name == broken.name == "WEBSOCKET /live/rooms/{room}/ws"
    assert ok.attributes["http.route"] == "/live/rooms/{room}/ws" and ok.attributes["url.path"] == "/live/rooms/r1/ws"
    assert ok.status.status_code is StatusCode.UNSET
    assert broken.status.status_code is StatusCode.ERROR and broken.attributes["error.type"] == "RuntimeError"
    assert otel_capture.metric_points("http.server.request.duration") == []


def test_streaming_duration_ends_with_the_last_chunk(otel_capture):
    app = make_app()
    (response,) = call(app, ("GET", "/events/news"))
    assert response.text.count("data:") == 3
    (span,) = server_spans(otel_capture)
    assert span.name == "GET /events/{topic}"
    assert (span.end_time - span.start_time) / 1e9 >= 3 * PAUSE
    ((attrs, value),) = otel_capture.metric_points("http.server.request.duration")
    assert attrs["http.route"] == "/events/{topic}" and value["sum"] >= 3 * PAUSE


def test_an_error_while_streaming_is_recorded_on_the_span(otel_capture):
    app = make_app()
    call(app, ("GET", "/events/news?fail=true"))
    (span,) = server_spans(otel_capture)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ConnectionResetError"
    assert span.attributes["http.response.status_code"] == 200
    assert [e.name for e in span.events] == ["exception"]
    ((attrs, _),) = otel_capture.metric_points("http.server.request.duration")
    assert attrs["error.type"] == "ConnectionResetError"


def test_the_access_log_line_carries_the_full_template(otel_capture, caplog):
    """The access filter runs on uvicorn's record inside the request, as uvicorn writes it."""
    from vitalyst_otel.logs.setup import AccessLogFilter
    from vitalyst_otel.redaction import Redactor

    app = FastAPI()
    sub = APIRouter(prefix="/nodes")
    access = logging.getLogger("uvicorn.access")
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.__dict__.get("http.route"))

    @sub.get("/{node_id}")
    async def node(node_id: str):
        record = access.makeRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                                   ("1.2.3.4:5", "GET", f"/v1/nodes/{node_id}", "1.1", 200), None)
        if AccessLogFilter(None, Redactor(())).filter(record):
            Keep().handle(record)
        return {}

    app.include_router(sub, prefix="/v1")
    call(app, ("GET", "/v1/nodes/7"))
    assert seen == ["/v1/nodes/{node_id}"]
