import logging

import pytest
from opentelemetry.baggage import get_all

from vitalyst_otel.baggage import SHOWN_CHARS, BoundedBaggagePropagator


@pytest.fixture
def warnings(caplog):
    caplog.set_level(logging.WARNING)
    return caplog


def _lines(caplog):
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_valid_baggage_is_extracted_without_warnings(warnings):
    context = BoundedBaggagePropagator().extract({"baggage": "tenant=acme,region=eu%20west"})
    assert dict(get_all(context)) == {"tenant": "acme", "region": "eu west"}
    assert _lines(warnings) == []


def test_many_malformed_members_give_one_truncated_line(warnings):
    header = ",".join(f"member-without-equals-{i}" + "x" * 200 for i in range(30))
    context = BoundedBaggagePropagator().extract({"baggage": "ok=1," + header})
    assert dict(get_all(context)) == {"ok": "1"}
    lines = _lines(warnings)
    assert len(lines) == 1
    assert lines[0].name == "vitalyst_otel.propagation"
    message = lines[0].getMessage()
    assert "30 problem(s)" in message
    assert len(message) < SHOWN_CHARS + 200


def test_an_oversized_header_is_dropped_with_one_short_line(warnings):
    context = BoundedBaggagePropagator().extract({"baggage": "a=" + "b" * 100_000})
    assert dict(get_all(context)) == {}
    lines = _lines(warnings)
    assert len(lines) == 1 and len(lines[0].getMessage()) < SHOWN_CHARS + 200
    assert "100002 characters" in lines[0].getMessage()


def test_sdk_warnings_outside_extract_still_pass(warnings):
    BoundedBaggagePropagator()  # installs the collecting filter
    logging.getLogger("opentelemetry.baggage.propagation").warning("unrelated")
    assert [r.getMessage() for r in _lines(warnings)] == ["unrelated"]
