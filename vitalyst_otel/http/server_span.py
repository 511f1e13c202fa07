"""Starting the server span and adding its attributes without the SDK cleaning each value again.

``Tracer.start_span(attributes=...)`` hands the attributes to a ``BoundedAttributes``, which
runs every key and value through ``_clean_attribute_value`` (type checks, recursion, a copy per
mapping) and then stores them one by one under a lock; ``set_attribute`` does the same per key.
For the server span the middleware builds the values itself: strings, integers and lists of
header strings, valid by construction. :class:`ServerSpans` checks each value with one type
test instead and writes it into the span's attribute dict directly.

What stays the SDK's: the sampler's decision, ids, span limits, processors, ``end()`` and the
``ReadableSpan`` they see. The span is started without attributes and they are added right
after, before anyone else holds it, which is the same span only when nothing can have looked at
it in between: the sampler must be one of the SDK's built-in samplers (they never read the
attributes) and every span processor's ``on_start`` one known to do nothing. Anything else (a
custom sampler, a processor that reads the span at start, a value that is not plainly valid, a
span attribute value length limit a value exceeds, more attributes than the count limit) takes
the SDK's public path for that span, with its checks and warnings.

Where the set-up allows, the span itself is built and ended by
:class:`vitalyst_otel.http.span_build.SpanBuilder` instead of ``start_span``/``end`` (same
guard; see there).

It reads SDK internals (checked against opentelemetry-sdk 1.45): :func:`fast_path_available`
checks them when made, and anything unexpected later switches to the public API for good (one
warning). tests/unit/http/test_server_span.py compares spans made both ways.
"""

from __future__ import annotations

import logging

from opentelemetry.trace import NonRecordingSpan, SpanKind

from vitalyst_otel.http.span_build import SpanBuilder

_log = logging.getLogger("vitalyst_otel")
_SCALARS = frozenset((str, int, float, bool))


def _blind_samplers() -> frozenset:
    from opentelemetry.sdk.trace import sampling

    names = ("StaticSampler", "TraceIdRatioBased", "ParentBased", "ParentBasedTraceIdRatio", "_AlwaysOn",
             "_AlwaysOff", "_ParentBasedAlwaysOn", "_ParentBasedAlwaysOff")
    return frozenset(getattr(sampling, name) for name in names if hasattr(sampling, name))


_PARENT_BASED_DELEGATES = ("_root", "_remote_parent_sampled", "_remote_parent_not_sampled",
                           "_local_parent_sampled", "_local_parent_not_sampled")


def sampler_reads_no_attributes(sampler, known: frozenset | None = None) -> bool:
    """Whether ``sampler`` is built from the SDK's own samplers only (exact types: a subclass
    may override ``should_sample``), none of which looks at the span's attributes."""
    known = _blind_samplers() if known is None else known
    if type(sampler) not in known:
        return False
    delegates = [getattr(sampler, name, None) for name in _PARENT_BASED_DELEGATES]
    return all(d is None or sampler_reads_no_attributes(d, known) for d in delegates)


def _blind_on_starts() -> frozenset:
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    from vitalyst_otel.export.span_processor import QueueSpanProcessor

    return frozenset(cls.on_start for cls in (SpanProcessor, SimpleSpanProcessor, BatchSpanProcessor,
                                              QueueSpanProcessor))


def fast_path_available(tracer) -> bool:
    """Whether ``tracer`` is an SDK tracer whose internals are the ones we know, with a
    built-in sampler."""
    try:
        from opentelemetry.attributes import BoundedAttributes
        from opentelemetry.sdk.trace import SynchronousMultiSpanProcessor, Tracer
    except ImportError:
        return False
    try:
        probe = BoundedAttributes(2, {"k": "v"}, immutable=False)
    except Exception:  # noqa: BLE001 - not the BoundedAttributes we know
        return False
    return (type(tracer) is Tracer and type(getattr(tracer, "span_processor", None)) is SynchronousMultiSpanProcessor
            and isinstance(getattr(tracer.span_processor, "_span_processors", None), tuple)
            and sampler_reads_no_attributes(getattr(tracer, "sampler", None))
            and getattr(probe, "_dict", None) == {"k": "v"} and type(probe._dict) is dict
            and callable(getattr(probe, "_setitem_locked", None)) and hasattr(probe, "_lock")
            and hasattr(probe, "maxlen") and hasattr(probe, "max_value_len"))


class ServerSpans:
    """Starts server spans of one tracer and adds attributes to them (see the module doc)."""

    def __init__(self, tracer):
        self.tracer = tracer
        self.fast = fast_path_available(tracer)
        self._blind = _blind_on_starts() if self.fast else frozenset()
        self._checked: tuple | None = None  # the processor tuple last found to ignore on_start
        if self.fast:
            from opentelemetry.attributes import BoundedAttributes
            from opentelemetry.sdk import trace as sdk_trace

            self._bounded = BoundedAttributes
            self._span_type = sdk_trace.Span
            # The class start_span makes: tested first by identity, as isinstance goes through
            # the ABC machinery of the API's Span on every call.
            self._made = getattr(sdk_trace, "_Span", sdk_trace.Span)
            self._not_sampled = NonRecordingSpan
            self.builder = SpanBuilder(tracer)
            from vitalyst_otel.export.span_processor import QueueSpanProcessor

            self._queue_type = QueueSpanProcessor

    def _recording(self, span) -> bool:
        kind = type(span)
        return kind is self._made or (kind is not self._not_sampled and isinstance(span, self._span_type))

    def _processors_blind(self) -> bool:
        processors = self.tracer.span_processor._span_processors
        if processors is self._checked:
            return True
        # A new tuple whenever a processor is added (SynchronousMultiSpanProcessor): checked again.
        if all(type(p).on_start in self._blind for p in processors):
            self._checked = processors
            return True
        return False

    def start(self, name: str, context, attributes: dict):
        """``tracer.start_span(name, context, kind=SERVER, attributes=attributes)``."""
        tracer = self.tracer
        if not self.fast or not self._guarded(self._processors_blind):
            return tracer.start_span(name, context=context, kind=SpanKind.SERVER, attributes=attributes)
        span = self._guarded(self.builder.start, name, context) if self.builder.available else None
        if not span:
            span = tracer.start_span(name, context=context, kind=SpanKind.SERVER)
        # A span not sampled is a non-recording one: it takes no attributes.
        if self._recording(span) and not self._guarded(self._store_fresh, span, attributes):
            span.set_attributes(attributes)
        return span

    def _guarded(self, step, *args) -> bool:
        try:
            return step(*args)
        except Exception as exc:  # noqa: BLE001 - SDK internals changed: the public path from now on
            self.give_up(exc)
            return False

    def _store_fresh(self, span, attributes: dict) -> bool:
        bounded = span._attributes
        if type(bounded) is not self._bounded or bounded._dict:
            return False
        maxlen = bounded.maxlen
        if maxlen is not None and len(attributes) > maxlen:
            return False
        if not _clean(attributes, bounded.max_value_len, bounded._dict):
            bounded._dict.clear()
            return False
        return True

    def add(self, span, attributes: dict) -> None:
        """``span.set_attributes(attributes)`` for a span of :meth:`start`."""
        if not (self.fast and self._recording(span) and self._guarded(self._store, span, attributes)):
            span.set_attributes(attributes)

    def _store(self, span, attributes: dict) -> bool:
        bounded = span._attributes
        if type(bounded) is not self._bounded:
            return False
        clean: dict = {}
        if not _clean(attributes, bounded.max_value_len, clean):
            return False
        with span._lock:
            if span._end_time is not None:
                return False  # the SDK warns about it
            with bounded._lock:
                for key, value in clean.items():
                    bounded._setitem_locked(key, value)  # the count limit: drops the oldest, counts it
        return True

    def end(self, span) -> None:
        """``span.end()`` for a span of :meth:`start`; our span queues get the span itself."""
        if self.fast and type(span) is self._made and self.builder.available:
            processors = self.tracer.span_processor._span_processors
            if (span._span_processor is self.tracer.span_processor
                    and self.builder.ends_for_queue_only(processors, self._queue_type)
                    and self._guarded(self.builder.mark_ended, span)):
                self.builder.hand_over(span, processors)
                return
        span.end()

    def give_up(self, error: BaseException) -> None:
        self.fast = False
        _log.warning("The HTTP server span is started, filled and ended through the SDK's public API from "
                     "now on (its internals are not the ones this version knows: %r)", error)


def _clean(attributes: dict, max_length: int | None, into: dict) -> bool:
    """Writes ``attributes`` into ``into`` as the SDK would store them (lists as tuples); False
    where one of them needs the SDK's cleaning (a non-string key, another type, a string over
    ``max_length``), ``into`` then holding part of them."""
    for key, value in attributes.items():
        if type(key) is not str or not key:
            return False
        kind = type(value)
        if kind is str:
            if max_length is not None and len(value) > max_length:
                return False
        elif kind is list or kind is tuple:
            for item in value:
                if type(item) is not str or (max_length is not None and len(item) > max_length):
                    return False
            value = tuple(value)
        elif kind not in _SCALARS:
            return False
        into[key] = value
    return True
