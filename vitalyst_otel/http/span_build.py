"""Making the SDK's own server span without ``Tracer.start_span``, and ending it without the
``ReadableSpan`` copy, where that is the same span.

``Tracer.start_span`` is general: it asks the sampler through three calls and a
``SamplingResult``, builds ``TraceFlags`` and ``SpanContext`` through their checks, runs the
``_Span`` and ``ReadableSpan`` constructors with their keyword plumbing, and ``start()`` takes a
lock to set the start time and loops the processors' ``on_start``. For the default set-up all of
that has one answer that can be computed directly: :class:`SpanBuilder` decides as the SDK's
own samplers decide (``ALWAYS_ON``/``ALWAYS_OFF``, ``TraceIdRatioBased``, ``ParentBased`` of
them: exact types only, a subclass may decide otherwise), draws the ids as ``RandomIdGenerator``
draws them, and fills a ``_Span`` (the SDK's class: every method a user calls on
``trace.get_current_span()`` keeps the SDK's semantics, limits and warnings) with the fields its
constructor sets. :meth:`SpanBuilder.end` is ``Span.end`` handing our span queue the span itself:
an ended SDK span refuses every change, and the ``ReadableSpan`` copy shares its attributes,
events and links anyway.

Only when the SDK is the one this was written against: :func:`sdk_matches` compares the names
the reimplemented SDK functions refer to with those of opentelemetry-sdk 1.45, and
:meth:`SpanBuilder.__init__` builds one span both ways and compares every field. Otherwise
``Tracer.start_span`` and ``Span.end`` as before. tests/unit/http/test_span_build.py makes spans
both ways and compares them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque as _deque
from random import getrandbits
from time import time_ns

from opentelemetry import trace as trace_api
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

# sha256 of the sorted names (co_names) each function the builder stands in for refers to, in
# opentelemetry-sdk 1.45: a change there means this module no longer knows what it does.
_KNOWN = {
    "Tracer.start_span": "c9a519e3ebf8d746",
    "Span.__init__": "7a1268330cc1c991",
    "Span.start": "8d1c2726081ae2b6",
    "Span.end": "f88073e2f93aadaf",
    "ReadableSpan.__init__": "a438bdc893a79909",
    "StaticSampler.should_sample": "3ce5aae67de0c541",
    "TraceIdRatioBased.should_sample": "12cc86d42b2e920d",
    "ParentBased.should_sample": "b118ab9d35159273",
    "RandomIdGenerator.generate_trace_id": "fda485f765da518e",
    "RandomIdGenerator.generate_span_id": "f9761074a7025699",
    "SpanContext.__new__": "041c6b07477429c7",
    "BoundedAttributes.__init__": "47be53490aa374ed",
    "BoundedList.__init__": "93eb2a55e775af6c",
}


def _functions() -> dict:
    from opentelemetry.attributes import BoundedAttributes
    from opentelemetry.sdk.trace import ReadableSpan, Span, Tracer
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
    from opentelemetry.sdk.trace.sampling import ParentBased, StaticSampler, TraceIdRatioBased
    from opentelemetry.sdk.util import BoundedList

    found = {}
    for owner in (Tracer, Span, ReadableSpan, StaticSampler, TraceIdRatioBased, ParentBased, RandomIdGenerator,
                  SpanContext, BoundedAttributes, BoundedList):
        for key in _KNOWN:
            cls, name = key.split(".")
            if cls == owner.__name__:
                found[key] = getattr(owner, name)
    return found


def fingerprint(function) -> str:
    return hashlib.sha256(" ".join(sorted(function.__code__.co_names)).encode()).hexdigest()[:16]


def sdk_matches() -> bool:
    """Whether the SDK functions the builder stands in for are the ones it was written against."""
    try:
        found = _functions()
        return all(fingerprint(found[key]) == known for key, known in _KNOWN.items())
    except Exception:  # noqa: BLE001 - another SDK: the public path
        return False


def _decider(sampler):
    """``decide(parent, trace_id) -> sampled`` for a sampler built from the SDK's own (exact
    types, ``parent`` a valid SpanContext or None), or None for any other sampler."""
    from opentelemetry.sdk.trace.sampling import Decision, ParentBased, StaticSampler, TraceIdRatioBased

    should_sample = getattr(type(sampler), "should_sample", None)
    if should_sample is StaticSampler.should_sample:
        if sampler._decision is Decision.RECORD_AND_SAMPLE:
            return lambda parent, trace_id: True
        if sampler._decision is Decision.DROP:
            return lambda parent, trace_id: False
        return None
    if should_sample is TraceIdRatioBased.should_sample:
        limit = TraceIdRatioBased.TRACE_ID_LIMIT
        return lambda parent, trace_id: trace_id & limit < sampler.bound
    if should_sample is ParentBased.should_sample:
        root, remote_sampled, remote_not, local_sampled, local_not = (
            _decider(getattr(sampler, name)) for name in ("_root", "_remote_parent_sampled",
                                                          "_remote_parent_not_sampled", "_local_parent_sampled",
                                                          "_local_parent_not_sampled"))
        if None in (root, remote_sampled, remote_not, local_sampled, local_not):
            return None

        def parent_based(parent, trace_id):
            if parent is None:
                return root(parent, trace_id)
            if parent[2]:  # is_remote
                return (remote_sampled if parent[3] & 1 else remote_not)(parent, trace_id)
            return (local_sampled if parent[3] & 1 else local_not)(parent, trace_id)

        return parent_based
    return None


_LOCK = type(threading.Lock())


def _same_fields(ours, theirs, depth: int = 0) -> bool:
    """The two objects hold the same fields in the same order, with equal values (locks and
    deques: the same type, the SDK's objects compared field by field)."""
    if type(ours) is not type(theirs):
        return False
    if type(theirs) is _LOCK:
        return True
    if type(theirs) is _deque:
        return list(ours) == list(theirs) and ours.maxlen == theirs.maxlen
    if not hasattr(theirs, "__dict__") or depth > 2:
        return ours == theirs
    a, b = vars(ours), vars(theirs)
    return list(a) == list(b) and all(
        a[key] is b[key] or _same_fields(a[key], b[key], depth + 1) for key in b)


class SpanBuilder:
    """Starts and ends the server spans of one SDK tracer as ``start_span``/``end`` would; see
    the module doc. ``available`` is False when it cannot, and :meth:`start` then returns None."""

    def __init__(self, tracer):
        self.tracer = tracer
        self.available = False
        try:
            self._prepare(tracer)
        except Exception:  # noqa: BLE001 - not the SDK this knows: start_span as before
            self.available = False

    def _prepare(self, tracer) -> None:
        from opentelemetry.attributes import BoundedAttributes
        from opentelemetry.sdk.trace import ReadableSpan, Span, _Span
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
        from opentelemetry.sdk.trace.sampling import Decision
        from opentelemetry.sdk.util import BoundedList

        if not sdk_matches() or type(tracer.id_generator) is not RandomIdGenerator:
            return
        self._decide = _decider(tracer.sampler)
        if self._decide is None:
            return
        self._sampler, self._ids = tracer.sampler, tracer.id_generator
        self._span, self._attrs, self._list = _Span, BoundedAttributes, BoundedList
        self._unset = ReadableSpan.__init__.__defaults__[-4]  # status=Status(StatusCode.UNSET)
        self._decisions = (Decision.DROP, Decision.RECORD_AND_SAMPLE)
        # TraceFlags are immutable ints: the four a span of ours can carry, made once.
        self._flags = {(sampled, random): TraceFlags((sampled and TraceFlags.SAMPLED)
                                                     | (random and TraceFlags.RANDOM_TRACE_ID))
                       for sampled in (False, True) for random in (False, True)}
        self._lock = threading.Lock
        self._end_checked: tuple | None = None
        probe = SpanContext(0x1F, 0x2F, False, self._flags[True, True])
        theirs = _Span(name="probe", context=probe, parent=probe, sampler=tracer.sampler, resource=tracer.resource,
                       attributes={}, span_processor=tracer.span_processor, kind=SpanKind.SERVER, links=(),
                       instrumentation_info=tracer.instrumentation_info, record_exception=True,
                       set_status_on_exception=True, limits=tracer._span_limits,
                       instrumentation_scope=tracer._instrumentation_scope, record_end_metrics=None)
        ours = self._fill(_Span.__new__(_Span), "probe", probe, probe, None, None)
        ours_context = self._context(0x1F, 0x2F, True, True, None)
        self.available = (_same_fields(ours, theirs) and tuple(ours_context) == tuple(probe)
                          and isinstance(theirs, Span) and ours.is_recording())

    def _context(self, trace_id: int, span_id: int, sampled: bool, random: bool, state) -> SpanContext:
        # SpanContext.__new__'s tuple, its defaults and validity check inline (ids valid by construction).
        return tuple.__new__(SpanContext, (trace_id, span_id, False, self._flags[sampled, random],
                                           state if state is not None else trace_api.DEFAULT_TRACE_STATE, True))

    def _fill(self, span, name, context, parent, start_time, record_end_metrics):
        tracer = self.tracer
        limits = tracer._span_limits
        attributes = self._attrs.__new__(self._attrs)
        attributes.__dict__ = {"_dict": {}, "maxlen": limits.max_span_attributes, "dropped": 0,
                               "max_value_len": limits.max_span_attribute_length, "_lock": self._lock(),
                               "_immutable": False}
        events = self._list.__new__(self._list)
        events.__dict__ = {"dropped": 0, "_dq": _deque(maxlen=limits.max_events), "_lock": self._lock()}
        links = self._list.__new__(self._list)
        links.__dict__ = {"dropped": 0, "_dq": _deque(maxlen=limits.max_links), "_lock": self._lock()}
        span.__dict__ = {
            "_name": name, "_context": context, "_kind": SpanKind.SERVER,
            "_instrumentation_info": tracer.instrumentation_info,
            "_instrumentation_scope": tracer._instrumentation_scope, "_parent": parent, "_start_time": start_time,
            "_end_time": None, "_attributes": attributes, "_events": events, "_links": links,
            "_resource": tracer.resource, "_status": self._unset, "_sampler": tracer.sampler, "_trace_config": None,
            "_record_exception": True, "_set_status_on_exception": True, "_span_processor": tracer.span_processor,
            "_limits": limits, "_lock": self._lock(), "_record_end_metrics": record_end_metrics}
        return span

    def start(self, name: str, context):
        """``tracer.start_span(name, context, kind=SERVER)`` for a tracer whose processors'
        ``on_start`` do nothing; None when this tracer's set-up changed (the caller then takes
        ``start_span``)."""
        tracer = self.tracer
        if (tracer.sampler is not self._sampler or tracer.id_generator is not self._ids
                or not tracer._tracer_config.is_enabled):
            return None
        parent = trace_api.get_current_span(context).get_span_context()
        if type(parent) is not SpanContext:
            return None
        if parent[5]:  # is_valid
            trace_id, random, state = parent[0], bool(parent[3] & TraceFlags.RANDOM_TRACE_ID), parent[4]
        else:
            parent, random, state = None, True, None
            trace_id = getrandbits(128)
            while not trace_id:
                trace_id = getrandbits(128)
        sampled = self._decide(parent, trace_id)
        span_id = getrandbits(64)
        while not span_id:
            span_id = getrandbits(64)
        span_context = self._context(trace_id, span_id, sampled, random, state)
        record_end_metrics = tracer._tracer_metrics.start_span(parent, self._decisions[sampled])
        if not sampled:
            return trace_api.NonRecordingSpan(span_context)
        return self._fill(self._span.__new__(self._span), name, span_context, parent, time_ns(), record_end_metrics)

    def ends_for_queue_only(self, processors: tuple, queue_type: type) -> bool:
        """Whether every processor is one of our span queues (which only read a span after its end)."""
        if processors is self._end_checked:
            return True
        from opentelemetry.sdk.trace import SpanProcessor

        if processors and all(type(p) is queue_type and type(p)._on_ending is SpanProcessor._on_ending
                              for p in processors):
            self._end_checked = processors
            return True
        return False

    @staticmethod
    def mark_ended(span) -> bool:
        """The first half of ``span.end()``; False (nothing done) where the SDK's ``end`` has
        to say something (not started, ended already)."""
        with span._lock:
            if span._start_time is None or span._end_time is not None:
                return False
            span._end_time = time_ns()
            span._attributes._immutable = True
        return True

    @staticmethod
    def hand_over(span, processors: tuple) -> None:
        """The second half: the SDK's end metrics, then every processor gets the span itself."""
        if span._record_end_metrics:
            span._record_end_metrics()
        for processor in processors:
            processor.on_end(span)
