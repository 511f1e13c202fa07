from vitalyst_otel.runtime_metrics import memory_limit


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
