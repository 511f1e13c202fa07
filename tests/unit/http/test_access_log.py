"""Where the access line goes: stdout always, the OTLP bridge unless VITALYST_ACCESS_LOG_OTLP=false."""

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from vitalyst_otel.http.access_log import SkipAccessLines, route_access_lines


def record(name: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, "line", (), None)


def test_the_filter_drops_access_lines_only():
    skip = SkipAccessLines()
    assert skip.filter(record("uvicorn.access")) is False
    assert skip.filter(record("uvicorn.error")) is True
    assert skip.filter(record("app")) is True


def test_routing_is_idempotent_and_reversible():
    handler = logging.Handler()
    route_access_lines(handler, to_otlp=False)
    route_access_lines(handler, to_otlp=False)
    assert sum(isinstance(f, SkipAccessLines) for f in handler.filters) == 1
    assert handler.filter(record("uvicorn.access")) is False
    route_access_lines(handler, to_otlp=True)
    assert handler.filters == [] and handler.filter(record("uvicorn.access"))


SCRIPT = textwrap.dedent("""
    import logging, vitalyst_otel
    handle = vitalyst_otel.configure(service_name="svc")
    logging.getLogger("app").info("app line")
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:1", "GET", "/x?token=t", "1.1", 200)
    print("flushed", handle.force_flush(5))
""")


@pytest.mark.parametrize("to_otlp", ["true", "false"])
def test_access_lines_on_stdout_always_and_over_otlp_unless_switched_off(to_otlp):
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "console", "VITALYST_ACCESS_LOG_OTLP": to_otlp}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and "flushed True" in result.stdout, result.stderr
    json_lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # the console exporter writes the OTLP records to stderr
    exported = [json.loads(line) for line in result.stderr.splitlines() if line.startswith('{"body"')]
    assert {line["logger"] for line in json_lines} == {"app", "uvicorn.access"}
    assert [line["scope"] for line in exported if line["scope"] == "app"] == ["app"]
    access = [line for line in exported if line["scope"] == "uvicorn.access"]
    assert len(access) == (1 if to_otlp == "true" else 0)
    assert "token=t" not in result.stdout + result.stderr
