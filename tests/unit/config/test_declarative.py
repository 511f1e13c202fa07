"""The OpenTelemetry configuration file (vitalyst_otel/config/declarative.py, through the loader)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vitalyst_otel.config import Settings
from vitalyst_otel.config.declarative import FileError, read, substitute

DOC = Path(__file__).parents[3] / "docs" / "configuration.md"


def example_text() -> str:
    block = DOC.read_text().split("<!-- BEGIN EXAMPLE CONFIG FILE -->", 1)[1].split("<!-- END EXAMPLE CONFIG FILE -->")[0]
    return re.search(r"```yaml\n(.*?)```", block, re.S).group(1)


def load(tmp_path, text: str, name: str = "otel.yaml", **environ) -> Settings:
    path = tmp_path / name
    path.write_text(text)
    return Settings.load({}, environ={"OTEL_CONFIG_FILE": str(path), **environ})


def test_the_documented_example_loads_without_a_problem_and_sets_every_part(tmp_path):
    settings = load(tmp_path, example_text(), COLLECTOR_URL="http://collector:4318", TRACE_RATIO="0.25",
                    OTLP_HEADERS="Authorization=Bearer%20abc", OTEL_SERVICE_NAME="from-env-not-read")
    assert settings.problems == ()
    assert settings.service_name == "knowledge-graph"
    assert dict(settings.resource_attributes) == {"service.name": "knowledge-graph", "service.namespace": "vitalyst",
                                                  "deployment.environment.name": "production"}
    assert settings.experimental_resource_detectors == ("vitalyst_container", "host", "vitalyst_kubernetes",
                                                        "vitalyst_aws")
    assert settings.propagators == ("tracecontext", "baggage")
    assert settings.traces_exporter == ("otlp",) and settings.metrics_exporter == ("otlp",)
    assert settings.logs_exporter == ("otlp",)
    traces = settings.otlp["traces"]
    assert traces.endpoint == "http://collector:4318/v1/traces" and traces.compression == "gzip"
    assert dict(traces.headers) == {"Authorization": "Bearer abc"} and traces.timeout_s == 10.0
    assert settings.otlp["metrics"].endpoint == "http://collector:4318/v1/metrics"
    assert settings.otlp["logs"].endpoint == "http://collector:4318/v1/logs"
    assert settings.traces_sampler == "parentbased_traceidratio" and settings.traces_sampler_arg == 0.25
    assert settings.bsp_schedule_delay == 1000 and settings.bsp_max_queue_size == 2048
    assert settings.blrp_schedule_delay == 1000
    assert settings.span_attribute_count_limit == 128 and settings.span_event_count_limit == 128
    assert settings.attribute_value_length_limit == 4096 and settings.logrecord_attribute_count_limit == 64
    assert settings.metric_export_interval == 30000 and settings.metric_export_timeout == 10000
    assert settings.metric_cardinality_limit == 1000 and settings.metrics_exemplar_filter == "trace_based"
    assert settings.exporter_otlp_metrics_temporality_preference == "cumulative"
    assert settings.instrumentation_http_capture_headers_server_request == ("x-request-id", "x-tenant")
    assert settings.instrumentation_http_capture_headers_server_response == ("content-type",)
    assert settings.fastapi_excluded_urls == ("^/internal/ping$",)
    assert settings.log_format == "json" and "x-tenant-secret" in settings.redact_keys
    assert settings.shutdown_timeout == 5000 and settings.otel_log_level == "INFO"
    (view,) = settings.views
    assert view._instrument_name == "vitalyst.ai.enrichment.duration" and view._attribute_keys == {"outcome"}
    sources = {name: origin for name, _, origin in settings.describe()}
    assert sources["OTEL_TRACES_SAMPLER"] == f"config file {tmp_path / 'otel.yaml'}"
    assert sources["OTEL_SERVICE_NAME"] == "default"  # the environment's value was not read


def test_substitution():
    environ = {"HOST": "collector", "EMPTY": ""}
    assert substitute("http://${HOST}:${PORT:-4318}", environ) == "http://collector:4318"
    assert substitute("${env:HOST}", environ) == "collector"
    assert substitute("$${HOST} costs $$5", environ) == "${HOST} costs $5"
    assert substitute("${MISSING}", environ) == "" and substitute("${EMPTY:-fallback}", environ) == "fallback"


def test_a_substituted_reference_takes_its_type_and_the_environment_counts_only_there(tmp_path):
    text = ('file_format: "1.0"\ntracer_provider:\n  processors:\n    - batch:\n        schedule_delay: ${DELAY}\n'
            '        exporter:\n          console:\n')
    settings = load(tmp_path, text, DELAY="250", OTEL_BSP_MAX_QUEUE_SIZE="7", OTEL_METRICS_EXPORTER="otlp")
    assert settings.problems == () and settings.bsp_schedule_delay == 250
    assert settings.bsp_max_queue_size == 2048  # the environment is not a layer under the file
    assert settings.traces_exporter == ("console",)
    assert settings.metrics_exporter == () and settings.logs_exporter == () and settings.propagators == ()


def test_json_files_and_the_deprecated_variable(tmp_path):
    path = tmp_path / "otel.json"
    path.write_text(json.dumps({"file_format": "1.0-rc.2", "disabled": True}))
    settings = Settings.load({}, environ={"OTEL_EXPERIMENTAL_CONFIG_FILE": str(path)})
    assert settings.sdk_disabled is True
    (notice,) = settings.problems
    assert "OTEL_EXPERIMENTAL_CONFIG_FILE is deprecated" in notice.message() and "OTEL_CONFIG_FILE" in notice.message()


def test_unsupported_parts_are_one_warning_each_naming_the_path(tmp_path):
    text = """file_format: "1.0"
tracer_provider:
  id_generator:
    random:
  processors:
    - simple:
        exporter:
          console:
    - batch:
        exporter:
          zipkin:
            endpoint: http://zipkin:9411
meter_provider:
  readers:
    - periodic:
        exporter:
          console:
  views:
    - selector: {instrument_name: x}
      stream: {attribute_keys: {excluded: [user.id]}}
distribution:
  vitalyst:
    no_such_option: 1
"""
    settings = load(tmp_path, text)
    messages = [p.message() for p in settings.problems]
    assert all(p.severity == "warning" for p in settings.problems), messages
    paths = [re.search(r": (\S+) is not supported", m).group(1) for m in messages]
    assert "its exporter is used behind a batch processor" in messages[0]
    assert paths == ["tracer_provider.processors[0].simple", "tracer_provider.processors[1].batch.exporter.zipkin",
                     "tracer_provider.id_generator", "meter_provider.views[0].stream.attribute_keys.excluded",
                     "distribution.vitalyst.no_such_option"]
    assert settings.traces_exporter == ("console",)


@pytest.mark.parametrize(("text", "where", "accepted"), [
    ('file_format: "1.0"\ntracer_provider:\n  processors:\n    - batch:\n        schedule_delay: soon\n'
     '        exporter:\n          console:\n',
     "line 5, tracer_provider.processors[0].batch.schedule_delay", "integer or null"),
    ('file_format: "1.0"\ntracer_provider:\n  processors:\n    - batch:\n        schedule_delay: 5\n',
     "line 5, tracer_provider.processors[0].batch", "a mapping with the keys exporter"),
    ('file_format: "2.0"\n', "file_format", "file_format 1.x"),
    ("file_format: 1.0\n", "file_format", "a version string"),
    ('file_format: "1.0"\ntracer_provider:\n  sampler: [\n', "line 4", "YAML"),
    ('file_format: "1.0"\nmeter_provider:\n  readers:\n    - pull:\n        exporter:\n          prometheus/development:\n  exemplar_filter: sometimes\n',
     "line 7, meter_provider.exemplar_filter", "always_on"),
])
def test_an_invalid_file_is_one_error_and_the_defaults_apply(tmp_path, text, where, accepted):
    settings = load(tmp_path, text, OTEL_TRACES_EXPORTER="console")
    (problem,) = settings.problems
    message = problem.message()
    assert problem.severity == "error" and str(tmp_path / "otel.yaml") in message
    assert f"is not valid: {where}" in message and accepted in message.split("accepted:")[1]
    assert settings.traces_exporter == ("otlp",) and settings.sdk_disabled is False  # defaults, not the environment


def test_a_missing_file_is_one_error(tmp_path):
    settings = Settings.load({}, environ={"OTEL_CONFIG_FILE": str(tmp_path / "absent.yaml")})
    (problem,) = settings.problems
    assert "cannot be read" in problem.message() and "absent.yaml" in problem.message()


def test_read_returns_the_substituted_document(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text('file_format: "1.0"\nresource:\n  attributes:\n    - name: service.name\n      value: ${S:-x}\n')
    assert read(str(path), {"S": "kg"})["resource"]["attributes"][0]["value"] == "kg"
    with pytest.raises(FileError):
        read(str(tmp_path / "none.yaml"), {})


def test_arguments_still_win_over_the_file(tmp_path):
    path = tmp_path / "otel.yaml"
    path.write_text('file_format: "1.0"\ndistribution:\n  vitalyst:\n    log_format: text\n')
    settings = Settings.load({"log_format": "none"}, environ={"OTEL_CONFIG_FILE": str(path)})
    assert settings.log_format == "none"


def test_the_toml_file_is_deprecated(tmp_path):
    path = tmp_path / "v.toml"
    path.write_text('OTEL_SERVICE_NAME = "from-toml"\n')
    settings = Settings.load({}, environ={"VITALYST_CONFIG_FILE": str(path)})
    assert settings.service_name == "from-toml"
    assert any("VITALYST_CONFIG_FILE is deprecated" in p.message() for p in settings.problems)


def test_configure_can_name_the_file_too(tmp_path):
    path = tmp_path / "otel.yaml"
    path.write_text('file_format: "1.0"\ndistribution:\n  vitalyst:\n    log_format: text\n')
    settings = Settings.load({"otel_config_file": str(path)}, environ={"OTEL_TRACES_EXPORTER": "console"})
    assert settings.log_format == "text" and settings.traces_exporter == ()
