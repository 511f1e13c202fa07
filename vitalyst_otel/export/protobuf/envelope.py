"""The Export*ServiceRequest envelope the three signals share: items grouped by resource and
scope as the SDK groups them, then written with every nested length summed, not measured."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from vitalyst_otel.export.protobuf.fields import _VARINT_TABLE_SIZE, _VARINTS, _varint, varint
from vitalyst_otel.export.protobuf.wire import resource_fields, scope_fields

_UNSET = object()


def group(items: Iterable[Any], encode_item: Callable[[Any], bytes]) -> dict[Any, dict[Any, list[bytes]]]:
    """Encode items into ``{resource: {scope: [item bodies]}}`` as the SDK groups them.

    The SDK keys dicts by the objects, so distinct but equal resources (attributes and schema
    URL) or scopes (name, version, schema URL and attributes) share a group, which the first one
    seen represents. Hashing a Resource serialises its attributes to JSON, so that is done once
    per distinct (resource, scope) object pair in a batch, not per item.
    """
    resources: dict[Any, dict[Any, list[bytes]]] = {}
    by_identity: dict[tuple[int, int], list[bytes]] = {}
    last_resource = last_scope = _UNSET
    bucket: list[bytes] = []
    for item in items:
        resource = item.resource
        scope = item.instrumentation_scope or None
        if resource is not last_resource or scope is not last_scope:
            identity = (id(resource), id(scope))
            bucket = by_identity.get(identity)
            if bucket is None:
                scopes = resources.setdefault(resource, {})
                bucket = by_identity[identity] = scopes.setdefault(scope, [])
            last_resource, last_scope = resource, scope
        bucket.append(encode_item(item))
    return resources


def request(resources: Iterable[tuple[Any, Iterable[tuple[Any, list[bytes]]]]]) -> bytes:
    """An Export*ServiceRequest from ``(resource, [(scope, item bodies), ...])`` groups.

    The three signals share the shape: request.resource_x = 1; ResourceX {resource = 1,
    scope_x = 2, schema_url = 3}; ScopeX {scope = 1, items = 2, schema_url = 3}.
    """
    # One join at the end: each nested length is summed up, not measured on a joined copy.
    out: list[bytes] = []
    for resource, scopes in resources:
        resource_field, resource_schema = resource_fields(resource)
        resource_parts = [resource_field]
        resource_size = len(resource_field) + len(resource_schema)
        for scope, bodies in scopes:
            scope_field, scope_schema = scope_fields(scope)
            scope_parts = [scope_field]
            extend = scope_parts.extend
            scope_size = len(scope_field) + len(scope_schema)
            for body in bodies:
                n = len(body)
                prefix = _VARINTS[n] if n < _VARINT_TABLE_SIZE else _varint(n)
                extend((b"\x12", prefix, body))
                scope_size += 1 + len(prefix) + n
            scope_parts.append(scope_schema)
            prefix = varint(scope_size)
            resource_parts += (b"\x12", prefix)
            resource_parts += scope_parts
            resource_size += 1 + len(prefix) + scope_size
        resource_parts.append(resource_schema)
        out += (b"\x0a", varint(resource_size))
        out += resource_parts
    return b"".join(out)


def encode_grouped(items: Iterable[Any], encode_item: Callable[[Any], bytes]) -> bytes:
    """Spans and log records: group as the SDK does, then write the request."""
    return request((resource, scopes.items()) for resource, scopes in group(items, encode_item).items())
