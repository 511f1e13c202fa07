"""docs/metrics.md lists exactly the instruments the code creates."""

import re
from pathlib import Path

from tests.naming_contract import documented_metrics as instruments_in_doc
from tests.naming_contract import prometheus_series
from vitalyst_otel.host_metrics import HOST_METRICS
from vitalyst_otel.runtime_metrics import PROCESS_METRICS

ROOT = Path(__file__).parents[2]
CREATE = re.compile(r"create_(?:counter|histogram|up_down_counter|observable_counter|observable_gauge|"
                    r"observable_up_down_counter)\(\s*(?:name=)?\"([a-z0-9_.]+)\"")


def instruments_in_code() -> set[str]:
    names = set()
    for path in (ROOT / "vitalyst_otel").rglob("*.py"):
        if "demo" in path.parts or path.name == "doctor.py":
            continue
        names.update(CREATE.findall(path.read_text()))
    return names | set(PROCESS_METRICS)


def test_every_instrument_in_code_is_documented_and_every_documented_one_exists():
    in_code, in_doc = instruments_in_code(), set(instruments_in_doc())
    assert in_code - in_doc == set(), "instruments missing from docs/metrics.md"
    assert in_doc - in_code == set(), "docs/metrics.md lists instruments the code does not create"


def test_prometheus_names_follow_the_collectors_translation():
    for name, prometheus in instruments_in_doc().items():
        base = name.replace(".", "_")
        assert f"`{base}" in prometheus, (name, prometheus)


def test_prometheus_series_cells_are_read_as_the_live_test_reads_them():
    series = {name: prometheus_series(cell) for name, cell in instruments_in_doc().items()}
    assert series["http.server.request.duration"] == [
        "http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_sum",
        "http_server_request_duration_seconds_count"]
    assert series["vitalyst.process.memory.limit"] == ["vitalyst_process_memory_limit_bytes"]
    assert all(names for names in series.values())


def test_host_metrics_are_documented_as_opt_in():
    doc = (ROOT / "docs" / "metrics.md").read_text()
    for name in HOST_METRICS:
        assert f"`{name}`" in doc
