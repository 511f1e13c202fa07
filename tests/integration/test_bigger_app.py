"""The "Bigger Applications" app (tests/support/bigger_app) under real uvicorn, set up by the
launcher and by configure(): every route template as the client sees it, on the OTLP wire
(decoded by tests/support/otlp_receiver.py), in /metrics and on the access log line."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from websockets.sync.client import connect

from tests.integration.test_servers import BIN, Server, free_port, launcher
from tests.support.otlp_receiver import OtlpReceiver, attrs

REQUESTS = [  # (method, path, status, expected http.route or None)
    ("GET", "/", 200, "/"),
    ("GET", "/users/", 200, "/users/"),
    ("GET", "/users/rick", 200, "/users/{username}"),
    ("GET", "/items/", 200, "/items/"),
    ("GET", "/items/plumbus", 200, "/items/{item_id}"),
    ("GET", "/items/nope", 404, "/items/{item_id}"),  # the route matched; the endpoint said 404
    ("PUT", "/items/plumbus", 200, "/items/{item_id}"),
    ("GET", "/items/plumbus/events", 200, "/items/{item_id}/events"),
    ("POST", "/admin/", 200, "/admin/"),
    ("GET", "/v1/nodes/n-1", 200, "/v1/nodes/{node_id}"),
    ("GET", "/reports/monthly/3", 200, "/reports/monthly/{month}"),
    ("GET", "/no/such/page", 404, None),
    ("DELETE", "/admin/", 405, None),
]
WS_ROUTE = "/v1/nodes/{node_id}/watch"
EXCLUDED = "/users/me"  # by a contrib-style full-URL pattern, on top of the defaults


def expected_span_names() -> list[str]:
    names = [f"{m} {route}" if route else m for m, _, _, route in REQUESTS]
    return sorted([*names, f"WEBSOCKET {WS_ROUTE}"])


@pytest.mark.parametrize("way", ["launcher", "configure"])
def test_every_route_template_on_the_wire_in_metrics_and_in_the_access_log(way):
    port = free_port()
    app = "tests.support.bigger_app.main:app" if way == "launcher" else "tests.support.bigger_app.configured:app"
    argv = [str(BIN / "uvicorn"), app, "--port", str(port)]
    with OtlpReceiver() as receiver:
        server = Server(launcher(*argv) if way == "launcher" else argv, port, {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "bigger-app",
            "OTEL_METRICS_EXPORTER": "otlp,prometheus",
            "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": r"127\.0\.0\.1:\d+/users/me$",
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-tenant,x-token,Authorization",
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "content-type"})
        try:
            headers = {"X-Token": "fake-super-secret-token", "Authorization": "Bearer s3cr3t-t0ken", "X-Tenant": "acme"}
            with httpx.Client(base_url=server.base, timeout=10, headers=headers) as client:
                assert client.get(EXCLUDED).status_code == 200
                for method, path, status, _ in REQUESTS:
                    response = client.request(method, path)
                    assert response.status_code == status, (method, path, response.text)
                    if path.endswith("/events"):
                        assert response.text.count("event: update") == 3
                with connect(f"ws://127.0.0.1:{port}/v1/nodes/n-2/watch") as ws:
                    ws.send("ping")
                    assert ws.recv(timeout=5) == "n-2: ping"
                receiver.wait_for(lambda r: len([s for _, s in r.spans() if s.kind == 2]) >= len(REQUESTS) + 2
                                  and {"http.server.request.duration"} <= {m.name for _, m in r.metrics()})
                scrape = client.get("/metrics").text
        finally:
            out, err, _ = server.stop()
    server_spans = [span for _, span in receiver.received.spans() if span.kind == 2]
    assert sorted(span.name for span in server_spans) == expected_span_names()
    for span in server_spans:
        a = attrs(span.attributes)
        expected = next((r for m, p, _, r in REQUESTS if p == a["url.path"] and m == a.get("http.request.method")), None)
        if span.name.startswith("WEBSOCKET"):
            assert a["http.route"] == WS_ROUTE
        elif expected is None:
            assert "http.route" not in a, span
        else:
            assert a["http.route"] == expected, span

    item = next(span for span in server_spans if span.name == "PUT /items/{item_id}")
    captured = {kv.key: [v.string_value for v in kv.value.array_value.values] for kv in item.attributes
                if ".header." in kv.key}
    assert captured == {"http.request.header.x-tenant": ["acme"],
                        "http.request.header.x-token": ["[REDACTED]"],  # "token" is a redaction key
                        "http.request.header.authorization": ["[REDACTED]"],
                        "http.response.header.content-type": ["application/json"]}
    assert b"s3cr3t-t0ken" not in b"".join(m.SerializeToString() for m in receiver.received.of("/v1/logs"))
    assert b"s3cr3t-t0ken" not in b"".join(m.SerializeToString() for m in receiver.received.of("/v1/traces"))

    wire_series = {(a.get("http.request.method"), a.get("http.route"), a.get("http.response.status_code"))
                   for _, metric in receiver.received.metrics() if metric.name == "http.server.request.duration"
                   for a in (attrs(p.attributes) for p in metric.histogram.data_points)}
    assert wire_series == {(m, r, s) for m, _, s, r in REQUESTS}  # WebSockets add no HTTP series
    scraped = [dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line)) for line in scrape.splitlines()
               if line.startswith("http_server_request_duration_seconds_count{")]
    # In Prometheus an empty label is an absent one (the exporter writes http_route="" for 404/405).
    assert {labels.get("http_route") or None for labels in scraped} == {r for *_, r in REQUESTS}

    access = [json.loads(line) for line in out.splitlines() if '"uvicorn.access"' in line]
    by_path = {(line["http.request.method"], line["url.path"]): line.get("http.route") for line in access}
    assert by_path == {(m, p): r for m, p, _, r in REQUESTS}  # nothing for the excluded path
    assert "Traceback" not in err
