"""Model calls under the GenAI semantic conventions (the release of opentelemetry-semantic-conventions
we depend on): a CLIENT span ``{gen_ai.operation.name} {gen_ai.request.model}`` and the metrics
``gen_ai.client.operation.duration`` (s) and ``gen_ai.client.token.usage`` ({token}).

:class:`ModelCall` is what ``meters.track_enrichment`` opens inside its business span. When a
GenAI instrumentor for the call's provider is loaded (contrib's opentelemetry-instrumentation-openai-v2,
for one), that instrumentor records the CLIENT span and the metrics of the real client call, as a
child of our business span; a ModelCall then records nothing, so no call is counted twice.

Prompt and completion content is recorded only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
turns it on, and then redacted (credentials in the text are masked) and truncated.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import SpanKind, Status, StatusCode

from vitalyst_otel.cardinality import FirstSeen

# The semantic conventions' advisory boundaries (gen-ai metrics).
OPERATION_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
                              20.48, 40.96, 81.92)
TOKEN_USAGE_BUCKETS = tuple(4 ** power for power in range(14))  # 1, 4, 16, ... 67108864
CONTENT_LIMIT = 4096  # characters of captured content kept per message list

# Instrumentor modules that record GenAI client spans and metrics, and the providers they cover.
INSTRUMENTORS: dict[str, tuple[str, ...]] = {
    "opentelemetry.instrumentation.openai_v2": ("openai", "azure.ai.openai"),
    "opentelemetry.instrumentation.openai": ("openai", "azure.ai.openai"),
    "opentelemetry.instrumentation.anthropic": ("anthropic",),
    "opentelemetry.instrumentation.google_genai": ("gcp.gen_ai", "gcp.gemini", "gcp.vertex_ai"),
    "opentelemetry.instrumentation.vertexai": ("gcp.vertex_ai",),
    "opentelemetry.instrumentation.botocore": ("aws.bedrock",),
}

models = FirstSeen(gen_ai.GEN_AI_REQUEST_MODEL, limit=20)
providers = FirstSeen(gen_ai.GEN_AI_PROVIDER_NAME, limit=10)


@dataclass(frozen=True)
class Instruments:
    tracer: Any
    duration: Any
    tokens: Any


def create_instruments(meter, tracer) -> Instruments:
    # Literal names (the doc test reads them); a unit test pins them to the semconv constants.
    return Instruments(
        tracer=tracer,
        duration=meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(OPERATION_DURATION_BUCKETS)),
        tokens=meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(TOKEN_USAGE_BUCKETS)))


def instrumented_providers() -> set[str]:
    """Providers whose client calls a loaded (``instrument()``-ed) GenAI instrumentor records."""
    base = sys.modules.get("opentelemetry.instrumentation.instrumentor")
    if base is None:
        return set()
    covered: set[str] = set()
    pending = list(base.BaseInstrumentor.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        instance = cls.__dict__.get("_instance")
        if instance is None or not getattr(instance, "_is_instrumented_by_opentelemetry", False):
            continue
        for prefix, names in INSTRUMENTORS.items():
            if cls.__module__ == prefix or cls.__module__.startswith(prefix + "."):
                covered.update(names)
    return covered


def _capture_settings():
    """(capture content?, redactor) from this process's configuration; off when unconfigured."""
    from vitalyst_otel.setup.configure import current

    handle = current()
    if handle is None or not handle.settings.instrumentation_genai_capture_message_content:
        return False, None
    from vitalyst_otel.redaction.redactor import Redactor

    settings = handle.settings
    return True, Redactor(settings.redact_keys, settings.redact_max_chars)


def _content(messages: Any, redactor) -> str:
    text = messages if isinstance(messages, str) else json.dumps(messages, default=str, ensure_ascii=False)
    if redactor is not None:
        text = redactor.text(text)
    return text[:CONTENT_LIMIT]


class ModelCall:
    """One model call: open with :meth:`start`, report on it, close with :meth:`end`."""

    def __init__(self, instruments: Instruments, request_model: str, provider: str = "openai",
                 operation: str = "chat"):
        self.instruments = instruments
        self.request_model = models(request_model)
        self.provider = providers(provider)
        self.operation = operation
        self.response_model: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.recording = False
        self._span = None
        self._start = 0.0

    def start(self) -> ModelCall:
        """Open the CLIENT span, unless an instrumentor covers this provider."""
        self.recording = self.provider not in instrumented_providers()
        if self.recording:
            attributes = {
                gen_ai.GEN_AI_OPERATION_NAME: self.operation,
                gen_ai.GEN_AI_PROVIDER_NAME: self.provider,
                gen_ai.GEN_AI_REQUEST_MODEL: self.request_model,
            }
            self._span = self.instruments.tracer.start_span(
                f"{self.operation} {self.request_model}", kind=SpanKind.CLIENT, attributes=attributes)
        self._start = time.perf_counter()
        return self

    def usage(self, input_tokens: int | None = None, output_tokens: int | None = None,
              response_model: str | None = None) -> None:
        if input_tokens is not None:
            self.input_tokens = max(int(input_tokens), 0)
        if output_tokens is not None:
            self.output_tokens = max(int(output_tokens), 0)
        if response_model:
            self.response_model = models(str(response_model))

    def messages(self, prompt: Any = None, completion: Any = None) -> None:
        """Record prompt and completion content, only if content capture is on (redacted)."""
        if self._span is None:
            return
        capture, redactor = _capture_settings()
        if not capture:
            return
        if prompt is not None:
            self._span.set_attribute(gen_ai.GEN_AI_INPUT_MESSAGES, _content(prompt, redactor))
        if completion is not None:
            self._span.set_attribute(gen_ai.GEN_AI_OUTPUT_MESSAGES, _content(completion, redactor))

    def end(self, error: str | None = None, exc: BaseException | None = None) -> None:
        if not self.recording:
            return
        elapsed = time.perf_counter() - self._start
        attributes = {
            gen_ai.GEN_AI_OPERATION_NAME: self.operation,
            gen_ai.GEN_AI_PROVIDER_NAME: self.provider,
            gen_ai.GEN_AI_REQUEST_MODEL: self.request_model,
        }
        if self.response_model:
            attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = self.response_model
        span = self._span
        span.set_attributes({key: value for key, value in (
            (gen_ai.GEN_AI_RESPONSE_MODEL, self.response_model),
            (gen_ai.GEN_AI_USAGE_INPUT_TOKENS, self.input_tokens),
            (gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, self.output_tokens)) if value is not None})
        instruments = self.instruments
        for token_type, count in (("input", self.input_tokens), ("output", self.output_tokens)):
            if count is not None:
                instruments.tokens.record(count, {**attributes, gen_ai.GEN_AI_TOKEN_TYPE: token_type})
        if error:
            attributes[ERROR_TYPE] = error
            span.set_attribute(ERROR_TYPE, error)
            span.set_status(Status(StatusCode.ERROR))
            if exc is not None:
                span.record_exception(exc)
        instruments.duration.record(elapsed, attributes)
        span.end()
