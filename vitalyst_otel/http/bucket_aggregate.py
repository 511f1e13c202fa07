"""The SDK's exemplar filter decision and explicit-bucket aggregation, done in place for the exact
SDK types we know, so that a duration measurement needs no ``Measurement`` object, no
``isinstance`` against the ``Span`` ABC and no linear bucket search for its exemplar.

What it does is what the SDK (checked against opentelemetry-sdk 1.45) does for those types:

- ``TraceBasedExemplarFilter``: sample when the context's span is a ``Span`` (not the invalid
  span) whose context is sampled; ``AlwaysOn``/``AlwaysOff``: always/never; any other filter is
  asked as the SDK asks it.
- ``_ExplicitBucketHistogramAggregation``: under its lock, sum, min/max (when recorded) and the
  bucket ``bisect_left`` picks; then, when sampled, the exemplar offered to its reservoir. For the
  ``AlignedHistogramBucketExemplarReservoir`` the bucket is the first boundary ``>=`` the value
  (its own linear search, done by ``bisect_left``) and the measurement replaces that bucket's
  exemplar under the reservoir's lock (the bucket's fields written as ``ExemplarBucket.offer``
  writes them, checked against it once); any other reservoir gets ``offer`` as the SDK calls it.

Any other aggregation gets the SDK's ``aggregate(measurement, sample)``. An unexpected attribute
raises, and :class:`vitalyst_otel.http.bound_histogram.BoundRecorder` then switches to the public
API for good. tests/unit/http/test_bound_histogram.py compares collected points and exemplars
of this path with the SDK's.
"""

from __future__ import annotations

from bisect import bisect_left

_SPAN_TYPES_LIMIT = 16
# ExemplarBucket's private fields (its ``__value`` and so on), written as its ``offer`` writes them.
_BUCKET = "_ExemplarBucket__"
_VALUE, _TIME, _ATTRIBUTES, _SPAN_ID, _TRACE_ID, _OFFERED = (
    _BUCKET + f for f in ("value", "time_unix_nano", "attributes", "span_id", "trace_id", "offered"))
_AGGREGATION_FIELDS = ("_lock", "_value", "_sum", "_min", "_max", "_record_min_max", "_boundaries", "_reservoir",
                       "_get_empty_bucket_counts")
_RESERVOIR_FIELDS = ("_lock", "_boundaries", "_reservoir_storage")


def _knows(histogram_type, reservoir_type) -> bool:
    """Whether an aggregation made as the SDK makes it has the fields this module uses."""
    try:
        from opentelemetry.sdk.metrics.export import AggregationTemporality

        probe = histogram_type(attributes={}, instrument_aggregation_temporality=AggregationTemporality.CUMULATIVE,
                               start_time_unix_nano=0, reservoir_builder=reservoir_type, boundaries=(1.0,))
    except Exception:  # noqa: BLE001 - another SDK: its own aggregate()
        return False
    return (all(hasattr(probe, f) for f in _AGGREGATION_FIELDS)
            and type(probe._reservoir) is reservoir_type
            and all(hasattr(probe._reservoir, f) for f in _RESERVOIR_FIELDS)
            and callable(getattr(probe._reservoir._reservoir_storage[0], "offer", None)))


def _offer_known(bucket, amount: float, now: int, attributes: dict, span, invalid) -> None:
    """``ExemplarBucket.offer`` with the context's span already looked up."""
    fields = bucket.__dict__
    fields[_VALUE] = amount
    fields[_TIME] = now
    fields[_ATTRIBUTES] = attributes
    if span != invalid:
        span_context = span.get_span_context()
        fields[_SPAN_ID] = span_context.span_id
        fields[_TRACE_ID] = span_context.trace_id
    fields[_OFFERED] = True


def _offers_alike(bucket_type) -> bool:
    """Whether :func:`_offer_known` leaves a bucket as the SDK's ``offer`` does (checked once)."""
    try:
        from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, SpanContext, set_span_in_context

        span = NonRecordingSpan(SpanContext(trace_id=3, span_id=5, is_remote=False))
        attributes = {"k": "v"}
        theirs, ours = bucket_type(), bucket_type()
        theirs.offer(0.5, 7, attributes, set_span_in_context(span))
        _offer_known(ours, 0.5, 7, attributes, span, INVALID_SPAN)
        unset, ours_unset = bucket_type(), bucket_type()
        unset.offer(0.5, 7, attributes, set_span_in_context(INVALID_SPAN))
        _offer_known(ours_unset, 0.5, 7, attributes, INVALID_SPAN, INVALID_SPAN)
    except Exception:  # noqa: BLE001 - another SDK: its own offer()
        return False
    return (vars(theirs) == vars(ours) and set(vars(theirs)) == {_VALUE, _TIME, _ATTRIBUTES, _SPAN_ID, _TRACE_ID,
                                                                  _OFFERED}
            and vars(theirs)[_SPAN_ID] == 5 and vars(unset) == vars(ours_unset))


class BucketAggregate:
    """The SDK types this fast path knows; the aggregation and bucket types are ``None`` when the
    probes at make time find them unlike the SDK 1.45 ones (then the SDK's own methods run)."""

    def __init__(self, measurement_type):
        from opentelemetry.sdk.metrics._internal.aggregation import _ExplicitBucketHistogramAggregation
        from opentelemetry.sdk.metrics._internal.exemplar import (
            AlignedHistogramBucketExemplarReservoir,
            AlwaysOffExemplarFilter,
            AlwaysOnExemplarFilter,
            TraceBasedExemplarFilter,
        )
        from opentelemetry.sdk.metrics._internal.exemplar.exemplar_reservoir import ExemplarBucket
        from opentelemetry.trace import INVALID_SPAN, Span
        from opentelemetry.trace.propagation import _SPAN_KEY

        self._measurement = measurement_type
        # None (never a type) when the SDK's objects lack what is read and written here.
        self._histogram = _ExplicitBucketHistogramAggregation if _knows(
            _ExplicitBucketHistogramAggregation, AlignedHistogramBucketExemplarReservoir) else None
        self._aligned = AlignedHistogramBucketExemplarReservoir
        self._bucket = ExemplarBucket if _offers_alike(ExemplarBucket) else None
        self._trace_based = TraceBasedExemplarFilter
        self._always_on = AlwaysOnExemplarFilter
        self._always_off = AlwaysOffExemplarFilter
        self._span_abc = Span
        self._invalid = INVALID_SPAN
        self._span_key = _SPAN_KEY
        self._span_types: dict[type, bool] = {}  # type -> isinstance(that type, Span)

    def should_sample(self, exemplar_filter, amount: float, now: int, attributes: dict, context) -> bool:
        kind = type(exemplar_filter)
        if kind is self._trace_based:
            span = self.current_span(context)
            return span != self._invalid and span.get_span_context().trace_flags.sampled  # as the SDK compares
        if kind is self._always_off:
            return False
        if kind is self._always_on:
            return True
        return exemplar_filter.should_sample(amount, now, attributes, context)

    def current_span(self, context):
        """``trace.get_current_span(context)``, the ``Span`` ABC check made once per span type."""
        span = context.get(self._span_key)
        return span if span is not None and self._is_span(span) else self._invalid

    def _is_span(self, span) -> bool:
        kind = type(span)
        known = self._span_types.get(kind)
        if known is None:
            known = isinstance(span, self._span_abc)
            if len(self._span_types) < _SPAN_TYPES_LIMIT:
                self._span_types[kind] = known
        return known

    def aggregate(self, aggregation, instrument, amount: float, now: int, attributes: dict, context,
                  sample: bool) -> None:
        if type(aggregation) is not self._histogram:
            measurement = self._measurement(amount, now, instrument, context, None)
            object.__setattr__(measurement, "attributes", attributes)  # already clean
            aggregation.aggregate(measurement, sample)
            return
        with aggregation._lock:
            counts = aggregation._value
            if counts is None:
                counts = aggregation._value = aggregation._get_empty_bucket_counts()
            aggregation._sum += amount
            if aggregation._record_min_max:
                aggregation._min = min(aggregation._min, amount)
                aggregation._max = max(aggregation._max, amount)
            counts[bisect_left(aggregation._boundaries, amount)] += 1
        if not sample:
            return
        reservoir = aggregation._reservoir
        if type(reservoir) is self._aligned:
            index = bisect_left(reservoir._boundaries, amount)
            with reservoir._lock:
                bucket = reservoir._reservoir_storage[index]
                if type(bucket) is self._bucket:
                    _offer_known(bucket, amount, now, attributes, self.current_span(context), self._invalid)
                else:
                    bucket.offer(amount, now, attributes, context)
        else:
            reservoir.offer(amount, now, attributes, context)
