import re
import subprocess
import sys

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Gauge, InMemoryMetricReader, Sum

from tests.naming_contract import METRICS_DOC, dashboard_expressions, referenced_metrics, rule_expressions
from vitalyst_otel.host_metrics import HOST_METRICS
from vitalyst_otel.runtime_metrics import PROCESS_METRICS, RuntimeMetrics, memory_limit


def test_memory_limit_from_cgroup_v2(tmp_path):
    (tmp_path / "memory.max").write_text("536870912\n")
    assert memory_limit(str(tmp_path)) == 512 * 1024 * 1024
    (tmp_path / "memory.max").write_text("max\n")
    assert memory_limit(str(tmp_path)) is None


def test_memory_limit_from_cgroup_v1_and_unlimited(tmp_path):
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("1073741824\n")
    assert memory_limit(str(tmp_path)) == 1024**3
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert memory_limit(str(tmp_path)) is None
    assert memory_limit(str(tmp_path / "absent")) is None


def test_curated_process_metrics_without_deprecated_duplicates(otel_capture):
    names = set(otel_capture.metrics())
    assert {"process.cpu.time", "process.memory.usage", "process.thread.count",
            "process.open_file_descriptor.count", "cpython.gc.collections"} <= names
    assert not any(name.startswith(("process.runtime.", "system.")) for name in names)
    ((attrs, rss),) = otel_capture.metric_points("process.memory.usage")
    assert rss > 10 * 1024 * 1024


def _proc_cgroup(tmp_path, text):
    path = tmp_path / "proc-self-cgroup"
    path.write_text(text)
    return str(path)


def test_memory_limit_of_the_process_own_cgroup_v1(tmp_path):
    """A process in a child cgroup (host namespace, or one made for it): its own limit, not the
    unlimited root's."""
    root = tmp_path / "cgroup"
    own = root / "memory" / "jobs" / "demo"
    own.mkdir(parents=True)
    (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (own / "memory.limit_in_bytes").write_text("268435456\n")
    proc = _proc_cgroup(tmp_path, "5:cpu,cpuacct:/\n4:memory:/jobs/demo\n0::/\n")
    assert memory_limit(str(root), proc) == 256 * 1024 * 1024
    assert memory_limit(str(root), _proc_cgroup(tmp_path, "4:memory:/\n")) is None


def test_memory_limit_v2_takes_the_lowest_limit_on_the_path(tmp_path):
    root = tmp_path / "cgroup"
    (root / "parent" / "child").mkdir(parents=True)
    (root / "parent" / "memory.max").write_text("134217728\n")
    (root / "parent" / "child" / "memory.max").write_text("max\n")
    proc = _proc_cgroup(tmp_path, "0::/parent/child\n")
    assert memory_limit(str(root), proc) == 128 * 1024 * 1024
    # A path the mount does not show (a container without its own namespace): the mount's root.
    (root / "memory.max").write_text("1073741824\n")
    assert memory_limit(str(root), _proc_cgroup(tmp_path, "0::/elsewhere/x\n")) == 1024**3


# --- the metrics themselves: what docs/metrics.md, the rules and the dashboards rely on --------

RUNTIME_PREFIXES = ("process_", "cpython_", "vitalyst_process_")
KINDS = {"observable counter": ("sum", True), "observable updowncounter": ("sum", False), "observable gauge": ("gauge", None)}
PROMETHEUS_UNITS = {"By": "bytes", "s": "seconds", "1": "ratio"}
# What contrib's instrumentor was configured with before ours replaced it (the parity baseline).
CONTRIB_CONFIG = {
    "process.cpu.time": ["user", "system"], "process.memory.usage": None, "process.memory.virtual": None,
    "process.thread.count": None, "process.open_file_descriptor.count": None,
    "process.context_switches": ["involuntary", "voluntary"], "cpython.gc.collections": None,
    "cpython.gc.collected_objects": None, "cpython.gc.uncollectable_objects": None,
    "system.cpu.utilization": ["idle", "user", "system", "iowait"], "system.memory.usage": ["used", "free", "cached"],
    "system.memory.utilization": ["used", "free", "cached"], "system.network.io": ["transmit", "receive"],
    "system.disk.io": ["read", "write"],
}


def shape(metric) -> dict:
    """What a metric looks like to a backend: unit, kind, monotonic, attribute keys and values' types."""
    data = metric.data
    kind = "sum" if isinstance(data, Sum) else "gauge" if isinstance(data, Gauge) else type(data).__name__
    attributes = {key: type(value).__name__ for point in data.data_points for key, value in point.attributes.items()}
    return {"unit": metric.unit, "kind": kind, "monotonic": getattr(data, "is_monotonic", None),
            "attributes": attributes, "types": {type(p.value).__name__ for p in data.data_points}}


def collected(reader: InMemoryMetricReader) -> dict[str, object]:
    data = reader.get_metrics_data()
    return {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def ours(tmp_path, host: bool = True) -> dict[str, object]:
    (tmp_path / "memory.max").write_text("536870912\n")  # a limit, so the limit gauge has a point
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    RuntimeMetrics(provider, host=host, cgroup_root=str(tmp_path))
    try:
        return collected(reader)
    finally:
        provider.shutdown()


def contribs() -> dict[str, object]:
    from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instrumentor = SystemMetricsInstrumentor(config=CONTRIB_CONFIG)
    instrumentor.instrument(meter_provider=provider)
    try:
        return collected(reader)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_same_names_units_kinds_and_attributes_as_contribs_instrumentor(tmp_path):
    """Side by side with opentelemetry-instrumentation-system-metrics, which produced these before:
    only contrib's deprecated string duplicate of cpython.gc.generation (``generation``) is gone."""
    mine, theirs = ours(tmp_path), contribs()
    assert set(theirs) == set(PROCESS_METRICS) | set(HOST_METRICS)
    for name, metric in theirs.items():
        expected = shape(metric)
        if name.startswith("cpython.gc."):
            assert expected["attributes"].pop("generation") == "str"
        assert shape(mine[name]) == expected, name


def documented_rows() -> dict[str, tuple[str, str, set[str], str]]:
    """docs/metrics.md's runtime rows: name -> (type, unit, attribute keys, Prometheus series)."""
    rows = re.findall(r"^\| `([a-z0-9_.]+)` \|([^|]+)\|([^|]*)\|([^|]*)\| `([a-z0-9_]+)`[^|]*\| runtime \|$",
                      METRICS_DOC.read_text(), re.M)
    def keys(cell: str) -> set[str]:  # "type (user, system)" -> {"type"}
        return {key.strip() for key in re.sub(r"\([^)]*\)", "", cell).split(",") if key.strip()}

    return {name: (kind.strip(), unit.strip(), keys(attrs), series) for name, kind, unit, attrs, series in rows}


def prometheus_name(metric) -> str:
    """The collector's translation of an OTel metric name (as its prometheus exporter does it)."""
    name = metric.name.replace(".", "_")
    suffix = PROMETHEUS_UNITS.get(metric.unit)
    if suffix and not name.endswith(suffix):
        name += f"_{suffix}"
    if isinstance(metric.data, Sum) and metric.data.is_monotonic:
        name += "_total"
    return name


def test_every_runtime_series_the_rules_and_dashboards_read_is_produced_as_documented(tmp_path):
    mine, documented = ours(tmp_path, host=False), documented_rows()
    assert len(documented) == len(PROCESS_METRICS) + 1  # the limit gauge too
    by_series = {}
    for name, (kind, unit, attributes, series) in documented.items():
        metric = mine[name]
        assert (metric.unit, (shape(metric)["kind"], shape(metric)["monotonic"])) == (unit, KINDS[kind]), name
        assert set(shape(metric)["attributes"]) == attributes, name
        assert prometheus_name(metric) == series, name
        assert metric.data.data_points, name
        by_series[series] = metric
    read = {name for name in referenced_metrics() if name.startswith(RUNTIME_PREFIXES)}
    assert len(read) >= 10 and read <= set(by_series)
    labels = {key.replace(".", "_") for metric in by_series.values() for key in shape(metric)["attributes"]}
    for expression in [*rule_expressions(), *dashboard_expressions()]:
        if any(name.startswith(RUNTIME_PREFIXES) for name in re.findall(r"[a-z_:]+", expression.expr)):
            for group in re.findall(r"\bby \(([^)]*)\)", expression.expr):
                used = {label.strip() for label in group.split(",")} - {"job", "instance"}
                assert used <= labels, (expression.where, used)


WITHOUT_PSUTIL = r"""
import logging, sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "psutil" or name.startswith("opentelemetry.instrumentation.system_metrics"):
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, NotInstalled())
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from vitalyst_otel.runtime_metrics import RuntimeMetrics

reader = InMemoryMetricReader()
RuntimeMetrics(MeterProvider(metric_readers=[reader]), host=True)
data = reader.get_metrics_data()
names = sorted(m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.data.data_points)
print(" ".join(names))
"""


def test_linux_needs_neither_psutil_nor_contrib_and_host_metrics_say_what_they_need():
    """psutil is no dependency on Linux: the process metrics work without it, and asking for host
    metrics without it gives one warning naming the setting, not a failure."""
    done = subprocess.run([sys.executable, "-c", WITHOUT_PSUTIL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == set(PROCESS_METRICS)
    assert "VITALYST_HOST_METRICS=true needs psutil" in done.stderr
    assert "vitalyst-otel[host]" in done.stderr and "Traceback" not in done.stderr
