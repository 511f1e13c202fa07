"""HTTP server telemetry for ASGI apps: one server span and the two stable HTTP metrics per
request, built for a small per-request cost.

Per request: one header scan, one span (no ``receive``/``send`` child spans), one histogram
record through an attribute set bound once per (method, route, status, ...) (see
:mod:`vitalyst_otel.http.bound_histogram`), and two integer updates for the active-requests
count, reported at collection time. Requests matching the excluded patterns (health,
readiness, metrics by default) get nothing. The route template (``/nodes/{node_id}``), never
the raw path, is what metrics see.
"""

from __future__ import annotations

import re
from time import perf_counter

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Status, StatusCode

from vitalyst_otel.errors import error_type
from vitalyst_otel.http.bound_histogram import BoundAttributes, BoundRecorder
from vitalyst_otel.http.exclusions import is_excluded, path_anchored_only
from vitalyst_otel.http.request_context import EXCLUDED, RequestFacts, clean_request_id, current_request
from vitalyst_otel.http.route_template import RouteTemplates
from vitalyst_otel.http.server_span import ServerSpans
from vitalyst_otel.http.websocket import serve_websocket
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.shutdown_signals import lifespan_flush

KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT",
                           "QUERY", "TRACE"})
# Semantic-convention advisory boundaries for http.server.request.duration, in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
_CACHE_LIMIT = 4096
_HOST_CACHE_LIMIT = 256
_PROPAGATION_HEADERS = (b"traceparent", b"tracestate", b"baggage", b"b3", b"x-b3-traceid", b"uber-trace-id")
SCOPE_KEY = "vitalyst_otel.span"


class _ListGetter(Getter):
    """Reads the few propagation headers we collected during the one header scan."""

    def get(self, carrier: dict, key: str):
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: dict):
        return list(carrier)


_GETTER = _ListGetter()


class HttpServerTelemetry:
    """Tracer, instruments and caches shared by every request of every instrumented app."""

    def __init__(self, tracer_provider=None, meter_provider=None, redactor: Redactor | None = None,
                 excluded: re.Pattern | None = None, security=None, errors=None, hasher=None,
                 on_started=None, header_captures=(None, None), on_stopping=None):
        self.tracer = trace.get_tracer("vitalyst_otel.http_server", tracer_provider=tracer_provider)
        self.spans = ServerSpans(self.tracer)
        from opentelemetry import metrics

        meter = metrics.get_meter("vitalyst_otel.http_server", meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "http.server.request.duration", unit="s", description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS))
        self._duration_recorder = BoundRecorder(self.duration)
        # Counted here and reported at each collection: two dictionary updates per request instead
        # of two SDK measurements (attribute validation, hashing, a lock each).
        self.in_flight: dict[tuple, list] = {}
        self.active = meter.create_observable_up_down_counter(
            "http.server.active_requests", callbacks=[self._observe_active], unit="{request}",
            description="Number of active HTTP server requests.")
        self.redactor = redactor or Redactor(())
        self.excluded = excluded.search if excluded is not None else None
        self.excluded_by_url = excluded is not None and not path_anchored_only(excluded)
        self.request_headers, self.response_headers = header_captures
        self.security = security
        self.errors = errors
        self.on_started = on_started
        self.on_stopping = on_stopping
        self.hasher = hasher if hasher is not None and getattr(hasher, "enabled", False) else None
        self._duration_sets: dict[tuple, BoundAttributes] = {}
        self._hosts: dict[bytes, tuple[str, int | None]] = {}
        self.routes = RouteTemplates()

    def server_address(self, host: bytes) -> tuple[str, int | None]:
        """``server.address`` and ``server.port`` from a Host header (``[::1]:8000``), cached per value."""
        parsed = self._hosts.get(host)
        if parsed is None:
            text = host.decode("latin-1")
            address, _, port = text.rpartition(":") if text.rfind(":") > text.rfind("]") else (text, "", "")
            parsed = (address or text, int(port) if port.isdigit() else None)
            if len(self._hosts) < _HOST_CACHE_LIMIT and len(host) <= 256:
                self._hosts[host] = parsed
        return parsed

    def active_counter(self, method: str, scheme: str) -> list:
        """The one-element list holding the in-flight count of (method, scheme)."""
        key = (method, scheme)
        counter = self.in_flight.get(key)
        if counter is None:
            counter = self.in_flight.setdefault(key, [0])
        return counter

    def _observe_active(self, options):
        from opentelemetry.metrics import Observation

        return [Observation(counter[0], {"http.request.method": method, "url.scheme": scheme})
                for (method, scheme), counter in list(self.in_flight.items())]

    def duration_set(self, method: str, scheme: str, route: str | None, status: int,
                     version: str | None, error: str | None) -> BoundAttributes:
        """The duration histogram bound to this request's attribute set (cached per set)."""
        key = (method, scheme, route, status, version, error)
        bound = self._duration_sets.get(key)
        if bound is None:
            attrs = {"http.request.method": method, "url.scheme": scheme}
            if status:
                attrs["http.response.status_code"] = status
            if route is not None:
                attrs["http.route"] = route
            if version is not None:
                attrs["network.protocol.version"] = version
            if error is not None:
                attrs["error.type"] = error
            bound = self._duration_recorder.bind(attrs)
            if len(self._duration_sets) < _CACHE_LIMIT:
                self._duration_sets[key] = bound
        return bound


class ServerTelemetryMiddleware:
    """Pure ASGI middleware; add it outermost (``app.add_middleware`` does)."""

    def __init__(self, app, telemetry: HttpServerTelemetry):
        self.app = app
        self.telemetry = telemetry

    def _watch_lifespan(self, send):
        telemetry = self.telemetry

        async def watching_send(message):
            kind = message["type"]
            if kind == "lifespan.shutdown.complete" and telemetry.on_stopping is not None:
                # Before the server hears the app has stopped (and may re-raise its signal).
                await lifespan_flush(telemetry.on_stopping)
            await send(message)
            if kind == "lifespan.startup.complete" and telemetry.on_started is not None:
                telemetry.on_started()

        return watching_send

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or SCOPE_KEY in scope:
            if scope["type"] == "websocket" and SCOPE_KEY not in scope:
                await serve_websocket(self.app, scope, receive, send, self.telemetry, SCOPE_KEY)
                return
            if scope["type"] == "lifespan":
                await self.app(scope, receive, self._watch_lifespan(send))
                return
            await self.app(scope, receive, send)
            return
        telemetry = self.telemetry
        path = scope["path"]
        if telemetry.excluded is not None and is_excluded(telemetry.excluded, scope, telemetry.excluded_by_url):
            excluded_token = current_request.set(EXCLUDED)
            try:
                await self.app(scope, receive, send)
            finally:
                current_request.reset(excluded_token)
            return
        start = perf_counter()
        raw_method = scope["method"]
        method = raw_method if raw_method in KNOWN_METHODS else "_OTHER"
        scheme = scope.get("scheme", "http")
        version = scope.get("http_version")
        host = user_agent = request_id = None
        carrier = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"user-agent":
                user_agent = value
            elif name == b"x-request-id":
                request_id = value
            elif name in _PROPAGATION_HEADERS:
                if carrier is None:
                    carrier = {}
                carrier[name.decode("latin-1")] = value.decode("latin-1")

        attributes = {"http.request.method": method, "url.path": telemetry.redactor.path(path), "url.scheme": scheme}
        if method != raw_method:
            attributes["http.request.method_original"] = raw_method
        query = scope.get("query_string")
        if query:
            attributes["url.query"] = telemetry.redactor.query(query.decode("latin-1"))
        if host is not None:
            address, port = telemetry.server_address(host)
            attributes["server.address"] = address
            if port is not None:
                attributes["server.port"] = port
        elif scope.get("server"):
            attributes["server.address"] = scope["server"][0]
            if scope["server"][1] is not None:
                attributes["server.port"] = scope["server"][1]
        client = scope.get("client")
        client_address = client[0] if client else None
        if client_address:
            attributes["client.address"] = client_address if telemetry.hasher is None else telemetry.hasher(client_address)
        if user_agent is not None:
            attributes["user_agent.original"] = user_agent.decode("latin-1")
        if version is not None:
            attributes["network.protocol.version"] = version
        if telemetry.request_headers is not None:
            attributes.update(telemetry.request_headers.attributes(scope["headers"]))

        parent = propagate.extract(carrier, getter=_GETTER) if carrier is not None else None
        spans = telemetry.spans
        span = spans.start(method if method != "_OTHER" else "HTTP", parent, attributes)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        scope[SCOPE_KEY] = span
        entry_root = scope.get("root_path", "")
        facts = RequestFacts(
            request_id=clean_request_id(request_id.decode("latin-1")) if request_id is not None else None,
            method=method, client_address=client_address, scope=scope, entry_root_path=entry_root,
            app=scope.get("app"), templates=telemetry.routes)
        facts_token = current_request.set(facts)
        in_flight = telemetry.active_counter(method, scheme)
        in_flight[0] += 1
        status_holder = [0]
        response_headers = telemetry.response_headers

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                if response_headers is not None and span.is_recording():
                    spans.add(span, response_headers.attributes(message.get("headers", ())))
            await send(message)

        failure: str | None = None
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException as exc:
            failure = error_type(exc)
            if not status_holder[0]:
                status_holder[0] = 500
            if span.is_recording():
                span.record_exception(exc)
            if telemetry.errors is not None:
                telemetry.errors.unhandled(exc, method, facts.current_route(), path)
            raise
        finally:
            status = status_holder[0]
            route = facts.current_route()
            facts.route = route
            if (status == 401 or status == 403) and telemetry.security is not None and not facts.security_events:
                telemetry.security.event("auth_failure" if status == 401 else "authz_denied")
            if failure is None and (status >= 500 or not status):
                failure = str(status) if status else "incomplete_response"
            if span.is_recording():
                ending = {}
                if route is not None:
                    span.update_name(f"{method} {route}" if method != "_OTHER" else f"HTTP {route}")
                    ending["http.route"] = route
                if status:
                    ending["http.response.status_code"] = status
                if failure is not None:
                    ending["error.type"] = failure
                    span.set_status(Status(StatusCode.ERROR))
                if ending:
                    spans.add(span, ending)
            # Recorded while the span is current, so the measurement can carry it as an exemplar.
            telemetry.duration_set(method, scheme, route, status, version, failure).record(perf_counter() - start)
            in_flight[0] -= 1
            spans.end(span)
            current_request.reset(facts_token)
            otel_context.detach(token)
