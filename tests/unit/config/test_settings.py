import pytest

from vitalyst_otel.config import Settings
from vitalyst_otel.config.variables import BY_NAME, VARIABLES
from vitalyst_otel.doctor import find_typos
from vitalyst_otel.resources import guess_service_name


def load(environ=None, **overrides):
    return Settings.load(overrides, environ=environ or {})


def problem_for(settings, variable):
    found = [p for p in settings.problems if p.variable == variable]
    assert len(found) == 1, settings.problems
    return found[0]


def test_defaults_follow_the_specification():
    s = load()
    assert s.traces_exporter == ("otlp",) and s.metrics_exporter == ("otlp",) and s.logs_exporter == ("otlp",)
    assert s.otlp["traces"].protocol == "http/protobuf"
    assert s.otlp["traces"].endpoint == "http://localhost:4318/v1/traces"
    assert s.otlp["metrics"].endpoint == "http://localhost:4318/v1/metrics"
    assert s.otlp["logs"].timeout_s == 10.0
    assert s.traces_sampler == "parentbased_always_on" and s.traces_sampler_arg == 1.0
    assert s.propagators == ("tracecontext", "baggage")
    assert s.bsp_max_queue_size == 2048 and s.bsp_schedule_delay == 5000
    assert s.blrp_schedule_delay == 1000
    assert s.metric_export_interval == 60000
    assert s.metrics_exemplar_filter == "trace_based"
    assert s.problems == ()


def test_precedence_argument_over_environment_over_file_over_default(tmp_path):
    config = tmp_path / "otel.toml"
    config.write_text('OTEL_SERVICE_NAME = "from-file"\nOTEL_TRACES_SAMPLER = "always_off"\n'
                      'OTEL_METRIC_EXPORT_INTERVAL = 5000\n')
    environ = {"VITALYST_CONFIG_FILE": str(config), "OTEL_SERVICE_NAME": "from-env"}
    s = Settings.load({"service_name": "from-arg"}, environ=environ)
    assert s.service_name == "from-arg"
    assert s.sources["OTEL_SERVICE_NAME"].origin == "argument"
    s = Settings.load({}, environ=environ)
    assert s.service_name == "from-env" and s.sources["OTEL_SERVICE_NAME"].origin == "environment"
    assert s.traces_sampler == "always_off" and s.sources["OTEL_TRACES_SAMPLER"].origin == f"file {config}"
    assert s.metric_export_interval == 5000
    assert s.bsp_max_queue_size == 2048 and "OTEL_BSP_MAX_QUEUE_SIZE" not in s.sources


def test_empty_environment_value_counts_as_unset():
    assert load({"OTEL_TRACES_SAMPLER": "  "}).traces_sampler == "parentbased_always_on"


def test_generic_endpoint_gets_the_signal_path_and_signal_endpoint_is_used_as_is():
    s = load({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318/",
              "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs:9999/custom"})
    assert s.otlp["traces"].endpoint == "https://collector:4318/v1/traces"
    assert s.otlp["logs"].endpoint == "http://logs:9999/custom"


def test_grpc_protocol_uses_the_grpc_default_port_without_a_path():
    s = load({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert s.otlp["traces"].endpoint == "http://localhost:4317"
    s = load({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"})
    assert s.otlp["traces"].protocol == "grpc" and s.otlp["metrics"].protocol == "http/protobuf"


def test_signal_headers_replace_the_generic_ones_and_values_are_url_decoded():
    s = load({"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc,x-tenant=t1",
              "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-only=metrics"})
    assert s.otlp["traces"].headers == {"Authorization": "Bearer abc", "x-tenant": "t1"}
    assert s.otlp["metrics"].headers == {"x-only": "metrics"}


def test_timeouts_are_milliseconds():
    s = load({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "100"})
    assert s.otlp["traces"].timeout_s == 2.5 and s.otlp["logs"].timeout_s == 0.1


@pytest.mark.parametrize("variable, value, accepted_part, check", [
    ("OTEL_TRACES_EXPORTER", "jaeger", "otlp, console, none", lambda s: s.traces_exporter == ("otlp",)),
    ("OTEL_METRICS_EXPORTER", "otlp,none", "otlp, prometheus, console, none", lambda s: s.metrics_exporter == ("otlp",)),
    ("OTEL_TRACES_SAMPLER_ARG", "ten percent", "a number from 0 to 1", lambda s: s.traces_sampler_arg == 1.0),
    ("OTEL_TRACES_SAMPLER_ARG", "1.5", "a number from 0 to 1", lambda s: s.traces_sampler_arg == 1.0),
    ("OTEL_TRACES_SAMPLER", "xray", "parentbased_traceidratio", lambda s: s.traces_sampler == "parentbased_always_on"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "an absolute http:// or https:// URL",
     lambda s: s.otlp["traces"].endpoint == "http://localhost:4318/v1/traces"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "http/protobuf, grpc", lambda s: s.otlp["logs"].protocol == "http/protobuf"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "-3", "a positive integer", lambda s: s.bsp_max_queue_size == 2048),
    ("OTEL_SDK_DISABLED", "yes", "true, false", lambda s: s.sdk_disabled is False),
    ("OTEL_LOG_LEVEL", "loud", "debug, info, warn, error", lambda s: s.otel_log_level == "INFO"),
    ("VITALYST_LOG_FILE_MAX_BYTES", "ten", "512KiB", lambda s: True),
])
def test_a_bad_value_gives_one_message_naming_variable_value_and_accepted_values(variable, value, accepted_part, check):
    s = load({variable: value})
    problem = problem_for(s, variable)
    assert problem.value == value
    assert accepted_part in problem.accepted
    message = problem.message()
    assert variable in message and repr(value) in message and "Using" in message
    assert check(s)


def test_a_malformed_header_list_is_reported_without_its_secret_and_no_headers_are_sent():
    s = load({"OTEL_EXPORTER_OTLP_HEADERS": "Authorization Bearer s3cr3t,x-tenant"})
    problem = problem_for(s, "OTEL_EXPORTER_OTLP_HEADERS")
    assert "s3cr3t" not in problem.message()
    assert s.otlp["traces"].headers == {}


def test_a_bad_signal_variable_falls_back_to_the_generic_one():
    s = load({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "nohost",
              "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert s.otlp["traces"].endpoint == "http://collector:4318/v1/traces"
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in problem_for(s, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").fallback


def test_describe_masks_header_values():
    s = load({"OTEL_EXPORTER_OTLP_HEADERS": "api-key=topsecret"})
    shown = {name: (value, source) for name, value, source in s.describe()}
    assert shown["OTEL_EXPORTER_OTLP_HEADERS"] == ("api-key=***", "environment")
    assert "topsecret" not in repr(s.describe())


def test_unknown_configure_keyword_is_a_problem():
    s = load(traces_exportr="console")
    assert any("traces_exportr" in p.variable for p in s.problems)


def test_bad_config_file_is_a_problem_not_a_crash(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    s = load({"VITALYST_CONFIG_FILE": str(bad)})
    problem_for(s, "VITALYST_CONFIG_FILE")
    missing = load({"VITALYST_CONFIG_FILE": str(tmp_path / "absent.toml")})
    problem_for(missing, "VITALYST_CONFIG_FILE")


def test_resource_attributes_service_name_and_environment():
    s = load({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,service.namespace=vitalyst",
              "VITALYST_ENVIRONMENT": "staging"}, service_version="1.2.3")
    assert s.service_name == "from-attrs"
    assert s.resource_attributes["service.namespace"] == "vitalyst"
    assert s.resource_attributes["deployment.environment.name"] == "staging"
    assert s.resource_attributes["service.version"] == "1.2.3"
    assert load({"OTEL_SERVICE_NAME": "svc", "OTEL_RESOURCE_ATTRIBUTES": "service.name=x"}).service_name == "svc"


def test_service_name_is_never_unknown_service():
    assert guess_service_name(["/usr/bin/uvicorn", "shop.api:app", "--port", "80"]) == "shop"
    assert guess_service_name(["/srv/bin/gunicorn", "-k", "uvicorn.workers.UvicornWorker", "billing.main:app"]) == "billing"
    assert guess_service_name(["/srv/report_tool.py"]) == "report-tool"
    assert "unknown_service" not in load().service_name


DEFAULTS = ("/health/live", "/health/ready", "/metrics")


def excludes(settings, *paths):
    return [path for path in paths if settings.excluded_paths and settings.excluded_paths.search(path)]


def test_excluded_urls_add_to_the_defaults_and_bad_ones_are_dropped():
    s = load({"OTEL_PYTHON_EXCLUDED_URLS": "^/healthz$,([unclosed"})
    assert s.excluded_urls == ("^/healthz$",) and s.fastapi_excluded_urls == ("^/healthz$",)
    assert [(p.variable, p.value) for p in s.problems] == [("OTEL_PYTHON_EXCLUDED_URLS", "^/healthz$,([unclosed")]
    assert excludes(s, *DEFAULTS, "/healthz", "/other") == [*DEFAULTS, "/healthz"]
    assert excludes(load(), *DEFAULTS, "/other") == list(DEFAULTS)
    fastapi_specific = load({"OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "^/ping$", "OTEL_PYTHON_EXCLUDED_URLS": "^/x$"})
    assert excludes(fastapi_specific, *DEFAULTS, "/ping", "/x") == [*DEFAULTS, "/ping"]  # contrib's precedence
    only_mine = load({"OTEL_PYTHON_EXCLUDED_URLS": "^/ping$", "VITALYST_EXCLUDED_URLS_DEFAULTS": "false"})
    assert excludes(only_mine, *DEFAULTS, "/ping") == ["/ping"]
    none_at_all = load({"VITALYST_EXCLUDED_URLS_DEFAULTS": "false"})
    assert none_at_all.excluded_paths is None
    explicit = Settings.load({"excluded_urls": ["^/a$"]}, {"OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "^/b$"})
    assert excludes(explicit, "/a", "/b") == ["/a"]  # an argument beats the environment


def test_header_capture_variables_are_lists_of_regular_expressions():
    s = load({"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "X-Tenant, x-.*-id,([",
              "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "content-type",
              "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "x-session"})
    assert s.instrumentation_http_capture_headers_server_request == ("X-Tenant", "x-.*-id")
    assert s.instrumentation_http_capture_headers_server_response == ("content-type",)
    assert s.instrumentation_http_capture_headers_sanitize_fields == ("x-session",)
    assert [p.variable for p in s.problems] == ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"]
    assert load().instrumentation_http_capture_headers_server_request == ()


def test_typos_of_known_variables_are_found():
    typos = dict(find_typos({"OTEL_SERVICE_NAM": "x", "OTEL_TRACES_EXPORTER": "otlp", "HOME": "/root",
                             "VITALYST_LOG_FORMT": "json"}))
    assert typos == {"OTEL_SERVICE_NAM": "OTEL_SERVICE_NAME", "VITALYST_LOG_FORMT": "VITALYST_LOG_FORMAT"}


def test_misspelt_or_unknown_contrib_variables_are_reported():
    typos = dict(find_typos({
        "OTEL_PYTHON_FASTAPI_EXCLUDED_URL": "x",  # misspelt
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUST": "x-a",  # misspelt
        "OTEL_PYTHON_NO_SUCH_THING": "1",  # read by nothing installed
        "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "ok", "OTEL_PYTHON_ASGI_EXCLUDED_URLS": "ok",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "ok",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": "ok",
    }))
    assert typos == {"OTEL_PYTHON_FASTAPI_EXCLUDED_URL": "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS",
                     "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUST":
                         "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",
                     "OTEL_PYTHON_NO_SUCH_THING": ""}


def test_configuration_md_lists_every_variable_as_the_registry_declares_it():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[3]
    doc = (root / "docs" / "configuration.md").read_text()
    for var in VARIABLES:
        assert f"| `{var.name}` |" in doc, f"{var.name} missing from docs/configuration.md"
    assert len(BY_NAME) == len(VARIABLES)
    check = subprocess.run([sys.executable, "tools/gen_config_doc.py", "--check"], cwd=root,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_log_file_settings():
    s = load({"VITALYST_LOG_FILE": "/tmp/app.log", "VITALYST_LOG_FILE_MAX_BYTES": "5MiB",
              "VITALYST_LOG_FILE_ROTATION": "time", "VITALYST_LOG_FILE_WHEN": "H"})
    assert s.log_file == "/tmp/app.log" and s.log_file_max_bytes == 5 * 1024 * 1024
    assert s.log_file_rotation == "time" and s.log_file_when == "h"
    assert load().log_file is None
