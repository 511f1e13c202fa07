"""Security monitoring: counted, logged and attached to the current span.

::

    security.event("invalid_token", reason="expired")

records ``vitalyst.security.events`` (attribute ``vitalyst.security.event.type`` from a declared
set: auth_failure, authz_denied, invalid_token, rate_limited, input_rejected,
suspicious_request, csrf_failure, plus any added with :func:`declare_event_types`; anything else
is ``other``), one WARNING record on the ``vitalyst.security`` logger, and a span event
``vitalyst.security.event`` on the current span. The HTTP middleware records ``auth_failure`` for
a 401 and ``authz_denied`` for a 403 response by itself, unless the request already recorded a
security event.

Metrics never carry user identifiers or addresses. Log lines carry the client address only when
the request has one; with VITALYST_HASH_CLIENT_IP=true it is replaced by a keyed hash
(VITALYST_HASH_SALT). A flood is counted in full but logged at most VITALYST_SECURITY_LOG_RATE
lines per second and type; the next line says how many were left out.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics, trace

from vitalyst_otel.cardinality import DeclaredValues
from vitalyst_otel.http.request_context import current_request
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.setup.lifecycle import lifecycle

EVENT_TYPES = ("auth_failure", "authz_denied", "invalid_token", "rate_limited", "input_rejected",
               "suspicious_request", "csrf_failure")
event_types = DeclaredValues("vitalyst.security.event.type", EVENT_TYPES)
_log = logging.getLogger("vitalyst.security")


def declare_event_types(types) -> None:
    event_types.declare(types)


class AddressHasher:
    def __init__(self, enabled: bool, salt: str | None):
        self.enabled = enabled
        self.key = (salt or secrets.token_hex(16)).encode()

    def __call__(self, address: str | None) -> str | None:
        if not self.enabled or not address:
            return address
        return "h:" + hmac.new(self.key, address.encode(), hashlib.sha256).hexdigest()[:16]


class _RateLimit:
    """Token bucket per event type (the types are a bounded set)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic):
        self.rate = per_second
        self.clock = clock
        self.tokens: dict[str, float] = {}
        self.updated: dict[str, float] = {}
        self.suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, int]:
        now = self.clock()
        with self._lock:
            tokens = min(self.rate, self.tokens.get(key, self.rate) + (now - self.updated.get(key, now)) * self.rate)
            self.updated[key] = now
            if tokens >= 1:
                self.tokens[key] = tokens - 1
                return True, self.suppressed.pop(key, 0)
            self.tokens[key] = tokens
            self.suppressed[key] = self.suppressed.get(key, 0) + 1
            return False, 0


class SecurityMonitor:
    def __init__(self, redactor: Redactor, hasher: AddressHasher, log_rate: float = 10.0, meter_provider=None):
        self.redactor = redactor
        self.hasher = hasher
        self.limit = _RateLimit(log_rate)
        meter = metrics.get_meter("vitalyst_otel", meter_provider=meter_provider)
        self.counter = meter.create_counter("vitalyst.security.events", unit="{event}",
                                            description="Security events, by type.")

    def event(self, event_type: str, **details: Any) -> None:
        kind = event_types(event_type)
        attributes = {"vitalyst.security.event.type": kind}
        self.counter.add(1, attributes)
        facts = current_request.get()
        if facts is not None:
            facts.security_events += 1
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event("vitalyst.security.event", attributes)
        allowed, suppressed = self.limit.allow(kind)
        if not allowed:
            return
        extra = {f"details.{k}": v for k, v in self.redactor.mapping(details).items()}
        extra["vitalyst.security.event.type"] = kind
        if facts is not None:
            extra["http.request.method"] = facts.method
            route = facts.current_route()
            if route:
                extra["http.route"] = route
            if facts.client_address:
                extra["client.address"] = self.hasher(facts.client_address)
        if suppressed:
            extra["suppressed_since_last"] = suppressed
        _log.warning("security event %s", kind, extra=extra)


def event(event_type: str, **details: Any) -> None:
    """Record one security event (see the module documentation)."""
    monitor = lifecycle.security
    if monitor is None:
        _log.warning("security event %s (vitalyst_otel is not configured: not counted)", event_type,
                     extra={"vitalyst.security.event.type": event_type})
        return
    monitor.event(event_type, **details)
