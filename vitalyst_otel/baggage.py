"""The W3C baggage propagator, with at most one (truncated) warning per request.

The SDK's propagator logs one warning per malformed list-member, with the member in it, and the
whole header when it is too long: a single hostile ``baggage`` header made 180 log lines, each
redacted and exported. This one extracts exactly as the SDK does, but collects the SDK's warnings
for the duration of the call and writes one line instead: how many members were dropped and the
first of them, cut to :data:`SHOWN_CHARS`. A header over the W3C size limit is dropped without
being parsed.
"""

from __future__ import annotations

import contextvars
import logging

from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import get_current
from opentelemetry.propagators import textmap

SHOWN_CHARS = 128
_SDK_LOGGER = "opentelemetry.baggage.propagation"
_log = logging.getLogger("vitalyst_otel.propagation")
_collected: contextvars.ContextVar[list | None] = contextvars.ContextVar("vitalyst_baggage_warnings", default=None)


class _Collect(logging.Filter):
    """Keeps the SDK's baggage warnings out of the logs while an extract call collects them."""

    def filter(self, record: logging.LogRecord) -> bool:
        collected = _collected.get()
        if collected is None:
            return True
        collected.append(record)
        return False


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}… ({len(text)} chars)"


class BoundedBaggagePropagator(W3CBaggagePropagator):
    def __init__(self) -> None:
        logger = logging.getLogger(_SDK_LOGGER)
        if not any(isinstance(f, _Collect) for f in logger.filters):
            logger.addFilter(_Collect())

    def extract(self, carrier: textmap.CarrierT, context=None,
                getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter):
        values = getter.get(carrier, self._BAGGAGE_HEADER_NAME)
        header = values[0] if isinstance(values, (list, tuple)) and values else values
        if isinstance(header, str) and len(header) > self._MAX_HEADER_LENGTH:
            _log.warning("Baggage header of %d characters ignored (the limit is %d bytes): %s",
                         len(header), self._MAX_HEADER_LENGTH, _shown(header))
            return get_current() if context is None else context
        collected: list[logging.LogRecord] = []
        token = _collected.set(collected)
        try:
            extracted = super().extract(carrier, context, getter)
        finally:
            _collected.reset(token)
        if collected:
            first = collected[0]
            try:
                detail = first.getMessage()
            except Exception:  # noqa: BLE001
                detail = str(first.msg)
            _log.warning("Baggage header: %d problem(s), the affected members were dropped; first: %s",
                         len(collected), _shown(detail))
        return extracted
