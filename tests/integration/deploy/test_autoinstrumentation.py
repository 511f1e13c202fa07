"""ghcr.io/vitalyst/autoinstrumentation-python, used the way the OpenTelemetry Operator v0.148.0
uses a Python auto-instrumentation image (internal/instrumentation/python.go and sdk.go), without
a cluster: its init container's copy step into an emptyDir (a 0777 host directory here), then
the application container, a plain Python image with no OpenTelemetry, started with exactly the
environment the Operator injects for a Deployment's pod, $(VAR) references expanded as the
kubelet expands them. On the decoded OTLP wire (tests/support/otlp_receiver.py) every signal
must carry the k8s.* resource attributes and come from our distribution."""

from __future__ import annotations

import re
import subprocess
import urllib.request

import pytest

from tests.integration.e2e_support import eventually, free_port
from tests.support.otlp_receiver import OtlpReceiver, attrs

pytestmark = pytest.mark.integration

MOUNT = "/otel-auto-instrumentation-python"  # pythonInstrMountPath
NAMESPACE, DEPLOYMENT, REPLICASET = "vitalyst", "knowledge-graph", "knowledge-graph-6d5f8b7c9"
POD, NODE, CONTAINER = "knowledge-graph-6d5f8b7c9-x7k2p", "node-1", "app"


def operator_env(endpoint_port: int, app_image: str) -> list[tuple[str, str]]:
    """The container's env after the Operator's mutation, in its order, for an Instrumentation
    with exporter.endpoint http://$(OTEL_NODE_IP):<port>, propagators tracecontext+baggage and
    sampler parentbased_traceidratio "1" (our chart's defaults). fieldRef values are what the
    kubelet would resolve them to here (host network: node and pod IP are loopback)."""
    version = app_image.rsplit(":", 1)[1]  # chooseServiceVersion: the image tag
    resource = ",".join(f"{k}={v}" for k, v in sorted({
        "k8s.container.name": CONTAINER, "k8s.deployment.name": DEPLOYMENT, "k8s.namespace.name": NAMESPACE,
        "k8s.node.name": "$(OTEL_RESOURCE_ATTRIBUTES_NODE_NAME)", "k8s.pod.name": "$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)",
        "k8s.replicaset.name": REPLICASET, "service.instance.id": f"{NAMESPACE}.$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME).{CONTAINER}",
        "service.namespace": NAMESPACE, "service.version": version,
    }.items()))
    return [
        ("OTEL_NODE_IP", "127.0.0.1"),  # fieldRef status.hostIP
        ("OTEL_POD_IP", "127.0.0.1"),  # fieldRef status.podIP
        ("PYTHONPATH", f"{MOUNT}/opentelemetry/instrumentation/auto_instrumentation:{MOUNT}"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_SERVICE_NAME", DEPLOYMENT),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://$(OTEL_NODE_IP):{endpoint_port}"),
        ("OTEL_RESOURCE_ATTRIBUTES_POD_NAME", POD),  # fieldRef metadata.name
        ("OTEL_RESOURCE_ATTRIBUTES_NODE_NAME", NODE),  # fieldRef spec.nodeName
        ("OTEL_PROPAGATORS", "tracecontext,baggage"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1"),
        ("OTEL_RESOURCE_ATTRIBUTES", resource),  # moved last by the Operator
    ]


def kubelet_expand(env: list[tuple[str, str]]) -> dict[str, str]:
    """$(NAME) replaced by the value of a NAME defined earlier in the list (as the kubelet does)."""
    done: dict[str, str] = {}
    for name, value in env:
        done[name] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: done.get(m.group(1), m.group(0)), value)
    return done


def _docker(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def injected(images, tmp_path_factory):
    """The emptyDir after the Operator's init container ran its command in our image."""
    volume = tmp_path_factory.mktemp("otel-auto-instrumentation-python")
    volume.chmod(0o777)  # an emptyDir is world-writable; the init container runs as 10001
    result = _docker("run", "--rm", "-v", f"{volume}:{MOUNT}", images["autoinstrumentation-python"],
                     "cp", "-r", "/autoinstrumentation/.", MOUNT)  # the Operator's exact command
    assert result.returncode == 0, result.stderr
    assert (volume / "opentelemetry/instrumentation/auto_instrumentation/sitecustomize.py").is_file()
    return volume


def test_image_follows_the_operator_contract(images, injected) -> None:
    distros = list(injected.glob("*.dist-info/entry_points.txt"))
    distro_groups = [p.parent.name for p in distros if "[opentelemetry_distro]" in p.read_text()]
    configurator_groups = [p.parent.name for p in distros if "[opentelemetry_configurator]" in p.read_text()]
    assert [n.split("-")[0] for n in distro_groups] == ["vitalyst_otel"], "ours is the only distro"
    assert [n.split("-")[0] for n in configurator_groups] == ["vitalyst_otel"], "and the only configurator"
    # glibc extension modules for each supported CPython, so any of them can load our packages
    orjson = {p.name for p in (injected / "orjson").glob("*.so")}
    assert {f"orjson.cpython-{v}-x86_64-linux-gnu.so" for v in ("311", "312", "313")} <= orjson
    assert not list(injected.glob("grpc*")), "no gRPC: its native code is tied to one Python"
    size = sum(p.stat().st_size for p in injected.rglob("*") if p.is_file())
    assert size < 200 * 1024 * 1024, f"{size} bytes do not fit the Operator's default 200Mi emptyDir"


def test_demo_in_a_plain_python_container_exports_with_k8s_attributes_and_our_distro(images, injected) -> None:
    port = free_port()
    with OtlpReceiver() as receiver:
        env = kubelet_expand(operator_env(receiver.port, images["plain-python-app"]))
        name = "vitalyst-test-autoinstr-" + str(port)
        args = ["run", "-d", "--name", name, "--network", "host", "-v", f"{injected}:{MOUNT}",
                *(a for k, v in env.items() for a in ("-e", f"{k}={v}")), images["plain-python-app"],
                "python", "-m", "uvicorn", "vitalyst_otel.demo.app:app", "--host", "127.0.0.1", "--port", str(port)]
        started = _docker(*args)
        assert started.returncode == 0, started.stderr
        try:
            base = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                try:
                    with urllib.request.urlopen(base + "/health/live", timeout=1):
                        return True
                except OSError:
                    return False
            try:
                eventually(ready, 90, "the demo answers in the instrumented container", interval=0.5)
            except AssertionError:
                raise AssertionError(_docker("logs", name).stderr[-3000:]) from None
            request = urllib.request.Request(base + "/nodes", data=b'{"type": "concept", "label": "k8s"}',
                                             headers={"Content-Type": "application/json",
                                                      "X-API-Key": "demo-key-00000000"}, method="POST")
            with urllib.request.urlopen(request, timeout=10) as response:
                node_id = __import__("json").loads(response.read())["id"]
            for _ in range(3):
                urllib.request.urlopen(f"{base}/nodes/{node_id}", timeout=10).read()
            got = receiver.wait_for(lambda r: r.spans() and r.metrics() and r.log_records(), timeout=60)
            assert got, f"not every signal arrived: {_docker('logs', name).stderr[-3000:]}"
        finally:
            _docker("rm", "-f", name)
        received = receiver.received
    expected = {
        "k8s.namespace.name": NAMESPACE, "k8s.deployment.name": DEPLOYMENT, "k8s.replicaset.name": REPLICASET,
        "k8s.pod.name": POD, "k8s.node.name": NODE, "k8s.container.name": CONTAINER,
        "service.name": DEPLOYMENT, "service.namespace": NAMESPACE, "telemetry.distro.name": "vitalyst-otel",
    }
    for signal, items in (("spans", received.spans()), ("metrics", received.metrics()),
                          ("logs", received.log_records())):
        for resource, _ in items:
            missing = {k: (resource.get(k), v) for k, v in expected.items() if resource.get(k) != v}
            assert not missing, f"{signal}: {missing}"
            # The Operator's <namespace>.<pod>.<container> or the distribution's per-process id
            # (one per worker, DESIGN.md principle 4): either way, one per process and present.
            assert resource.get("service.instance.id"), signal
    servers = [span for _, span in received.spans() if span.kind == span.SPAN_KIND_SERVER]
    assert "/nodes/{node_id}" in {attrs(s.attributes).get("http.route") for s in servers}
    names = {m.name for _, m in received.metrics()}
    assert "http.server.request.duration" in names
    assert all(h.get("Content-Type") == "application/x-protobuf" for h in received.headers("/v1/traces"))
