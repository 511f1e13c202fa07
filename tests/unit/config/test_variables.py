"""The variable table's rules: one name per setting, defaults only in the table."""

import pytest

from vitalyst_otel.config import Settings
from vitalyst_otel.config.variables import BY_KEY, BY_NAME, VARIABLES, keyword_of


def test_every_variable_has_one_keyword_and_no_two_share_one():
    assert len(BY_KEY) == len(BY_NAME) == len(VARIABLES)
    exceptions = {var.name: var.key for var in VARIABLES if var.key != keyword_of(var.name)}
    # log_level is VITALYST_LOG_LEVEL, config_file the deprecated VITALYST_CONFIG_FILE
    assert exceptions == {"OTEL_LOG_LEVEL": "otel_log_level", "OTEL_CONFIG_FILE": "otel_config_file"}


def test_the_keyword_the_attribute_and_the_variable_agree():
    for var in VARIABLES:
        by_keyword = Settings.load({var.key: _sample(var)}, environ={})
        by_variable = Settings.load({}, environ={var.name: _sample(var)})
        assert var.name in by_keyword.sources and by_keyword.sources[var.name].origin == "argument", var.name
        assert var.name in by_variable.sources, var.name
        if var.key not in ("service_name", "resource_attributes", "redact_keys", "config_file"):
            assert getattr(by_keyword, var.key) == getattr(by_variable, var.key) == var.parse(_sample(var)), var.name


def test_a_row_that_inherits_comes_after_its_parent():
    seen = set()
    for var in VARIABLES:
        if var.inherits is not None:
            assert var.inherits in seen, var.name
        seen.add(var.name)


def test_an_unset_child_takes_its_parents_value_and_a_set_one_wins():
    s = Settings.load({}, environ={"OTEL_ATTRIBUTE_COUNT_LIMIT": "7", "OTEL_SPAN_EVENT_COUNT_LIMIT": "3",
                                   "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "2"})
    assert s.span_attribute_count_limit == s.event_attribute_count_limit == s.logrecord_attribute_count_limit == 7
    assert s.link_attribute_count_limit == 2 and s.span_event_count_limit == 3
    assert Settings.load({}, environ={}).logrecord_attribute_count_limit == 128


def test_settings_are_frozen_and_unknown_attributes_fail_clearly():
    s = Settings.load({}, environ={})
    with pytest.raises(AttributeError):
        s.traces_sampler = "always_off"
    with pytest.raises(AttributeError, match="configuration.md"):
        s.sampler  # noqa: B018 - the old name is gone


_SAMPLES = {"OTEL_EXPORTER_PROMETHEUS_HOST": "0.0.0.0", "VITALYST_METRICS_ROUTE": "/m",
            "VITALYST_AUDIT_FALLBACK_FILE": "/tmp/a.jsonl", "OTEL_SERVICE_NAME": "svc",
            "VITALYST_REDACT_MAX_CHARS": "4096"}


def _sample(var):
    """A valid value other than the default, as the variable spells it."""
    if var.name in _SAMPLES:
        return _SAMPLES[var.name]
    for candidate in ("none", "console", "always_off", "delta", "base2_exponential_bucket_histogram", "grpc",
                      "gzip", "false", "true", "7", "0.5", "error", "^/x$", "text", "time", "h",
                      "http://collector:4318", "a=b", "x-secret", "/tmp/file"):
        try:
            value = var.parse(candidate)
        except ValueError:
            continue
        if value != var.default:
            return candidate
    raise AssertionError(f"no sample value for {var.name}")
