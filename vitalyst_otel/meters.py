"""The knowledge graph's business metrics.

Graph size::

    meters.observe_node_counts(lambda: store.counts())   # {"concept": 12, "entity": 40, ...}

AI enrichment, as a context manager or a decorator (sync or async); it times the call in
seconds, records success or failure (with a bounded ``error.type``) and opens a span. With a
``model`` it also records the model call under the GenAI semantic conventions (a CLIENT span
``chat {model}``, gen_ai.client.operation.duration and gen_ai.client.token.usage; see
:mod:`vitalyst_otel.genai`), reported on the handle::

    with meters.track_enrichment(model="gpt-4o-mini", provider="openai") as enrichment:
        result = await call_model(node)
        enrichment.usage(input_tokens=result.usage.prompt_tokens,
                         output_tokens=result.usage.completion_tokens, response_model=result.model)
        if not result.ok:
            enrichment.fail("empty_answer")

    @meters.track_enrichment()
    async def enrich(node): ...

Validation queue: the length as an observable, and counters of enqueued and processed items, so a
stalled consumer (queue length up, processed rate zero) can be told from a busy one (both up)::

    meters.observe_validation_queue(queue.qsize)
    meters.validation_enqueued(3)
    meters.validation_processed("valid")

Attribute values come from declared sets (node types, outcomes): anything else is recorded as
``other`` (see :mod:`vitalyst_otel.cardinality`). Instruments are created on first use from the
global meter provider, so these work before or after ``configure()``.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Status, StatusCode

from vitalyst_otel.cardinality import DeclaredValues, FirstSeen
from vitalyst_otel.errors import error_type
from vitalyst_otel.genai import ModelCall, create_instruments
from vitalyst_otel.setup.lifecycle import lifecycle

SCOPE = "vitalyst_otel"
NODE_TYPES = ("concept", "entity", "document", "source", "claim", "relation", "topic")
ENRICHMENT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
PROCESSED_OUTCOMES = ("valid", "invalid", "error")

node_types = DeclaredValues("vitalyst.graph.node.type", NODE_TYPES)
enrichment_errors = FirstSeen("error.type", limit=20)
processed_outcomes = DeclaredValues("outcome", PROCESSED_OUTCOMES)


class _Instruments:
    """Created lazily, once, from the global meter provider."""

    def __init__(self) -> None:
        meter = metrics.get_meter(SCOPE)
        self.enrichment = meter.create_histogram(
            "vitalyst.ai.enrichment.duration", unit="s",
            description="Duration of AI enrichment calls, by outcome.",
            explicit_bucket_boundaries_advisory=list(ENRICHMENT_BUCKETS))
        self.enqueued = meter.create_counter(
            "vitalyst.validation.enqueued.items", unit="{item}",
            description="Items put on the validation queue.")
        self.processed = meter.create_counter(
            "vitalyst.validation.processed.items", unit="{item}",
            description="Items the validation consumer finished, by outcome.")
        self.tracer = trace.get_tracer(SCOPE)
        self.genai = create_instruments(meter, self.tracer)
        self._observed: list[Any] = []

    def keep(self, instrument) -> None:
        self._observed.append(instrument)


def _instruments() -> _Instruments:
    return lifecycle.get_or_create("meters", _Instruments)


def declare_node_types(types: Iterable[str]) -> None:
    """Add node types to the declared set (the built-in set is NODE_TYPES)."""
    node_types.declare(types)


def observe_node_counts(callback: Callable[[], Mapping[str, int]]) -> None:
    """Report ``callback()`` (node type -> count) as ``vitalyst.graph.node.count`` at every
    metric collection. Undeclared types are summed under ``other``."""

    def observe(options: CallbackOptions):
        totals: dict[str, int] = {}
        for node_type, count in callback().items():
            bounded = node_types(node_type)
            totals[bounded] = totals.get(bounded, 0) + int(count)
        return [Observation(count, {"vitalyst.graph.node.type": t}) for t, count in totals.items()]

    _instruments().keep(metrics.get_meter(SCOPE).create_observable_up_down_counter(
        "vitalyst.graph.node.count", callbacks=[observe], unit="{node}",
        description="Nodes in the knowledge graph, by type."))


def observe_validation_queue(length: Callable[[], int]) -> None:
    """Report ``length()`` as ``vitalyst.validation.queue.length`` at every collection."""

    def observe(options: CallbackOptions):
        return [Observation(int(length()))]

    _instruments().keep(metrics.get_meter(SCOPE).create_observable_up_down_counter(
        "vitalyst.validation.queue.length", callbacks=[observe], unit="{item}",
        description="Items waiting on the validation queue."))


def validation_enqueued(count: int = 1) -> None:
    _instruments().enqueued.add(count)


def validation_processed(outcome: str = "valid", count: int = 1) -> None:
    """``outcome``: valid, invalid or error."""
    _instruments().processed.add(count, {"outcome": processed_outcomes(outcome)})


class track_enrichment:  # noqa: N801 - used like a function: with track_enrichment(): ...
    """Time one AI enrichment (context manager, or decorator of sync and async functions)."""

    def __init__(self, model: str | None = None, node_type: str | None = None,
                 provider: str = "openai", operation: str = "chat"):
        self.model = model
        self.node_type = node_type
        self.provider = provider
        self.operation = operation
        self._failure: str | None = None
        self._start = 0.0
        self._span = None
        self._token = None
        self._call: ModelCall | None = None

    def fail(self, reason: str) -> None:
        """Mark the enrichment failed without raising (``reason`` becomes the bounded error.type)."""
        self._failure = reason

    def usage(self, input_tokens: int | None = None, output_tokens: int | None = None,
              response_model: str | None = None) -> None:
        """Report the model call's token usage and the model that answered."""
        if self._call is not None:
            self._call.usage(input_tokens, output_tokens, response_model)

    def messages(self, prompt=None, completion=None) -> None:
        """Prompt and completion content: recorded only when
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT is on, and then redacted."""
        if self._call is not None:
            self._call.messages(prompt, completion)

    def __enter__(self) -> track_enrichment:
        attributes = {}
        if self.model:
            attributes["vitalyst.ai.model"] = self.model
        if self.node_type:
            attributes["vitalyst.graph.node.type"] = node_types(self.node_type)
        self._span = _instruments().tracer.start_span("vitalyst.ai.enrichment", attributes=attributes)
        self._token = trace.use_span(self._span, end_on_exit=False)
        self._token.__enter__()
        self._failure = None
        self._call = ModelCall(_instruments().genai, self.model, self.provider, self.operation).start() if self.model else None
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        elapsed = time.perf_counter() - self._start
        failure = error_type(exc) if exc is not None else self._failure
        attributes = {"outcome": "failure" if failure else "success"}
        span = self._span
        if failure:
            attributes["error.type"] = enrichment_errors(failure)
            span.set_attribute("error.type", attributes["error.type"])
            span.set_status(Status(StatusCode.ERROR))
            if exc is not None:
                span.record_exception(exc)
        if self._call is not None:
            self._call.end(attributes.get("error.type"), exc)
        span.set_attribute("outcome", attributes["outcome"])
        _instruments().enrichment.record(elapsed, attributes)
        self._token.__exit__(None, None, None)
        span.end()
        return False

    async def __aenter__(self) -> track_enrichment:
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def __call__(self, function):
        options = (self.model, self.node_type, self.provider, self.operation)
        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def async_wrapper(*args, **kwargs):
                with track_enrichment(*options):
                    return await function(*args, **kwargs)

            return async_wrapper

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with track_enrichment(*options):
                return function(*args, **kwargs)

        return wrapper
