"""What an export queue item costs in memory (estimated from the text it holds), and cutting text
that is too long.

The estimate counts characters of string bodies, attribute keys and string values plus a fixed
overhead per item and per attribute: cheap enough for every put, and within a small factor of
what the item really holds (a str of n ASCII characters is n bytes plus ~50). It is what
VITALYST_EXPORT_QUEUE_MAX_BYTES bounds.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.attributes import BoundedAttributes

ITEM_OVERHEAD = 256
ATTRIBUTE_OVERHEAD = 32
# An encoded log record: its bytes plus the item and the bytes object around them.
ENCODED_ITEM_OVERHEAD = 128
TRUNCATED = "…[truncated {} chars]"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters plus the marker ``…[truncated N chars]`` (N: what was
    cut), or ``text`` itself when it fits."""
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATED.format(len(text) - limit)


def _attributes_size(attributes: Any) -> int:
    if type(attributes) is BoundedAttributes:
        # The SDK's dict inside: walking it through the MutableMapping ABC costs about three times as much.
        inner = getattr(attributes, "_dict", None)
        if type(inner) is dict:
            attributes = inner
    if not attributes:
        return 0
    n = 0
    for key, value in attributes.items():
        n += len(key) + ATTRIBUTE_OVERHEAD + (len(value) if type(value) is str else 8)
    return n


def log_record_size(record: Any) -> int:
    body = record.body
    return ITEM_OVERHEAD + (len(body) if type(body) is str else 0) + _attributes_size(record.attributes)


def span_size(span: Any) -> int:
    # An SDK span's own attributes and events, not the read-only copies its properties make.
    n = ITEM_OVERHEAD + len(span.name) + _attributes_size(getattr(span, "_attributes", None) or span.attributes)
    if not getattr(span, "_events", True):
        return n
    for event in span.events:
        n += ITEM_OVERHEAD + len(event.name) + _attributes_size(event.attributes)
    return n
