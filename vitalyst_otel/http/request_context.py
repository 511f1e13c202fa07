"""Per-request facts the server middleware knows and the audit, security and error signals need."""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@dataclass
class RequestFacts:
    request_id: str | None = None
    method: str = ""
    route: str | None = None
    client_address: str | None = None
    security_events: int = 0
    scope: dict | None = None
    entry_root_path: str = ""

    def current_route(self) -> str | None:
        """The route template, once routing has matched one."""
        if self.route is None and self.scope is not None:
            return route_template(self.scope, self.entry_root_path)
        return self.route


def route_template(scope: dict, entry_root_path: str) -> str | None:
    """The matched route's template (``/nodes/{node_id}``), with the prefix of any mount."""
    route = scope.get("route")
    if route is None:
        return None
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    mount_prefix = scope.get("root_path", "")[len(entry_root_path):]
    return f"{mount_prefix}{path}" if mount_prefix else path


current_request: ContextVar[RequestFacts | None] = ContextVar("vitalyst_request", default=None)


def clean_request_id(value: str | None) -> str | None:
    """An incoming X-Request-ID, if it is a plausible id (no log forging, bounded length)."""
    return value if value is not None and _SAFE_ID.match(value) else None
