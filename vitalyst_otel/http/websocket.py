"""One server span per WebSocket connection (no HTTP metrics: a connection has no status or
request duration in the semantic conventions' sense). The span covers the connection from the
handshake to the app's return; an exception other than a normal disconnect marks it as an error."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from vitalyst_otel.errors import error_type

_PROPAGATION_HEADERS = frozenset((b"traceparent", b"tracestate", b"baggage"))


def _normal_disconnect(exc: BaseException) -> bool:
    code = getattr(exc, "code", None)
    return type(exc).__name__ == "WebSocketDisconnect" and code in (1000, 1001, 1005, None)


async def serve_websocket(app, scope, receive, send, telemetry, scope_key: str) -> None:
    carrier = {name.decode("latin-1"): value.decode("latin-1")
               for name, value in scope.get("headers", ()) if name in _PROPAGATION_HEADERS}
    parent = propagate.extract(carrier) if carrier else None
    attributes = {"url.path": scope.get("path", ""), "url.scheme": scope.get("scheme", "ws"),
                  "network.protocol.name": "websocket"}
    client = scope.get("client")
    if client and client[0]:
        attributes["client.address"] = client[0] if telemetry.hasher is None else telemetry.hasher(client[0])
    span = telemetry.tracer.start_span("WEBSOCKET", context=parent, kind=SpanKind.SERVER, attributes=attributes)
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    scope[scope_key] = span
    entry_root, root_app = scope.get("root_path", ""), scope.get("app")
    try:
        await app(scope, receive, send)
    except BaseException as exc:
        if not _normal_disconnect(exc) and span.is_recording():
            span.record_exception(exc)
            span.set_attribute("error.type", error_type(exc))
            span.set_status(Status(StatusCode.ERROR))
        raise
    finally:
        route = telemetry.routes.resolve(scope, root_app, entry_root)
        if route is not None and span.is_recording():
            span.update_name(f"WEBSOCKET {route}")
            span.set_attribute("http.route", route)
        span.end()
        otel_context.detach(token)
