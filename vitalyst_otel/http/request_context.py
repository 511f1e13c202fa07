"""Per-request facts the server middleware knows and the audit, security and error signals need."""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@dataclass(slots=True)  # one object per request, no __dict__
class RequestFacts:
    request_id: str | None = None
    method: str = ""
    route: str | None = None
    client_address: str | None = None
    security_events: int = 0
    scope: dict | None = None
    entry_root_path: str = ""
    app: object = None
    templates: object = None  # vitalyst_otel.http.route_template.RouteTemplates

    def current_route(self) -> str | None:
        """The route template, once routing has matched one."""
        if self.route is None and self.scope is not None and self.templates is not None:
            return self.templates.resolve(self.scope, self.app, self.entry_root_path)
        return self.route


current_request: ContextVar[RequestFacts | None] = ContextVar("vitalyst_request", default=None)
# Current while an excluded request is served, so its access log line is dropped by the same
# decision that kept its span and metrics out.
EXCLUDED = RequestFacts()


def clean_request_id(value: str | None) -> str | None:
    """An incoming X-Request-ID, if it is a plausible id (no log forging, bounded length)."""
    return value if value is not None and _SAFE_ID.match(value) else None
