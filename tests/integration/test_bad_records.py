"""One bad record never costs its batch: lone surrogates in log messages, log attributes, span
names and audit fields, and a message whose arguments do not fit its format, in one batch of 200
through configure(); a real OTLP receiver decodes what arrived (tests/support/otlp_receiver.py)."""

import json
import os
import subprocess
import sys
import textwrap

from tests.support.otlp_receiver import OtlpReceiver, attrs

SCRIPT = """
import logging
from opentelemetry import trace
import vitalyst_otel
from vitalyst_otel import audit

handle = vitalyst_otel.configure(service_name="bad-records")
log = logging.getLogger("bulk")
tracer = trace.get_tracer("bulk")
for i in range(200):
    if i == 50:
        log.info("record %d bad \\udcff body", i)
    elif i == 100:
        log.info("record %d", i, extra={"path": "/tmp/\\udcfe"})
    elif i == 150:
        log.info("record %d of %d", "x")
    else:
        log.info("record %d", i)
    with tracer.start_as_current_span("span \\ud800" if i == 70 else f"span {i}"):
        pass
audit.record("user:\\udcff", "file.read", "file/1", "success", path="/x/\\udcff")
print("SHUTDOWN", handle.shutdown(10), file=__import__("sys").stderr)
"""


def test_bad_records_are_repaired_alone_and_their_batch_arrives():
    with OtlpReceiver() as receiver:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                                                "OTEL_METRICS_EXPORTER": "none",
                                                "OTEL_BLRP_SCHEDULE_DELAY": "60000",
                                                "OTEL_BSP_SCHEDULE_DELAY": "60000"})
    assert "SHUTDOWN True" in done.stderr, done.stderr
    assert "Logging error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    bodies = [r.body.string_value for _, r in receiver.received.log_records()
              if r.body.string_value.startswith("record")]
    assert len(bodies) == 200  # one request, nothing lost
    assert "record 50 bad \\udcff body" in bodies and "record %d of %d" in bodies
    by_body = {r.body.string_value: attrs(r.attributes) for _, r in receiver.received.log_records()}
    assert by_body["record 100"]["path"] == "/tmp/\\udcfe"
    assert by_body["record %d of %d"]["log.format_error"].startswith("TypeError")
    names = {s.name for _, s in receiver.received.spans()}
    assert len([n for n in names if n.startswith("span")]) == 200 and "span \\ud800" in names
    (audit,) = [attrs(r.attributes) for _, r in receiver.received.log_records()
                if attrs(r.attributes).get("log.type") == "audit"]
    assert audit["actor"] == "user:\\udcff" and audit["repaired"] == "actor,details.path"
    lines = [json.loads(line) for line in done.stdout.splitlines()]  # every stdout line is one JSON object
    bulk = [line for line in lines if line.get("logger") == "bulk"]
    assert len(bulk) == 200
    assert {"message": "record 50 bad \\udcff body", "log.repaired": ["message"]}.items() <= bulk[50].items()
    assert bulk[150]["message"] == "record %d of %d" and "log.format_error" in bulk[150]
    assert "x" not in bulk[150]["log.format_error"].split()  # the argument that did not fit is not shown
