"""GenAI semantic conventions of meters.track_enrichment (vitalyst_otel/genai.py): our own CLIENT
span and metrics, and stepping aside for the real contrib OpenAI instrumentor, whose real client
talks to the fake model server (tests/support/fake_model_server.py, a stand-in for a model API)."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from vitalyst_otel import genai, meters
from vitalyst_otel.config import Settings
from vitalyst_otel.setup.configure import current
from tests.support.fake_model_server import INPUT_TOKENS, OUTPUT_TOKENS, RESPONSE_MODEL, FakeModelServer

OURS = meters.SCOPE


@pytest.fixture(autouse=True)
def without_openai_instrumentor():
    """Our own path: configure() (the test capture) may have loaded the installed OpenAI
    instrumentor; it is taken off for the test and put back after."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    was_on = instrumentor.is_instrumented_by_opentelemetry
    if was_on:
        instrumentor.uninstrument()
    yield
    if was_on and not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
    elif not was_on and instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def _client_spans(capture):
    return [s for s in capture.spans if s.kind is SpanKind.CLIENT and "gen_ai.operation.name" in (s.attributes or {})]


def test_model_call_gets_a_client_span_under_the_business_span_and_both_metrics(otel_capture):
    with meters.track_enrichment(model="summariser-1", provider="openai", node_type="concept") as enrichment:
        enrichment.usage(input_tokens=120, output_tokens=30, response_model="summariser-1-2026")
    business = otel_capture.span("vitalyst.ai.enrichment")
    (client,) = _client_spans(otel_capture)
    assert client.name == "chat summariser-1"
    assert client.parent.span_id == business.context.span_id
    assert dict(client.attributes) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "summariser-1", "gen_ai.response.model": "summariser-1-2026",
        "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30}
    assert client.instrumentation_scope.name == OURS

    tokens = {a["gen_ai.token.type"]: v for a, v in otel_capture.metric_points("gen_ai.client.token.usage")}
    assert tokens["input"]["sum"] == 120 and tokens["output"]["sum"] == 30
    assert tokens["input"]["explicit_bounds"] == list(genai.TOKEN_USAGE_BUCKETS)
    ((attributes, duration),) = otel_capture.metric_points("gen_ai.client.operation.duration")
    assert attributes == {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                          "gen_ai.request.model": "summariser-1", "gen_ai.response.model": "summariser-1-2026"}
    assert duration["count"] == 1 and duration["explicit_bounds"] == list(genai.OPERATION_DURATION_BUCKETS)
    assert otel_capture.metric_total("vitalyst.ai.enrichment.duration") == 1  # the business histogram stays


def test_failed_model_call_carries_error_type_on_span_and_duration(otel_capture):
    with pytest.raises(TimeoutError):
        with meters.track_enrichment(model="m-err"):
            raise TimeoutError("slow")
    with meters.track_enrichment(model="m-err") as enrichment:
        enrichment.fail("empty_answer")
    clients = _client_spans(otel_capture)
    assert [s.attributes["error.type"] for s in clients] == ["TimeoutError", "empty_answer"]
    assert all(s.status.status_code is StatusCode.ERROR for s in clients)
    assert clients[0].events[0].name == "exception"
    errors = sorted(a["error.type"] for a, _ in otel_capture.metric_points("gen_ai.client.operation.duration"))
    assert errors == ["TimeoutError", "empty_answer"]
    assert otel_capture.metric_points("gen_ai.client.token.usage") == []  # nothing reported, nothing recorded


def test_without_a_model_there_is_no_genai_telemetry(otel_capture):
    with meters.track_enrichment() as enrichment:
        enrichment.usage(input_tokens=5)
    assert _client_spans(otel_capture) == []
    assert otel_capture.metric_points("gen_ai.client.operation.duration") == []


def test_content_is_not_recorded_unless_capture_is_on_and_then_redacted(otel_capture, monkeypatch):
    prompt = [{"role": "user", "content": "Summarise node n1; api_key=sk-live-123"}]
    with meters.track_enrichment(model="m-content") as enrichment:
        enrichment.messages(prompt=prompt, completion="A summary.")
    (span,) = _client_spans(otel_capture)
    assert "gen_ai.input.messages" not in span.attributes and "gen_ai.output.messages" not in span.attributes
    assert current().settings.instrumentation_genai_capture_message_content is False

    handle = current()
    monkeypatch.setattr(handle, "settings", Settings.load(
        {"instrumentation_genai_capture_message_content": True}, environ={}))
    otel_capture.clear()
    with meters.track_enrichment(model="m-content") as enrichment:
        enrichment.messages(prompt=prompt, completion="A summary.")
    (span,) = _client_spans(otel_capture)
    recorded = span.attributes["gen_ai.input.messages"]
    assert "Summarise node n1" in recorded and "sk-live-123" not in recorded and "[REDACTED]" in recorded
    assert span.attributes["gen_ai.output.messages"] == "A summary."


def test_capture_setting_accepts_the_contrib_values():
    def load(value):
        return Settings.load({}, environ={"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": value})

    def capture(value):
        return load(value).instrumentation_genai_capture_message_content

    assert capture("true") and capture("span_and_event")
    assert not capture("event_only") and not capture("false")
    bad = load("yes-please")
    assert not bad.instrumentation_genai_capture_message_content
    assert [p.variable for p in bad.problems] == ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"]


def test_instrument_names_are_the_semantic_conventions_ones():
    from opentelemetry.semconv._incubating.metrics import gen_ai_metrics

    source = open(genai.__file__).read()
    assert f'"{gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION}"' in source
    assert f'"{gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE}"' in source


def test_model_names_are_bounded():
    bounded = genai.FirstSeen("gen_ai.request.model", limit=2)
    assert [bounded(m) for m in ("a", "b", "c", "a")] == ["a", "b", "other", "a"]


def _call_fake_model(base_url: str) -> object:
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="sk-test-not-a-secret-anywhere", max_retries=0)
    return client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])


def test_real_client_without_instrumentor_reports_usage_through_the_handle(otel_capture):
    with FakeModelServer() as fake:
        with meters.track_enrichment(model="fake-model") as enrichment:
            answer = _call_fake_model(fake.base_url)
            enrichment.usage(answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.model)
    assert len(fake.requests) == 1
    (client,) = _client_spans(otel_capture)
    assert client.instrumentation_scope.name == OURS
    assert client.attributes["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert client.attributes["gen_ai.response.model"] == RESPONSE_MODEL


def test_with_the_openai_instrumentor_loaded_our_span_parents_its_span_and_our_metrics_step_aside(otel_capture):
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()  # the fixture has taken it off: this test puts it on itself
    try:
        assert "openai" in genai.instrumented_providers()
        with FakeModelServer() as fake:
            with meters.track_enrichment(model="fake-model") as enrichment:
                answer = _call_fake_model(fake.base_url)
                enrichment.usage(answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.model)
    finally:
        instrumentor.uninstrument()
    assert "openai" not in genai.instrumented_providers()

    business = otel_capture.span("vitalyst.ai.enrichment")
    (client,) = _client_spans(otel_capture)  # one CLIENT span: the instrumentor's
    assert client.instrumentation_scope.name.startswith("opentelemetry.instrumentation.openai_v2")
    assert client.name == "chat fake-model" and client.parent.span_id == business.context.span_id
    assert client.attributes["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    # Each measurement once: the instrumentor's duration and tokens, none of ours.
    assert otel_capture.metric_total("gen_ai.client.operation.duration") == 1
    tokens = {a["gen_ai.token.type"]: v["sum"] for a, v in otel_capture.metric_points("gen_ai.client.token.usage")}
    assert tokens == {"input": INPUT_TOKENS, "output": OUTPUT_TOKENS}
    assert otel_capture.metric_total("vitalyst.ai.enrichment.duration") == 1
