"""uvicorn's access line reshaped: structured fields, credentials out of the path and query, a
hashed client address (``VITALYST_HASH_CLIENT_IP``), no line for excluded paths (or none at all
when the access log is off).

:meth:`AccessLogFilter.reshape` is that work on the line's arguments alone; the filter applies it
to a record on the logging path, :mod:`vitalyst_otel.logs.access_line` to the arguments on the
direct one, so both paths produce the same line.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from vitalyst_otel.http.request_context import EXCLUDED, current_request
from vitalyst_otel.logs.prepared import PLAIN_RECORD_SIZE, prepare_access_line
from vitalyst_otel.redaction import Redactor

# reshape()'s answers besides (args, extra): no line at all; not an access line (left as it is).
DROP = "drop"
NOT_ACCESS = "not an access line"


class AccessLogFilter(logging.Filter):
    def __init__(self, excluded: re.Pattern | None, redactor: Redactor, enabled: bool = True, hasher=None):
        super().__init__()
        self.excluded = excluded
        self.redactor = redactor
        self.enabled = enabled
        self.hasher = hasher

    def reshape(self, args: Any) -> tuple[tuple, dict[str, Any]] | str:
        """uvicorn's five arguments as they are to be written and the line's fields, or
        :data:`DROP` or :data:`NOT_ACCESS`."""
        if not self.enabled:
            return DROP
        if not (isinstance(args, tuple) and len(args) == 5):
            return NOT_ACCESS
        client, method, full_path, version, status = args
        path, _, query = str(full_path).partition("?")
        facts = current_request.get()  # the access line is written inside the request's context
        if facts is EXCLUDED:
            return DROP
        # The middleware has decided already for a request it saw; the patterns are for the rest.
        if facts is None and self.excluded is not None and self.excluded.search(path):
            return DROP
        if self.hasher is not None and self.hasher.enabled and client:
            client = self.hasher(str(client).rsplit(":", 1)[0])
        path = self.redactor.path(path)  # an absolute-form target carries user:password@
        extra = {"http.request.method": method, "url.path": path, "http.response.status_code": status,
                 "network.protocol.version": version}
        if query:
            query = self.redactor.query(query)
            extra["url.query"] = query
        route = facts.current_route() if facts is not None else None
        if route is not None:
            extra["http.route"] = route
        return (client, method, f"{path}?{query}" if query else path, version, status), extra

    def filter(self, record: logging.LogRecord) -> bool:
        shaped = self.reshape(record.args)
        if shaped is DROP:
            return False
        if shaped is NOT_ACCESS:
            return True
        fields = record.__dict__
        plain = len(fields) == PLAIN_RECORD_SIZE and not record.exc_info  # nobody added fields before us
        record.args, extra = shaped
        fields.update(extra)
        if plain:
            prepare_access_line(record, self.redactor, extra)
        return True
