"""Recording an SDK histogram for a fixed attribute set without cleaning and hashing the
attributes again on every call.

``Histogram.record(v, attrs)`` cleans ``attrs`` into a new dict (``Measurement``), copies it
again per view and hashes it per view to find the aggregation: under uvicorn that was a tenth of
the server's CPU per request, for the same five attributes request after request. A
:class:`BoundAttributes` cleans its attribute set once and remembers, per view of every reader,
the SDK's own hash of it (``_hash_attributes``, after the view's attribute-key filter). A
measurement then goes the SDK's way from there on: the meter's enabled flag, the exemplar filter,
every reader's every view, the aggregation the SDK itself created for that key (so views,
temporality, cardinality limits, exemplars and the collection locks are the SDK's); the filter's
decision and the explicit-bucket aggregation are done in place for the SDK's own types
(:mod:`vitalyst_otel.http.bucket_aggregate`), without a ``Measurement`` object.

It reads SDK internals (checked against opentelemetry-sdk 1.45); :func:`fast_path_available`
checks them when the recorder is made, and anything unexpected then or later switches the
recorder to the public ``record`` for good. tests/unit/http/test_bound_histogram.py compares the
collected data of both paths.
"""

from __future__ import annotations

import logging
import math
from time import time_ns

from opentelemetry.context import get_current

_log = logging.getLogger("vitalyst_otel")


def fast_path_available(instrument) -> bool:
    """Whether ``instrument`` is an SDK histogram whose internals are the ones we know."""
    try:
        from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes  # noqa: F401
        from opentelemetry.sdk.metrics._internal.instrument import Histogram
        from opentelemetry.sdk.metrics._internal.measurement_consumer import SynchronousMeasurementConsumer
    except ImportError:
        return False
    consumer = getattr(instrument, "_measurement_consumer", None)
    return (isinstance(instrument, Histogram) and type(consumer) is SynchronousMeasurementConsumer
            and hasattr(consumer, "_reader_storages") and hasattr(consumer, "_sdk_config")
            and callable(getattr(instrument, "_is_enabled", None)))


class BoundRecorder:
    """The histogram and whether its fast path is (still) usable; shared by its bound sets."""

    def __init__(self, instrument):
        self.instrument = instrument
        self.fast = fast_path_available(instrument)
        if self.fast:
            try:
                self._use_internals()
            except ImportError:  # an SDK without one of the names read here: the public path
                self.fast = False

    def _use_internals(self) -> None:
        from opentelemetry.attributes import _clean_attribute_value
        from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes
        from opentelemetry.sdk.metrics._internal.measurement import Measurement

        from vitalyst_otel.http.bucket_aggregate import BucketAggregate

        self._clean = _clean_attribute_value
        self._hash = _hash_attributes
        self._measurement = Measurement
        self.buckets = BucketAggregate(Measurement)

    def bind(self, attributes: dict) -> BoundAttributes:
        return BoundAttributes(self, attributes)

    def give_up(self, error: BaseException) -> None:
        self.fast = False
        _log.warning("The HTTP duration histogram records through the SDK's public API from now on "
                     "(its internals are not the ones this version knows: %r)", error)


class BoundAttributes:
    """One attribute set of one histogram; :meth:`record` is ``histogram.record(v, attributes)``."""

    __slots__ = ("recorder", "attributes", "_keys")

    def __init__(self, recorder: BoundRecorder, attributes: dict):
        self.recorder = recorder
        self.attributes = recorder._clean(attributes, None) if recorder.fast else attributes
        # id(view match) -> (view match, the SDK's aggregation key, the attributes that view keeps)
        self._keys: dict[int, tuple[object, object, dict]] = {}

    def record(self, amount: float) -> None:
        recorder = self.recorder
        instrument = recorder.instrument
        if not recorder.fast or not instrument._is_enabled() or not (0 <= amount < math.inf):
            instrument.record(amount, self.attributes)  # the SDK's checks and warnings
            return
        try:
            self._consume(recorder, instrument, amount)
        except Exception as exc:  # noqa: BLE001 - SDK internals changed: the public path from now on
            recorder.give_up(exc)
            instrument.record(amount, self.attributes)

    def _consume(self, recorder: BoundRecorder, instrument, amount: float) -> None:
        attributes = self.attributes
        context = get_current()
        now = time_ns()
        consumer = instrument._measurement_consumer
        buckets = recorder.buckets
        sample = buckets.should_sample(consumer._sdk_config.exemplar_filter, amount, now, attributes, context)
        for storage in consumer._reader_storages.values():
            for match in storage._get_or_init_view_instrument_match(instrument):
                held = self._keys.get(id(match))
                if held is None or held[0] is not match:
                    held = self._key_for(recorder, match)
                _, key, kept = held
                # From here on as _ViewInstrumentMatch.consume_measurement does it.
                if match._reset_on_collect:
                    with match._lock:
                        aggregation = match._get_or_create_aggregation(key, dict(kept))
                        buckets.aggregate(aggregation, instrument, amount, now, attributes, context, sample)
                    continue
                aggregation = match._attributes_aggregation.get(key)
                if aggregation is None:
                    with match._lock:
                        aggregation = match._get_or_create_aggregation(key, dict(kept))
                buckets.aggregate(aggregation, instrument, amount, now, attributes, context, sample)

    def _key_for(self, recorder: BoundRecorder, match) -> tuple[object, object, dict]:
        kept = dict(self.attributes)
        keys = match._view._attribute_keys
        if keys is not None:
            kept = {k: v for k, v in kept.items() if k in keys}
        held = (match, recorder._hash(kept), kept)
        self._keys[id(match)] = held
        return held
