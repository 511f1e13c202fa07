"""Header capture and excluded URLs through the real middleware and SDK (in-memory exporter and
reader), configured from the standard variables by Settings."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI, Response
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from vitalyst_otel.http.fastapi import instrument_app
from vitalyst_otel.http.exclusions import contrib_url
from vitalyst_otel.http.header_capture import server_header_captures
from vitalyst_otel.http.server import HttpServerTelemetry
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.config import Settings


def served(environ: dict, *requests, base_url: str = "http://testserver"):
    """Run ``requests`` against an app instrumented with the settings of ``environ``; return the
    finished spans and the duration points."""
    settings = Settings.load(environ=environ)
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    redactor = Redactor(settings.redact_keys)
    telemetry = HttpServerTelemetry(
        tracer_provider, MeterProvider(metric_readers=[reader]), redactor, settings.excluded_paths,
        header_captures=server_header_captures(settings.instrumentation_http_capture_headers_server_request,
                                               settings.instrumentation_http_capture_headers_server_response,
                                               settings.instrumentation_http_capture_headers_sanitize_fields, redactor))
    app = FastAPI()

    @app.get("/{anything:path}")
    async def anything(anything: str, response: Response):
        response.headers["x-served-by"] = "node-1"
        response.headers["set-cookie"] = "session=s3cr3t"
        return {}

    instrument_app(app, telemetry)

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            for path, headers in requests:
                await client.get(path, headers=headers)

    asyncio.run(run())
    data = reader.get_metrics_data()
    points = [p for rm in (data.resource_metrics if data else []) for sm in rm.scope_metrics for m in sm.metrics
              if m.name == "http.server.request.duration" for p in m.data.data_points]
    return exporter.get_finished_spans(), points


CAPTURE = {"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "X-Tenant,x-trace-.*,Authorization,x-session",
           "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "x-served-by,Set-Cookie",
           "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "x-sess.*"}


def test_listed_headers_become_semconv_string_arrays_with_credentials_masked():
    headers = [("X-Tenant", "acme"), ("x-tenant", "beta"), ("X-Trace-Origin", "edge"), ("Authorization", "Bearer abc.def"),
               ("X-Session", "sess-123"), ("X-Other", "not listed")]
    (span,), _ = served(CAPTURE, ("/a", headers))
    a = span.attributes
    assert a["http.request.header.x-tenant"] == ("acme", "beta")
    assert a["http.request.header.x-trace-origin"] == ("edge",)
    assert a["http.request.header.authorization"] == ("[REDACTED]",)  # a redaction key, listed or not
    assert a["http.request.header.x-session"] == ("[REDACTED]",)  # by OTEL_..._SANITIZE_FIELDS
    assert not any(k.startswith("http.request.header.x-other") for k in a)
    assert a["http.response.header.x-served-by"] == ("node-1",)
    assert a["http.response.header.set-cookie"] == ("[REDACTED]",)
    assert "abc.def" not in repr(dict(a)) and "s3cr3t" not in repr(dict(a)) and "sess-123" not in repr(dict(a))


def test_no_header_attributes_without_the_variables():
    (span,), _ = served({}, ("/a", [("X-Tenant", "acme"), ("Authorization", "Bearer abc")]))
    assert not [k for k in span.attributes if ".header." in k]


def test_a_credential_inside_a_captured_value_is_masked():
    (span,), _ = served(CAPTURE, ("/a", [("X-Tenant", "acme token=abc123")]))
    assert "abc123" not in span.attributes["http.request.header.x-tenant"][0]


def test_user_exclusions_add_to_the_defaults():
    spans, points = served({"OTEL_PYTHON_EXCLUDED_URLS": "^/internal/"},
                           ("/health/live", []), ("/metrics", []), ("/internal/x", []), ("/kept", []))
    assert [s.attributes["url.path"] for s in spans] == ["/kept"]
    assert sum(p.count for p in points) == 1


def test_contrib_style_patterns_match_the_full_url_as_in_contrib():
    spans, _ = served({"OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "testserver/ping,healthcheck"},
                      ("/ping", []), ("/v1/healthcheck/deep", []), ("/pong", []), ("/ping2/x", []))
    # re.search over scheme://host/path: "testserver/ping" also matches /ping2/x, exactly as in contrib.
    assert [s.attributes["url.path"] for s in spans] == ["/pong"]


def test_defaults_can_be_turned_off():
    spans, _ = served({"VITALYST_EXCLUDED_URLS_DEFAULTS": "false", "OTEL_PYTHON_EXCLUDED_URLS": "^/x$"},
                      ("/health/live", []), ("/x", []))
    assert [s.attributes["url.path"] for s in spans] == ["/health/live"]


def test_the_url_matched_is_the_one_contrib_builds():
    assert contrib_url({"scheme": "https", "server": ("10.0.0.1", 8443), "path": "/a"}) == "https://10.0.0.1:8443/a"
    assert contrib_url({"scheme": "http", "server": ("h", 80), "path": "/a"}) == "http://h/a"
    assert contrib_url({"path": "/a"}) == "http://0.0.0.0/a"


def test_the_url_is_only_built_when_a_pattern_could_match_it():
    import re

    from vitalyst_otel.http.exclusions import path_anchored_only

    assert path_anchored_only(Settings.load(environ={}).excluded_paths)  # the defaults
    assert path_anchored_only(re.compile("(?:^/a$)|(?:^/b/)"))
    assert not path_anchored_only(Settings.load(environ={"OTEL_PYTHON_EXCLUDED_URLS": "healthcheck"}).excluded_paths)
    assert not path_anchored_only(re.compile("^/a|b"))
