"""Hypothesis strategies for SDK telemetry objects: spans, log records and metrics data.

They build the SDK's own classes (ReadableSpan, ReadableLogRecord, MetricsData), with attribute
values of every AnyValue type and the awkward ones (empty strings, -0.0, NaN, ints past int64,
lone surrogates, unsupported types, nested and mixed sequences, mappings with non-string keys),
plain dicts as well as BoundedAttributes (with dropped counts), and resources and scopes drawn
from small pools that contain equal-but-distinct objects, so grouping is exercised too.
"""

from __future__ import annotations

from enum import IntEnum

from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics import Exemplar
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

U64 = st.integers(0, 2**64 - 1)
U128 = st.integers(0, 2**128 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
EDGE_INTS = st.sampled_from([0, -1, 1, 127, 128, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64, -(2**70)])
TIMES = st.one_of(st.none(), st.just(0), U64)
SMALL_TEXT = st.text(max_size=8)
NAMES = st.one_of(st.sampled_from(["", "GET /items/{id}", "é✓ 名前"]), SMALL_TEXT)
SCHEMA = st.sampled_from(["", "https://opentelemetry.io/schemas/1.26.0"])


class Level(IntEnum):
    HIGH = 3


# Keys: a small pool (so pairs repeat and the pair cache is hit), the empty key, random text and a
# key that cannot be encoded (a lone surrogate).
KEYS = st.one_of(st.sampled_from(["http.request.method", "url.path", "server.port", "k", "flag", ""]),
                 SMALL_TEXT, st.just("bad\ud800"))

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(["", "GET", "/items/1", "é✓", "x" * 300, "lone\udc00"]),
    SMALL_TEXT,
    INT64,
    EDGE_INTS,
    st.floats(),
    st.sampled_from([0.0, -0.0, float("nan"), float("inf"), -float("inf")]),
    st.binary(max_size=8),
    st.sampled_from([Level.HIGH, bytearray(b"\x01\xff")]),  # an int subclass; a byte sequence
    st.frozensets(st.integers(0, 3), max_size=2),  # not a Sequence: unsupported
)
HOMOGENEOUS = st.one_of(st.lists(SMALL_TEXT, max_size=4), st.lists(INT64, max_size=4),
                        st.lists(st.floats(), max_size=4), st.lists(st.booleans(), max_size=4))
NESTED = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(KEYS, st.integers(0, 3)), inner, max_size=3),
    ),
    max_leaves=8,
)
VALUES = st.one_of(SCALARS, HOMOGENEOUS, NESTED)
# Repeating, cache-prone pairs: the same key with values that compare equal across types.
TRICKY = st.sampled_from([1, True, 1.0, "1", 0, False, 0.0, -0.0, "", b""])


@st.composite
def attribute_maps(draw, extended: bool = False):
    raw = draw(st.dictionaries(KEYS, st.one_of(VALUES, TRICKY), max_size=6))
    form = draw(st.sampled_from(["dict", "bounded", "none"]))
    if form == "none":
        return None
    if form == "dict":  # unvalidated: every odd value reaches the encoder
        return raw
    return BoundedAttributes(maxlen=draw(st.none() | st.integers(0, 6)), attributes=raw,
                             immutable=draw(st.booleans()), extended_attributes=extended)


@st.composite
def resource_pool(draw):
    """1-3 resources plus equal-but-distinct copies."""
    base = []
    for _ in range(draw(st.integers(1, 3))):
        attrs = draw(st.dictionaries(st.sampled_from(["service.name", "host.name", "n"]),
                                     st.one_of(st.sampled_from(["kg", "api"]), TRICKY), max_size=3))
        base.append(Resource(attrs, draw(SCHEMA)))
    copies = [Resource(dict(r.attributes), r.schema_url) for r in base[: draw(st.integers(0, len(base)))]]
    return base + copies


@st.composite
def scope_pool(draw):
    """Scopes, with equal-but-distinct copies and ones that differ from another only in attributes."""
    scopes = []
    for _ in range(draw(st.integers(1, 3))):
        scopes.append(InstrumentationScope(draw(st.sampled_from(["fastapi", "", "graph"])),
                                           draw(st.none() | st.sampled_from(["", "0.66b2"])),
                                           draw(SCHEMA), draw(st.none() | st.dictionaries(KEYS, SCALARS, max_size=2))))
    twins = [InstrumentationScope(s.name, s.version, s.schema_url, draw(st.sampled_from([s.attributes, {"twin": 1}])))
             for s in scopes[: draw(st.integers(0, len(scopes)))]]
    return scopes + twins


TRACE_STATE = st.lists(st.tuples(st.sampled_from(["congo", "rojo", "a-b", "tenant@vendor"]),
                                 st.sampled_from(["t61rcWkgMzE", "00f067aa0ba902b7", "x"])),
                       max_size=3, unique_by=lambda kv: kv[0]).map(TraceState)
CONTEXTS = st.builds(SpanContext, trace_id=U128, span_id=U64, is_remote=st.booleans(),
                     trace_flags=st.integers(0, 255).map(TraceFlags), trace_state=st.none() | TRACE_STATE)
STATUSES = st.one_of(st.none(), st.builds(Status, st.sampled_from(list(StatusCode)),
                                          st.none() | st.sampled_from(["", "boom", "é"])))


@st.composite
def bounded_or_plain(draw, items):
    form = draw(st.sampled_from(["list", "bounded"]))
    if form == "list":
        return items
    return BoundedList.from_seq(draw(st.integers(0, 3)), items)


@st.composite
def spans(draw, resources, scopes):
    events = [Event(draw(NAMES), draw(attribute_maps()), draw(st.none() | U64))
              for _ in range(draw(st.integers(0, 2)))]
    links = [Link(draw(CONTEXTS), draw(attribute_maps())) for _ in range(draw(st.integers(0, 2)))]
    return ReadableSpan(
        name=draw(NAMES),
        context=draw(CONTEXTS),
        parent=draw(st.none() | CONTEXTS),
        resource=draw(st.sampled_from(resources)),
        attributes=draw(attribute_maps()),
        events=draw(bounded_or_plain(events)),
        links=draw(bounded_or_plain(links)),
        kind=draw(st.sampled_from(list(SpanKind))),
        status=draw(STATUSES),
        start_time=draw(TIMES),
        end_time=draw(TIMES),
        instrumentation_scope=draw(st.none() | st.sampled_from(scopes)),
    )


@st.composite
def span_batches(draw):
    resources, scopes = draw(resource_pool()), draw(scope_pool())
    return draw(st.lists(spans(resources, scopes), max_size=6))


@st.composite
def log_records(draw, resources, scopes):
    record = LogRecord(
        timestamp=draw(TIMES),
        observed_timestamp=draw(st.just(0) | U64),
        severity_text=draw(st.none() | st.sampled_from(["INFO", "WARN", ""]) | SMALL_TEXT),
        severity_number=draw(st.none() | st.sampled_from(list(SeverityNumber))),
        body=draw(st.one_of(VALUES, TRICKY)),
        event_name=draw(st.none() | st.sampled_from(["", "session.start"]) | SMALL_TEXT),
    )
    record.trace_id = draw(st.just(0) | U128)
    record.span_id = draw(st.just(0) | U64)
    record.trace_flags = TraceFlags(draw(st.integers(0, 255)))
    record.attributes = draw(attribute_maps(extended=True))
    return ReadableLogRecord(record, resource=draw(st.sampled_from(resources)),
                             instrumentation_scope=draw(st.none() | st.sampled_from(scopes)))


@st.composite
def log_batches(draw):
    resources, scopes = draw(resource_pool()), draw(scope_pool())
    return draw(st.lists(log_records(resources, scopes), max_size=6))


# Text bodies of every length class the log encoder's prefix table distinguishes: short, around
# one- and two-byte varint lengths, around the end of the table (2048 bytes), past it, with
# multi-byte characters (length in bytes, not characters) and lone surrogates.
BODY_SIZES = (0, 1, 60, 124, 125, 126, 127, 128, 1020, 2043, 2044, 2045, 2046, 2047, 2048, 2049,
              5000, 16380, 16381, 16382, 16383, 16384)


def _text_of(size: int, char: str, tail: str) -> str:
    """``size`` UTF-8 bytes of ``char`` (topped up with ASCII), then ``tail``."""
    width = len(char.encode("utf-8"))
    return char * (size // width) + "a" * (size % width) + tail


BODY_TEXT = st.builds(_text_of, st.sampled_from(BODY_SIZES), st.sampled_from(["a", "é", "名", "\U0001f600"]),
                      st.one_of(st.just(""), st.just(""), SMALL_TEXT, st.just("\ud800")))
FLAGS = st.one_of(st.integers(0, 255).map(TraceFlags), st.integers(0, 2**32 - 1), st.sampled_from([True, 1.0, 0.0]))


@st.composite
def bridge_records(draw, resources, scopes):
    """The log bridge's own record type (a plain dict of attributes, nothing dropped)."""
    from vitalyst_otel.logs.bridge import BridgeRecord

    attributes = draw(st.dictionaries(KEYS, st.one_of(SCALARS, TRICKY), max_size=4))
    return BridgeRecord(
        draw(TIMES), draw(st.just(0) | U64),
        draw(st.sampled_from(list(SeverityNumber)) | st.none()),
        draw(st.sampled_from(["INFO", "WARN", "ERROR", ""]) | SMALL_TEXT | st.none()),
        draw(st.one_of(BODY_TEXT, SMALL_TEXT, SCALARS)),
        attributes,
        draw(st.just(0) | U128), draw(st.just(0) | U64), draw(FLAGS),
        draw(st.sampled_from(resources)), draw(st.sampled_from(scopes)),
        draw(st.none() | st.sampled_from(["", "session.start"])))


@st.composite
def bridge_batches(draw):
    resources, scopes = draw(resource_pool()), draw(scope_pool())
    return draw(st.lists(bridge_records(resources, scopes), max_size=4))


NUMBERS = st.one_of(INT64, st.floats())
EXEMPLARS = st.lists(st.builds(Exemplar, filtered_attributes=attribute_maps(), value=st.one_of(INT64, st.floats()),
                               time_unix_nano=U64, span_id=st.none() | U64, trace_id=st.none() | U128), max_size=2)
OPTIONAL_DOUBLE = st.none() | st.floats() | st.just(0.0)
COUNTS = st.lists(U64, max_size=5)
BUCKETS = st.builds(Buckets, offset=st.integers(-(2**31), 2**31 - 1) | st.integers(-3, 3), bucket_counts=COUNTS)
TEMPORALITY = st.sampled_from(list(AggregationTemporality))

NUMBER_POINTS = st.lists(st.builds(NumberDataPoint, attributes=attribute_maps(), start_time_unix_nano=U64,
                                   time_unix_nano=U64, value=NUMBERS, exemplars=EXEMPLARS), max_size=3)
HISTOGRAM_POINTS = st.lists(st.builds(
    HistogramDataPoint, attributes=attribute_maps(), start_time_unix_nano=U64, time_unix_nano=U64,
    count=U64, sum=OPTIONAL_DOUBLE | INT64, bucket_counts=COUNTS, explicit_bounds=st.lists(st.floats(), max_size=4),
    min=OPTIONAL_DOUBLE, max=OPTIONAL_DOUBLE, exemplars=EXEMPLARS), max_size=3)
EXPONENTIAL_POINTS = st.lists(st.builds(
    ExponentialHistogramDataPoint, attributes=attribute_maps(), start_time_unix_nano=U64, time_unix_nano=U64,
    count=U64, sum=OPTIONAL_DOUBLE, scale=st.integers(-10, 20) | st.integers(-(2**31), 2**31 - 1), zero_count=U64,
    positive=BUCKETS, negative=BUCKETS, flags=st.integers(0, 2**32 - 1) | st.just(0), min=OPTIONAL_DOUBLE,
    max=OPTIONAL_DOUBLE, exemplars=EXEMPLARS), max_size=3)
METRIC_DATA = st.one_of(
    st.builds(Gauge, data_points=NUMBER_POINTS),
    st.builds(Sum, data_points=NUMBER_POINTS, aggregation_temporality=TEMPORALITY, is_monotonic=st.booleans()),
    st.builds(Histogram, data_points=HISTOGRAM_POINTS, aggregation_temporality=TEMPORALITY),
    st.builds(ExponentialHistogram, data_points=EXPONENTIAL_POINTS, aggregation_temporality=TEMPORALITY),
    st.just("not a data type"),
)
METRICS = st.builds(Metric, name=NAMES, description=st.none() | SMALL_TEXT, unit=st.none() | st.sampled_from(["s", "By", ""]),
                    data=METRIC_DATA)
# Numbers both encoders must refuse: out of int64, or a bool (protobuf refuses bools for ints).
BAD_NUMBERS = st.builds(Gauge, data_points=st.lists(st.builds(
    NumberDataPoint, attributes=st.none(), start_time_unix_nano=U64, time_unix_nano=U64,
    value=st.sampled_from([2**63, -(2**63) - 1, True, False]), exemplars=st.just([])), min_size=1, max_size=1))


@st.composite
def metrics_data(draw):
    resources, scopes = draw(resource_pool()), draw(scope_pool())
    resource_metrics = []
    for _ in range(draw(st.integers(0, 3))):
        scope_metrics = [ScopeMetrics(draw(st.sampled_from(scopes)), draw(st.lists(METRICS, max_size=3)), draw(SCHEMA))
                         for _ in range(draw(st.integers(0, 3)))]
        resource_metrics.append(ResourceMetrics(draw(st.sampled_from(resources)), scope_metrics, draw(SCHEMA)))
    if draw(st.sampled_from([False] * 15 + [True])):  # now and then (integers() favours 0)
        bad = Metric("bad", None, None, draw(BAD_NUMBERS))
        resource_metrics.append(ResourceMetrics(resources[0], [ScopeMetrics(scopes[0], [bad], "")], ""))
    return MetricsData(resource_metrics)
