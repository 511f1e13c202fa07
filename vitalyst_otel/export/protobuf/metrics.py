"""ExportMetricsServiceRequest from SDK MetricsData (opentelemetry/proto/metrics/v1/metrics.proto).

Exported once a minute, so this module favours plain code over speed. It follows the SDK's
encoder field for field, including what it leaves out (gauge start times, zero_threshold of
exponential histograms, data point flags) and how it merges equal resources and scopes.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    Gauge,
    Histogram,
    MetricsData,
    Sum,
)

from vitalyst_otel.export.protobuf.envelope import request
from vitalyst_otel.export.protobuf.wire import (
    attributes,
    delimited,
    fixed64_field,
    optional_double,
    pack_double,
    pack_sfixed64,
    span_id,
    string_field,
    trace_id,
    uint_field,
    varint,
    zigzag32,
)

_log = logging.getLogger("vitalyst_otel.export")


class MetricEncodingError(ValueError):
    """A metric could not be encoded; the whole request is not sent (as with the SDK)."""


def _packed_fixed64(field_tag: bytes, values: Any) -> bytes:
    return delimited(field_tag, struct.pack(f"<{len(values)}Q", *values)) if values else b""


def _packed_double(field_tag: bytes, values: Any) -> bytes:
    return delimited(field_tag, struct.pack(f"<{len(values)}d", *values)) if values else b""


def _as_int(value: int) -> bytes:
    """as_int (6, sfixed64). protobuf refuses a bool for an integer field, so the SDK's encoder
    fails on a bool value (an observable gauge reporting True): so do we."""
    if isinstance(value, bool):
        raise TypeError(f"as_int: expected an int, got a boolean ({value})")
    return b"\x31" + pack_sfixed64(value)


def _exemplar(exemplar: Any) -> bytes:
    """Exemplar: time 2, as_double 3, span_id 4, trace_id 5, as_int 6, filtered_attributes 7."""
    value = exemplar.value
    if isinstance(value, float):
        as_double, as_int = b"\x19" + pack_double(value), b""
    elif isinstance(value, int):
        as_double, as_int = b"", _as_int(value)
    else:
        raise ValueError("Exemplar value must be an int or float")
    ids = b""
    if exemplar.span_id is not None and exemplar.trace_id is not None:
        ids = b"\x22\x08" + span_id(exemplar.span_id) + b"\x2a\x10" + trace_id(exemplar.trace_id)
    return (fixed64_field(b"\x11", exemplar.time_unix_nano) + as_double + ids + as_int
            + attributes(b"\x3a", exemplar.filtered_attributes))


def _exemplars(field_tag: bytes, exemplars: Any) -> bytes:
    return b"".join([delimited(field_tag, _exemplar(e)) for e in exemplars])


def _number_point(point: Any, with_start: bool) -> bytes:
    """NumberDataPoint: start 2, time 3, as_double 4, exemplars 5, as_int 6, attributes 7.

    An int goes to as_int (a bool fails, see _as_int), anything else to as_double; the SDK writes
    no start time for gauges.
    """
    value = point.value
    if isinstance(value, int):
        as_double, as_int = b"", _as_int(value)
    else:
        as_double, as_int = b"\x21" + pack_double(value), b""
    return ((fixed64_field(b"\x11", point.start_time_unix_nano) if with_start else b"")
            + fixed64_field(b"\x19", point.time_unix_nano) + as_double
            + _exemplars(b"\x2a", point.exemplars) + as_int + attributes(b"\x3a", point.attributes))


def _counted(point: Any) -> bytes:
    """start 2, time 3, count 4, sum 5: the same numbers in both kinds of histogram point."""
    return (fixed64_field(b"\x11", point.start_time_unix_nano) + fixed64_field(b"\x19", point.time_unix_nano)
            + fixed64_field(b"\x21", point.count) + optional_double(b"\x29", point.sum))


def _histogram_point(point: Any) -> bytes:
    """HistogramDataPoint: start 2, time 3, count 4, sum 5, bucket_counts 6, explicit_bounds 7,
    exemplars 8, attributes 9, min 11, max 12."""
    return (_counted(point)
            + _packed_fixed64(b"\x32", point.bucket_counts)
            + _packed_double(b"\x3a", point.explicit_bounds)
            + _exemplars(b"\x42", point.exemplars)
            + attributes(b"\x4a", point.attributes)
            + optional_double(b"\x59", point.min)
            + optional_double(b"\x61", point.max))


def _buckets(field_tag: bytes, buckets: Any) -> bytes:
    """Buckets {offset 1 (sint32), bucket_counts 2 (packed uint64)}; left out when empty."""
    counts = buckets.bucket_counts
    if not counts:
        return b""
    return delimited(field_tag, (b"\x08" + zigzag32(buckets.offset) if buckets.offset else b"")
                     + delimited(b"\x12", b"".join([varint(c) for c in counts])))


def _exponential_point(point: Any) -> bytes:
    """ExponentialHistogramDataPoint: attributes 1, start 2, time 3, count 4, sum 5, scale 6,
    zero_count 7, positive 8, negative 9, flags 10, exemplars 11, min 12, max 13."""
    return (attributes(b"\x0a", point.attributes)
            + _counted(point)
            + (b"\x30" + zigzag32(point.scale) if point.scale else b"")
            + fixed64_field(b"\x39", point.zero_count)
            + _buckets(b"\x42", point.positive)
            + _buckets(b"\x4a", point.negative)
            + uint_field(b"\x50", point.flags)
            + _exemplars(b"\x5a", point.exemplars)
            + optional_double(b"\x61", point.min)
            + optional_double(b"\x69", point.max))


def _points(points: Any, encode: Any) -> bytes:
    return b"".join([delimited(b"\x0a", encode(p)) for p in points])  # data_points = 1


def _temporality(data: Any) -> bytes:
    return uint_field(b"\x10", int(data.aggregation_temporality))  # aggregation_temporality = 2


def _metric_data(data: Any) -> bytes:
    # Metric: gauge 5, sum 7, histogram 9, exponential_histogram 10. The SDK creates the data
    # message while adding the first point: a metric without points has none.
    if isinstance(data, Gauge):
        points = _points(data.data_points, lambda p: _number_point(p, with_start=False))
        return delimited(b"\x2a", points) if points else b""
    if isinstance(data, Histogram):
        points = _points(data.data_points, _histogram_point)
        return delimited(b"\x4a", points + _temporality(data)) if points else b""
    if isinstance(data, Sum):
        points = _points(data.data_points, lambda p: _number_point(p, with_start=True))
        if not points:
            return b""
        return delimited(b"\x3a", points + _temporality(data) + (b"\x18\x01" if data.is_monotonic else b""))
    if isinstance(data, ExponentialHistogram):
        points = _points(data.data_points, _exponential_point)
        return delimited(b"\x52", points + _temporality(data)) if points else b""
    _log.warning("unsupported data type %s", data.__class__.__name__)
    return b""


def _metric(metric: Any) -> bytes:
    """Metric: name 1, description 2, unit 3, then the data."""
    try:
        data = _metric_data(metric.data)
    except Exception as exc:
        raise MetricEncodingError(f"cannot encode metric {metric.name!r}: {exc!r}") from exc
    return (string_field(b"\x0a", metric.name) + string_field(b"\x12", metric.description)
            + string_field(b"\x1a", metric.unit) + data)


def encode_metrics(data: MetricsData) -> bytes:
    """A serialized ExportMetricsServiceRequest, byte-identical to the SDK encoder's.

    As in the SDK, ResourceMetrics/ScopeMetrics.schema_url are ignored in favour of the
    resource's and scope's own schema URLs, and a later equal resource (or scope within one
    resource) replaces the earlier one's content while keeping its place (and, for the resource,
    its encoding).
    """
    resources: dict[Any, dict[Any, tuple[Any, list[bytes]]]] = {}
    for resource_metrics in data.resource_metrics:
        scopes: dict[Any, tuple[Any, list[bytes]]] = {}
        resources[resource_metrics.resource] = scopes
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            scopes[scope] = (scope, [_metric(metric) for metric in scope_metrics.metrics])
    return request((resource, scopes.values()) for resource, scopes in resources.items())
