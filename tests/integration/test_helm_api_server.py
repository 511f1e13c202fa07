"""The chart against a real kube-apiserver (v1.37.2, built from k8s.io/kubernetes) on an etcd on
loopback, with the OpenTelemetry Operator's and the prometheus-operator's CRDs applied:
`kubectl apply --dry-run=server` and `helm install --dry-run=server` for each values file run
every check the server makes (built-in validation, defaulting, CRD schemas with their CEL
rules, admission plugins; not admission webhooks: no operator runs)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.k8s_support import (CHART, LocalApiServer, documents, helm_args, render, schema_dir, tool,
                                           values_files, values_id)

pytestmark = pytest.mark.integration

VALUES = values_files()
IDS = [values_id(v) for v in VALUES]
NAMESPACE = "observability"


@pytest.fixture(scope="module")
def helm() -> Path:
    return tool("helm")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApiServer]:
    etcd, apiserver, schemas = tool("etcd"), tool("kube-apiserver"), schema_dir()
    server = LocalApiServer.start(tmp_path_factory.mktemp("apiserver"), etcd, apiserver)
    try:
        server.kubectl("create", "namespace", NAMESPACE)
        # create, not apply: the prometheus-operator's CRDs exceed the annotation that a
        # client-side apply would store.
        server.kubectl("create", "-f", str(schemas / "crd-manifests"))
        server.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
        yield server
    finally:
        server.stop()


def test_server_reports_the_built_version(cluster) -> None:
    """The version ldflags of tools/kube-apiserver/build.sh: kubectl parses the server version."""
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert (version["gitVersion"], version["major"], version["minor"]) == ("v1.37.2", "1", "37")


def test_crds_of_both_operators_are_served(cluster) -> None:
    resources = cluster.kubectl("api-resources", "-o", "name").stdout.split()
    for name in ("instrumentations.opentelemetry.io", "podmonitors.monitoring.coreos.com",
                 "prometheusrules.monitoring.coreos.com"):
        assert name in resources


@pytest.mark.parametrize("values", VALUES, ids=IDS)
def test_kubectl_server_dry_run(cluster, helm, values) -> None:
    manifest = render(helm, values, namespace=NAMESPACE)
    result = cluster.kubectl("apply", "--dry-run=server", "-n", NAMESPACE, "-o", "name", "-f", "-",
                             stdin=manifest, check=False)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == len(documents(manifest))


@pytest.mark.parametrize("values", VALUES, ids=IDS)
def test_helm_install_server_dry_run(cluster, helm, values) -> None:
    result = subprocess.run(
        [str(helm), "install", "vt", str(CHART), "--namespace", NAMESPACE, "--dry-run=server",
         "--kubeconfig", str(cluster.kubeconfig), *helm_args(values)],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "STATUS: pending-install" in result.stdout


def test_server_rejects_what_the_schemas_miss(cluster, helm) -> None:
    """The server's own validation is in the loop: a value no JSON schema constrains (the
    Service's internalTrafficPolicy enum lives in the server's Go validation) is refused."""
    manifest = render(helm, None, namespace=NAMESPACE).replace("internalTrafficPolicy: Local",
                                                               "internalTrafficPolicy: Nearby")
    result = cluster.kubectl("apply", "--dry-run=server", "-n", NAMESPACE, "-f", "-", stdin=manifest, check=False)
    assert result.returncode != 0
    assert "internalTrafficPolicy" in result.stderr


# --- the agent's Kubernetes metadata, live, with the chart's RBAC -------------------------------

LIVE = "live"
APPS = "apps"
NODE = "node-1"


def _app_objects() -> str:
    """What a cluster would hold for one app pod: its node, namespace (with the default
    ServiceAccount a controller would make), Deployment, ReplicaSet and Pod on that node."""
    return f"""
apiVersion: v1
kind: Node
metadata: {{name: {NODE}}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: {APPS}, labels: {{vitalyst.io/telemetry: enabled}}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: default, namespace: {APPS}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: kg-api, namespace: {APPS}}}
spec:
  selector: {{matchLabels: {{app: kg-api}}}}
  template:
    metadata: {{labels: {{app: kg-api}}}}
    spec: {{containers: [{{name: app, image: ghcr.io/vitalyst/vitalyst-demo:0.1.0}}]}}
"""


def _owned(kind: str, name: str, owner: dict, spec: dict) -> dict:
    return {"apiVersion": "apps/v1" if kind == "ReplicaSet" else "v1", "kind": kind,
            "metadata": {"name": name, "namespace": APPS,
                         "labels": {"app": "kg-api", "pod-template-hash": "5d9c7b",
                                    "app.kubernetes.io/version": "1.4.2"},
                         "ownerReferences": [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                              "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                              "controller": True}]},
            "spec": spec}


def _target_info(port: int) -> dict[str, str] | None:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith("target_info{") and 'job="kg-api"' in line and "k8s_deployment_name" in line:
            return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line))
    return None


def test_agent_adds_pod_metadata_with_the_charts_rbac(cluster, helm, collector_binary, tmp_path) -> None:
    """The chart installed for real (one tier); the agent its DaemonSet describes runs here with
    its ServiceAccount's token, so the API server grants it exactly the chart's ClusterRole. A
    metric from a pod (identified by k8s.pod.uid, as the Operator's injection sets it) reaches
    the prometheus exporter with the pod's namespace, name, ReplicaSet, Deployment and node, and
    the node's uid from the k8snode detector."""
    import json as jsonlib
    import os

    from tests.integration.e2e_support import collector_ports, eventually, loopback_env, port_block
    from tests.integration.otlp_client import metrics_request, post_http
    from tests.integration.rendered_collector import materialise

    cluster.kubectl("create", "namespace", LIVE)
    installed = subprocess.run(
        [str(helm), "install", LIVE, str(CHART), "--namespace", LIVE, "--kubeconfig", str(cluster.kubeconfig),
         "-f", str(CHART / "ci" / "agent-only-values.yaml")], capture_output=True, text=True, timeout=180)
    assert installed.returncode == 0, installed.stderr
    cluster.kubectl("apply", "-f", "-", stdin=_app_objects())
    deployment = jsonlib.loads(cluster.kubectl("get", "deployment", "kg-api", "-n", APPS, "-o", "json").stdout)
    replicaset = _owned("ReplicaSet", "kg-api-5d9c7b", deployment, {
        "selector": {"matchLabels": {"app": "kg-api"}}, "template": deployment["spec"]["template"]})
    cluster.kubectl("create", "-f", "-", stdin=jsonlib.dumps(replicaset))
    replicaset = jsonlib.loads(cluster.kubectl("get", "replicaset", "kg-api-5d9c7b", "-n", APPS, "-o", "json").stdout)
    pod = _owned("Pod", "kg-api-5d9c7b-x2x4q", replicaset, {
        "nodeName": NODE, "containers": [{"name": "app", "image": "ghcr.io/vitalyst/vitalyst-demo:0.1.0"}]})
    cluster.kubectl("create", "-f", "-", stdin=jsonlib.dumps(pod))
    pod_uid = cluster.kubectl("get", "pod", pod["metadata"]["name"], "-n", APPS, "-o", "jsonpath={.metadata.uid}").stdout
    node_uid = cluster.kubectl("get", "node", NODE, "-o", "jsonpath={.metadata.uid}").stdout

    manifest = subprocess.run([str(helm), "get", "manifest", LIVE, "-n", LIVE, "--kubeconfig", str(cluster.kubeconfig)],
                              capture_output=True, text=True, timeout=60, check=True).stdout
    docs = documents(manifest)
    agent = next(d for d in docs if d["kind"] == "DaemonSet")
    account = agent["spec"]["template"]["spec"]["serviceAccountName"]
    container = materialise(docs, "DaemonSet", agent["metadata"]["name"], tmp_path / "pod")
    ports = collector_ports(iter(port_block(7)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VITALYST_", "OTEL_", "KUBE"))}
    env.update({**container.env, **loopback_env(ports, tmp_path / "queue"), "K8S_NODE_NAME": NODE,
                "KUBECONFIG": str(cluster.service_account_kubeconfig(LIVE, account, tmp_path / "agent.kubeconfig")),
                "VITALYST_TEMPO_ENDPOINT": "127.0.0.1:9", "VITALYST_ELASTICSEARCH_ENDPOINT": "http://127.0.0.1:9"})
    log = tmp_path / "agent.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(collector_binary), *container.args], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        # The resource the Operator's injection gives the pod (the exporter serves target_info only
        # for a resource with a service.instance.id).
        body = metrics_request(resource={"service.name": "kg-api", "k8s.pod.uid": pod_uid,
                                         "service.instance.id": f"{APPS}.{pod['metadata']['name']}.app"})
        answers: list[str] = []

        def enriched() -> dict[str, str] | None:
            if process.poll() is not None:
                raise AssertionError(f"agent exited: {log.read_text()[-3000:]}")
            answers.append(post_http(f"127.0.0.1:{ports['http']}", "/v1/metrics", body, timeout=5).status)
            try:
                return _target_info(ports["prometheus"])
            except OSError:
                return None

        try:
            labels = eventually(enriched, 60, "target_info with the pod's Kubernetes metadata", interval=1)
        except AssertionError as exc:
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{ports['prometheus']}/metrics", timeout=5) as page:
                served = [line for line in page.read().decode().splitlines() if not line.startswith("#")][:15]
            raise AssertionError(f"{exc}\nanswers: {answers[-3:]}\nserved: {served}\nagent log: {log.read_text()[-3000:]}") from None
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert {k: labels.get(k) for k in ("k8s_namespace_name", "k8s_pod_name", "k8s_pod_uid", "k8s_replicaset_name",
                                        "k8s_deployment_name", "k8s_node_name", "k8s_node_uid",
                                        "app_kubernetes_io_version")} == {
        "k8s_namespace_name": APPS, "k8s_pod_name": "kg-api-5d9c7b-x2x4q", "k8s_pod_uid": pod_uid,
        "k8s_replicaset_name": "kg-api-5d9c7b", "k8s_deployment_name": "kg-api", "k8s_node_name": NODE,
        "k8s_node_uid": node_uid, "app_kubernetes_io_version": "1.4.2"}
    assert "forbidden" not in log.read_text().lower(), log.read_text()[-3000:]
