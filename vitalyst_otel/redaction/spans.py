"""Spans as exporters may see them: name, attributes (ours, other instrumentations' and the
application's own), event names and attributes (the exception event's message and stack trace),
link attributes and the status description, all redacted. A span with nothing to mask is
passed on as it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, Status

from vitalyst_otel.redaction.redactor import Redactor


def clean_attributes(redactor: Redactor, attributes: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``attributes`` itself when nothing in it is masked, else a cleaned copy."""
    if not attributes:
        return attributes
    cleaned = None
    for key, value in attributes.items():
        if isinstance(value, (bool, int, float)) and not redactor.is_sensitive(key):
            continue
        new = redactor.value(key, value)
        if new is not value and new != value:
            if cleaned is None:
                cleaned = dict(attributes)
            cleaned[key] = new
    return attributes if cleaned is None else cleaned


def clean_span(redactor: Redactor, span: ReadableSpan) -> ReadableSpan:
    # Each property read makes a new object (attributes a new proxy, events and links new
    # tuples): read once, or "unchanged" could never be seen and every span would be rebuilt,
    # losing its dropped counts and the encoder's fast path.
    original = span.attributes
    name = redactor.text(span.name) if span.name else span.name
    attributes = clean_attributes(redactor, original)
    changed = name != span.name or attributes is not original
    events = []
    for event in span.events:
        event_attributes = clean_attributes(redactor, event.attributes)
        event_name = redactor.text(event.name)
        if event_attributes is not event.attributes or event_name != event.name:
            changed = True
            event = Event(event_name, _keeping_dropped(event_attributes, event.dropped_attributes),
                          event.timestamp)
        events.append(event)
    links = []
    for link in span.links:
        link_attributes = clean_attributes(redactor, link.attributes)
        if link_attributes is not link.attributes:
            changed = True
            link = Link(link.context, _keeping_dropped(link_attributes, link.dropped_attributes))
        links.append(link)
    status = span.status
    if status is not None and status.description:
        description = redactor.text(status.description)
        if description != status.description:
            changed = True
            status = Status(status.status_code, description)
    if not changed:
        return span
    # What the limits dropped is part of the span: the copy keeps the counts.
    return ReadableSpan(
        name=name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=_keeping_dropped(attributes, span.dropped_attributes),
        events=_list_keeping_dropped(events, span.dropped_events),
        links=_list_keeping_dropped(links, span.dropped_links), kind=span.kind, status=status,
        start_time=span.start_time, end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope)


def _keeping_dropped(attributes: Mapping[str, Any] | None, dropped: int) -> Mapping[str, Any] | None:
    """``attributes`` as a read-only mapping that reports ``dropped`` the way the SDK's does."""
    if not dropped:
        return attributes
    kept = BoundedAttributes(attributes=attributes, immutable=True)
    kept.dropped = dropped
    return kept


def _list_keeping_dropped(items: list, dropped: int):
    if not dropped:
        return items
    kept = BoundedList.from_seq(None, items)
    kept.dropped = dropped
    return kept
