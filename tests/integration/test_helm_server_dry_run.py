"""The chart against a real kube-apiserver (v1.37.2, built from k8s.io/kubernetes) on an etcd on
loopback, with the OpenTelemetry Operator's and the prometheus-operator's CRDs applied:
`kubectl apply --dry-run=server` and `helm install --dry-run=server` for each values file run
every check the server makes (built-in validation, defaulting, CRD schemas with their CEL
rules, admission plugins; not admission webhooks: no operator runs)."""

from __future__ import annotations

import json
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
