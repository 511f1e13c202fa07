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
