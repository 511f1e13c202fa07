"""GenAI conventions on the decoded OTLP wire (tests/support/otlp_receiver.py), under the launcher
and configure(), with and without the real contrib OpenAI instrumentor; the real openai client
talks to the fake model server (tests/support/fake_model_server.py, a stand-in for a model API)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.fake_model_server import INPUT_TOKENS, OUTPUT_TOKENS, RESPONSE_MODEL, FakeModelServer
from tests.support.otlp_receiver import OtlpReceiver, attrs

BIN = Path(sys.executable).parent

SCRIPT = textwrap.dedent("""
    import os, sys
    import openai
    import vitalyst_otel
    from vitalyst_otel import meters

    mode = sys.argv[1]
    if mode == "configure":
        vitalyst_otel.configure(service_name="genai-wire")  # loads the installed instrumentors, as the launcher
    client = openai.OpenAI(base_url=os.environ["FAKE_MODEL_URL"], api_key="sk-wire-secret-1", max_retries=0)
    prompt = [{"role": "user", "content": "Summarise node n1; password=hunter2"}]
    with meters.track_enrichment(model="fake-model", node_type="concept") as enrichment:
        answer = client.chat.completions.create(model="fake-model", messages=prompt)
        enrichment.usage(answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.model)
        enrichment.messages(prompt=prompt, completion=answer.choices[0].message.content)
    assert vitalyst_otel.shutdown(10)
""")


def run(mode: str, receiver: OtlpReceiver, fake: FakeModelServer, **extra_env) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "OTEL_SERVICE_NAME": "genai-wire",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",
        "OTEL_LOGS_EXPORTER": "none",
        "FAKE_MODEL_URL": fake.base_url,
        **extra_env,
    }
    argv = [sys.executable, "-c", SCRIPT, mode]
    if mode == "launcher":
        argv = [str(BIN / "opentelemetry-instrument"), *argv]
    return subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=120)


def _genai_metrics(receiver):
    found = {}
    for _, metric in receiver.received.metrics():
        if metric.name.startswith("gen_ai."):
            found.setdefault(metric.name, []).extend(metric.histogram.data_points)
    return found


# mode, extra environment, whose CLIENT span (instrumentation scope) is expected
WITHOUT = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai"}
PATHS = [
    ("configure", WITHOUT, "vitalyst_otel"),
    ("configure", {}, "opentelemetry.instrumentation.openai_v2"),
    ("launcher", WITHOUT, "vitalyst_otel"),
    ("launcher", {}, "opentelemetry.instrumentation.openai_v2"),
]


@pytest.mark.parametrize(("mode", "extra_env", "scope"), PATHS,
                         ids=["configure", "configure-instrumentor", "launcher", "launcher-instrumentor"])
def test_one_client_span_under_the_business_span_and_each_measurement_once(mode, extra_env, scope):
    with FakeModelServer() as fake, OtlpReceiver() as receiver:
        result = run(mode, receiver, fake, **extra_env)
        assert result.returncode == 0, result.stderr
        assert len(fake.requests) == 1
        spans = [span for _, span in receiver.received.spans()]
        scopes = {span.span_id: ss.scope.name for message in receiver.received.of("/v1/traces")
                  for rs in message.resource_spans for ss in rs.scope_spans for span in ss.spans}
        metrics = _genai_metrics(receiver)

    (business,) = [s for s in spans if s.name == "vitalyst.ai.enrichment"]
    clients = [s for s in spans if s.kind == 3]  # SPAN_KIND_CLIENT
    genai_clients = [s for s in clients if "gen_ai.operation.name" in attrs(s.attributes)]
    assert len(genai_clients) == 1, [(s.name, scopes[s.span_id]) for s in clients]
    (client,) = genai_clients
    assert scopes[client.span_id] == scope
    assert client.name == "chat fake-model" and client.parent_span_id == business.span_id
    client_attrs = attrs(client.attributes)
    assert client_attrs["gen_ai.request.model"] == "fake-model"
    assert client_attrs["gen_ai.response.model"] == RESPONSE_MODEL
    assert client_attrs["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert client_attrs["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS
    assert "gen_ai.input.messages" not in client_attrs  # content capture is off by default

    durations = metrics["gen_ai.client.operation.duration"]
    assert sum(p.count for p in durations) == 1
    tokens = {attrs(p.attributes)["gen_ai.token.type"]: p.sum for p in metrics["gen_ai.client.token.usage"]}
    assert tokens == {"input": INPUT_TOKENS, "output": OUTPUT_TOKENS}
    if scope == "vitalyst_otel":
        assert attrs(durations[0].attributes)["gen_ai.provider.name"] == "openai"
        assert list(durations[0].explicit_bounds)[:3] == [0.01, 0.02, 0.04]
    wire = repr(spans) + result.stdout + result.stderr
    assert "sk-wire-secret-1" not in wire and "hunter2" not in wire


@pytest.mark.parametrize("mode", ["configure", "launcher"])
def test_content_capture_records_redacted_messages(mode):
    extra = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
             "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai"}
    with FakeModelServer() as fake, OtlpReceiver() as receiver:
        result = run(mode, receiver, fake, **extra)
        assert result.returncode == 0, result.stderr
        (client,) = [s for _, s in receiver.received.spans() if "gen_ai.operation.name" in attrs(s.attributes)]
    recorded = attrs(client.attributes)
    assert "Summarise node n1" in recorded["gen_ai.input.messages"]
    assert "hunter2" not in recorded["gen_ai.input.messages"]
    assert recorded["gen_ai.output.messages"] == "A short summary."
