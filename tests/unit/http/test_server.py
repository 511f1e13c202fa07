"""Server telemetry through the real configure() path, captured in memory (otel_capture)."""

from importlib.util import find_spec

import httpx
from fastapi import FastAPI, HTTPException
from opentelemetry.trace import SpanKind, StatusCode

import vitalyst_otel
from tests.conftest import require


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int):
        return {"id": item_id}

    @app.get("/unavailable")
    async def unavailable():
        raise HTTPException(status_code=503, detail="down")

    @app.get("/forbidden")
    async def forbidden():
        raise HTTPException(status_code=403)

    @app.get("/boom")
    async def boom():
        raise LookupError("kaput")

    @app.get("/health/live")
    async def live():
        return {"status": "ok"}

    return app


def call(app, *requests):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def run():
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [await client.request(method, url, headers=headers or {}) for method, url, headers in requests]

    import asyncio

    return asyncio.run(run())


def server_spans(capture):
    return [s for s in capture.spans if s.kind is SpanKind.SERVER]


def test_one_span_named_by_route_template(otel_capture):
    app = make_app()
    (response,) = call(app, ("GET", "/items/7?page=2", None))
    assert response.status_code == 200
    (span,) = server_spans(otel_capture)
    assert span.name == "GET /items/{item_id}"
    attrs = span.attributes
    assert attrs["http.route"] == "/items/{item_id}"
    assert attrs["http.request.method"] == "GET" and attrs["http.response.status_code"] == 200
    assert attrs["url.path"] == "/items/7" and attrs["url.query"] == "page=2" and attrs["url.scheme"] == "http"
    assert attrs["server.address"] == "testserver"
    assert span.status.status_code is StatusCode.UNSET


def test_one_duration_measurement_per_request_with_bounded_attributes(otel_capture):
    app = make_app()
    call(app, ("GET", "/items/1", None), ("GET", "/items/2", None), ("GET", "/items/3", None))
    points = otel_capture.metric_points("http.server.request.duration")
    assert len(points) == 1, points
    attrs, value = points[0]
    assert value["count"] == 3
    assert attrs == {"http.request.method": "GET", "url.scheme": "http", "http.route": "/items/{item_id}",
                     "http.response.status_code": 200, "network.protocol.version": "1.1"}
    assert value["explicit_bounds"][:3] == [0.005, 0.01, 0.025]
    active = otel_capture.metric_points("http.server.active_requests")
    assert active and all(v == 0 for _, v in active)


def test_fastapi_native_telemetry_never_doubles_spans_or_histograms(otel_capture):
    app = make_app()
    native = isinstance(getattr(app, "_telemetry", None), dict)
    call(app, ("GET", "/items/5", None))
    assert len(server_spans(otel_capture)) == 1
    assert [s.instrumentation_scope.name for s in otel_capture.spans] == ["vitalyst_otel.http_server"]
    assert otel_capture.metric_total("http.server.request.duration") == 1
    if native:
        assert app._telemetry["tracing"] is False and app._telemetry["metrics"] is False


def test_server_errors_and_exceptions_mark_the_span(otel_capture):
    app = make_app()
    call(app, ("GET", "/unavailable", None), ("GET", "/boom", None), ("GET", "/forbidden", None))
    spans = {s.name: s for s in server_spans(otel_capture)}
    unavailable, boom, forbidden = spans["GET /unavailable"], spans["GET /boom"], spans["GET /forbidden"]
    assert unavailable.status.status_code is StatusCode.ERROR and unavailable.attributes["error.type"] == "503"
    assert boom.status.status_code is StatusCode.ERROR
    assert boom.attributes["error.type"] == "LookupError" and boom.attributes["http.response.status_code"] == 500
    assert [e.name for e in boom.events] == ["exception"]
    assert forbidden.status.status_code is StatusCode.UNSET and "error.type" not in forbidden.attributes
    errors = otel_capture.metric_points("http.server.request.duration", **{"error.type": "LookupError"})
    assert len(errors) == 1 and errors[0][1]["count"] == 1


def test_unmatched_path_has_no_route_and_a_low_cardinality_name(otel_capture):
    app = make_app()
    call(app, ("GET", "/no/such/thing", None))
    (span,) = server_spans(otel_capture)
    assert span.name == "GET" and "http.route" not in span.attributes
    assert span.attributes["http.response.status_code"] == 404


def test_health_and_metrics_paths_are_not_traced_or_measured(otel_capture):
    app = make_app()
    (response,) = call(app, ("GET", "/health/live", None))
    assert response.status_code == 200
    assert server_spans(otel_capture) == []
    assert otel_capture.metric_total("http.server.request.duration") == 0


def test_incoming_trace_context_becomes_the_parent(otel_capture):
    app = make_app()
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    call(app, ("GET", "/items/1", {"traceparent": f"00-{trace_id}-{parent_id}-01"}))
    (span,) = server_spans(otel_capture)
    assert format(span.context.trace_id, "032x") == trace_id
    assert format(span.parent.span_id, "016x") == parent_id and span.parent.is_remote


def test_credentials_in_the_query_string_never_reach_a_span(otel_capture):
    app = make_app()
    call(app, ("GET", "/items/1?token=abc123secret&api_key=k9&page=1", None))
    (span,) = server_spans(otel_capture)
    assert "abc123secret" not in repr(dict(span.attributes)) and "k9" not in span.attributes["url.query"]
    assert span.attributes["url.query"].endswith("page=1")


def test_mounted_app_routes_include_the_mount_prefix(otel_capture):
    app = make_app()
    sub = FastAPI()

    @sub.get("/things/{thing_id}")
    async def thing(thing_id: str):
        return {}

    app.mount("/api", sub)
    call(app, ("GET", "/api/things/x1", None))
    names = [s.name for s in server_spans(otel_capture)]
    assert names == ["GET /api/things/{thing_id}"]


def test_an_app_instrumented_by_contrib_is_left_to_it(otel_capture):
    require(find_spec("opentelemetry.instrumentation.fastapi") is not None,
            "opentelemetry-instrumentation-fastapi (the [dev] extra) is not installed")
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    app = make_app()
    FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])
    try:
        call(app, ("GET", "/items/1", None))
        spans = server_spans(otel_capture)
        assert len(spans) == 1 and spans[0].instrumentation_scope.name != "vitalyst_otel.http_server"
    finally:
        FastAPIInstrumentor.uninstrument_app(app)


def test_instrument_app_is_idempotent(otel_capture):
    app = make_app()
    assert vitalyst_otel.instrument_app(app) is True
    assert vitalyst_otel.instrument_app(app) is True
    call(app, ("GET", "/items/1", None))
    assert len(server_spans(otel_capture)) == 1


def test_host_header_gives_server_address_and_port_cached_per_value():
    from vitalyst_otel.http.server import HttpServerTelemetry

    telemetry = HttpServerTelemetry()
    cases = {b"example.com:8443": ("example.com", 8443), b"example.com": ("example.com", None),
             b"[::1]:8000": ("[::1]", 8000), b"[::1]": ("[::1]", None), b"host:http": ("host", None),
             b":80": (":80", 80)}
    for _ in range(2):  # the second round answers from the cache
        assert {host: telemetry.server_address(host) for host in cases} == cases
    huge = b"h" * 10_000 + b":1"
    assert telemetry.server_address(huge) == ("h" * 10_000, 1)
    assert huge not in telemetry._hosts
