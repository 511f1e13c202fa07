"""configure(views=[...]) on the decoded OTLP wire (tests/support/otlp_receiver.py): a rename and
an attribute drop, beside the series cap. (The launcher takes views from the configuration file:
tests/integration/test_config_file_wire.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.otlp_receiver import OtlpReceiver, attrs

SCRIPT = """
import vitalyst_otel
from opentelemetry import metrics
from opentelemetry.sdk.metrics.view import View
vitalyst_otel.configure(views=[
    View(instrument_name="graph.lookups", name="vitalyst.graph.lookups"),
    View(instrument_name="http.calls", attribute_keys={"http.request.method"}),
])
meter = metrics.get_meter("probe")
lookups, calls = meter.create_counter("graph.lookups"), meter.create_counter("http.calls")
for i in range(100):
    lookups.add(1, {"user.id": str(i)})
    calls.add(1, {"http.request.method": "GET", "user.id": str(i)})
assert vitalyst_otel.shutdown(10)
"""


def test_renamed_and_reduced_streams_replace_the_originals_and_stay_capped():
    with OtlpReceiver() as receiver:
        environment = {**os.environ, "OTEL_SERVICE_NAME": "views-wire", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                       "OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
                       "VITALYST_RUNTIME_METRICS": "false", "VITALYST_METRIC_CARDINALITY_LIMIT": "10"}
        result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=environment, timeout=120)
        assert result.returncode == 0, result.stderr
        metrics = {m.name: m for _, m in receiver.received.metrics()}
    assert "graph.lookups" not in metrics
    lookups = metrics["vitalyst.graph.lookups"].sum.data_points
    assert len(lookups) == 11 and sum(p.as_int for p in lookups) == 100  # 10 series + overflow
    assert any(attrs(p.attributes).get("otel.metric.overflow") for p in lookups)
    (calls,) = metrics["http.calls"].sum.data_points
    assert attrs(calls.attributes) == {"http.request.method": "GET"} and calls.as_int == 100
