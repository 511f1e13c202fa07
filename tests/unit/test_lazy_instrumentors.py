"""Instrumentors activated when the app imports their library (vitalyst_otel/lazy_instrumentors.py):
with configure() and under the opentelemetry-instrument launcher, the real contrib openai-v2
instrumentor and the real openai client (talking to tests/support/fake_model_server.py, a stand-in
for a model API), each in a fresh process; and the hook itself on a real distribution written to a
temporary directory."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.fake_model_server import FakeModelServer
from vitalyst_otel.lazy_instrumentors import activate_on_import, trigger_modules

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent

PROGRAM = textwrap.dedent("""
    import json, os, sys
    if sys.argv[1] == "early":
        import openai
    import vitalyst_otel
    if sys.argv[2] == "configure":
        handle = vitalyst_otel.configure(service_name="lazy-test")
        enabled = handle.instrumentors
    else:
        enabled = None
    before = {name: name in sys.modules for name in ("openai", "httpx")}
    instrumented_before = getattr(sys.modules.get("opentelemetry.instrumentation.openai_v2"), "OpenAIInstrumentor",
                                  None) is not None and sys.modules["opentelemetry.instrumentation.openai_v2"
                                                                    ].OpenAIInstrumentor().is_instrumented_by_opentelemetry
    if sys.argv[1] == "instrumentor-first":  # the app's own import of the instrumentor imports openai
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    import openai
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    client = openai.OpenAI(base_url=os.environ["FAKE_MODEL_URL"], api_key="sk-lazy-test", max_retries=0)
    client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
    print(json.dumps({"enabled": enabled, "imported_at_setup": before, "instrumented_before": instrumented_before,
                      "instrumented": OpenAIInstrumentor().is_instrumented_by_opentelemetry}))
    vitalyst_otel.shutdown()
""")


def run(order: str, mode: str, fake: FakeModelServer) -> tuple[dict, list[dict]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none", "VITALYST_LOG_FORMAT": "none", "OTEL_BSP_SCHEDULE_DELAY": "50",
           "OTEL_SERVICE_NAME": "lazy-test", "FAKE_MODEL_URL": fake.base_url}
    argv = [sys.executable, "-c", PROGRAM, order, mode]
    if mode == "launcher":
        argv = [str(BIN / "opentelemetry-instrument"), *argv]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    spans = [json.loads(line) for line in done.stderr.splitlines() if line.startswith('{"span"')]
    return json.loads(done.stdout.strip().splitlines()[-1]), spans


def chat_spans(spans: list[dict]) -> list[dict]:
    return [span for span in spans if span["kind"] == "client" and span["span"] == "chat fake-model"]


@pytest.mark.parametrize("order, mode", [("late", "configure"), ("late", "launcher"),
                                         ("instrumentor-first", "configure")])
def test_set_up_imports_no_instrumented_library_and_a_later_import_is_instrumented(order, mode):
    with FakeModelServer() as fake:
        result, spans = run(order, mode, fake)
    assert result["imported_at_setup"] == {"openai": False, "httpx": False}
    assert result["instrumented_before"] is False and result["instrumented"] is True
    if mode == "configure":
        assert {"openai", "httpx"} <= set(result["enabled"])
    (span,) = chat_spans(spans)  # the instrumentor's span of the real client call
    assert span["attributes"]["gen_ai.request.model"] == "fake-model"


def test_a_library_imported_before_configure_is_instrumented_at_once():
    with FakeModelServer() as fake:
        result, spans = run("early", "configure", fake)
    assert result["imported_at_setup"]["openai"] is True
    assert result["instrumented_before"] is True and result["instrumented"] is True
    assert len(chat_spans(spans)) == 1


@pytest.fixture
def library(tmp_path, monkeypatch, request):
    """A real installed distribution (module + dist-info) and an instrumentation distribution
    declaring it under its ``instruments`` extra, on sys.path; unique names per test."""
    name = f"lazylib_{request.node.name.split('[')[0][-12:]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("LOADED = True\n")
    info = tmp_path / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "RECORD").write_text(f"{name}/__init__.py,,\n{info.name}/METADATA,,\n../../bin/{name},,\n")
    instr = tmp_path / f"{name}_instr-1.0.dist-info"
    instr.mkdir()
    (instr / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-instr\nVersion: 1.0\n"
                                    f"Provides-Extra: instruments\nRequires-Dist: {name}>=1.0; extra == 'instruments'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield SimpleNamespace(name=name, dist=metadata.distribution(f"{name}-instr"))
    sys.modules.pop(name, None)


def test_trigger_modules_come_from_the_instruments_extra(library):
    assert trigger_modules(library) == {library.name}
    assert trigger_modules(SimpleNamespace(name="x")) == set()  # no distribution: activate now


def test_activation_runs_once_after_the_library_module_executed(library):
    seen = []
    assert activate_on_import(library, lambda: seen.append(sys.modules[library.name].LOADED)) is True
    assert seen == []
    __import__(library.name)
    __import__(library.name)
    assert seen == [True]


def test_already_imported_library_is_activated_now_and_its_error_reaches_the_caller(library):
    __import__(library.name)
    with pytest.raises(RuntimeError):
        activate_on_import(library, lambda: (_ for _ in ()).throw(RuntimeError("broken")))


def test_a_failing_deferred_activation_never_breaks_the_apps_import(library, caplog):
    def broken():
        raise RuntimeError("instrumentor bug")

    activate_on_import(library, broken)
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel"):
        module = __import__(library.name)
    assert module.LOADED is True
    assert any("instrumentor bug" in record.getMessage() for record in caplog.records)


def _packaging_reads(dist) -> list[str]:
    """What packaging makes of the instruments requirements (the reading without the fast path)."""
    from packaging.requirements import InvalidRequirement, Requirement

    from vitalyst_otel.lazy_instrumentors import INSTRUMENTS_EXTRAS

    names = []
    for line in dist.requires or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        marker = requirement.marker  # under the extra: true with it, false without it
        if marker is not None and any(marker.evaluate({"extra": extra}) for extra in INSTRUMENTS_EXTRAS) \
                and not marker.evaluate({"extra": ""}):
            names.append(requirement.name)
    return names


def test_instruments_requirements_read_without_packaging_as_packaging_reads_them():
    from importlib import metadata

    from vitalyst_otel.lazy_instrumentors import _requirements

    dists = list(metadata.distributions())
    assert len(dists) > 50
    instrumenting = 0
    for dist in dists:
        assert _requirements(dist) == _packaging_reads(dist), dist.metadata["Name"]
        instrumenting += bool(_packaging_reads(dist))
    assert instrumenting >= 3  # httpx, openai-v2, fastapi, ... in the test environment
    odd = SimpleNamespace(requires=['lib>=1; extra == "instruments" and python_version >= "3"',
                                    'Other_Lib (>=2) ; extra == "Instruments"', "plain>=1",
                                    'x; extra == "test"', "not a requirement; extra == 'instruments'",
                                    "base>=1; python_version >= '3'"])
    assert _requirements(odd) == ["lib", "Other_Lib"] == _packaging_reads(odd)
