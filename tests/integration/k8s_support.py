"""Kubernetes without a cluster, for the chart's tests: the tools (helm, kubeconform and its
schemas, etcd, kube-apiserver, all built by tools/*/build.sh and cached), rendering the chart,
and a real kube-apiserver + etcd on loopback with certificates made here.

The API server runs every check the server makes on a create (built-in validation, the CRDs'
schemas and CEL rules, admission plugins, RBAC) but has no controllers, scheduler or kubelet:
nothing it accepts ever runs (the tests run the collector themselves), objects a controller
would make (a namespace's default ServiceAccount) are created by hand, and admission webhooks
are not called."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from devstack.binaries import MissingPart, run_build_script
from tests.conftest import require
from tests.integration.e2e_support import free_port
from tests.integration.pki import make_ca, openssl, sign

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "vitalyst-observability"
KUBE_VERSION = "1.37.0"


def tool(name: str) -> Path:
    """tools/<name>/build.sh's binary (cached); skips on a laptop without Go, fails under CI."""
    require(shutil.which("go") is not None, f"go is not installed: tools/{name} cannot be built")
    try:
        return run_build_script(ROOT / "tools" / name / "build.sh", quiet=True)
    except MissingPart as exc:
        require(False, str(exc))
        raise


def schema_dir() -> Path:
    """The Kubernetes and CRD JSON schemas and the CRD manifests (tools/kubeconform/schemas.sh)."""
    require(shutil.which("go") is not None, "go is not installed: the CRD schemas cannot be fetched")
    result = subprocess.run(["bash", str(ROOT / "tools" / "kubeconform" / "schemas.sh")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHON": sys.executable}, timeout=600, check=False)
    require(result.returncode == 0, f"tools/kubeconform/schemas.sh failed: {result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def values_files() -> list[Path | None]:
    """The chart's defaults (None) and every values file under ci/."""
    return [None, *sorted((CHART / "ci").glob("*-values.yaml"))]


def values_id(values: Path | None) -> str:
    return values.stem if values else "defaults"


def helm_args(values: Path | None) -> list[str]:
    return ["-f", str(values)] if values else []


def render(helm: Path, values: Path | None, release: str = "vt", namespace: str = "observability",
           extra: tuple[str, ...] = ()) -> str:
    result = subprocess.run(
        [str(helm), "template", release, str(CHART), "--namespace", namespace,
         "--kube-version", KUBE_VERSION, *helm_args(values), *extra],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def documents(manifest: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def find(docs: list[dict], kind: str, name_suffix: str = "") -> list[dict]:
    return [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]


def one(docs: list[dict], kind: str, name_suffix: str = "") -> dict:
    found = find(docs, kind, name_suffix)
    assert len(found) == 1, f"{len(found)} {kind} named *{name_suffix}"
    return found[0]


def make_certificates(directory: Path) -> None:
    """A CA, the API server's certificate for 127.0.0.1, an admin client certificate
    (group system:masters) and the service-account signing key pair."""
    make_ca(directory)
    sign(directory, "server", "/CN=kube-apiserver",
         "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n")
    sign(directory, "admin", "/O=system:masters/CN=admin")
    openssl("genrsa", "-out", "sa.key", "2048", cwd=directory)
    openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)


@dataclass
class LocalApiServer:
    """etcd + kube-apiserver on loopback; ``kubeconfig`` logs in as a cluster admin."""

    kubeconfig: Path
    url: str
    processes: list[subprocess.Popen]
    logs: list[Path]

    @classmethod
    def start(cls, directory: Path, etcd: Path, apiserver: Path) -> LocalApiServer:
        certs = directory / "pki"
        make_certificates(certs)
        etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
        logs = [directory / "etcd.log", directory / "kube-apiserver.log"]
        processes = [subprocess.Popen(
            [str(etcd), "--data-dir", str(directory / "etcd"), "--name", "test",
             "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
             "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
             "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
             "--initial-cluster", f"test=http://127.0.0.1:{etcd_peer}",
             "--log-level", "warn"],
            stdout=logs[0].open("w"), stderr=subprocess.STDOUT)]
        processes.append(subprocess.Popen(
            [str(apiserver),
             "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
             "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
             "--secure-port", str(api_port),
             "--tls-cert-file", str(certs / "server.crt"), "--tls-private-key-file", str(certs / "server.key"),
             "--client-ca-file", str(certs / "ca.crt"),
             "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
             "--service-account-key-file", str(certs / "sa.pub"),
             "--service-account-signing-key-file", str(certs / "sa.key"),
             "--service-cluster-ip-range", "10.96.0.0/16",
             # The "kubernetes" Service's endpoints cannot be a loopback address; nothing needs them.
             "--endpoint-reconciler-type", "none",
             # RBAC as in a cluster: the admin certificate is in system:masters, and the agent's
             # service-account token has exactly what the chart's roles grant.
             "--authorization-mode", "RBAC",
             "--anonymous-auth=false",
             "--cert-dir", str(directory / "cert-dir")],
            stdout=logs[1].open("w"), stderr=subprocess.STDOUT))
        url = f"https://127.0.0.1:{api_port}"
        kubeconfig = directory / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": url, "certificate-authority": str(certs / "ca.crt")}}],
            "users": [{"name": "admin", "user": {"client-certificate": str(certs / "admin.crt"),
                                                 "client-key": str(certs / "admin.key")}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
        }))
        server = cls(kubeconfig, url, processes, logs)
        server._wait_ready(certs)
        return server

    def _wait_ready(self, certs: Path, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        context.load_cert_chain(str(certs / "admin.crt"), str(certs / "admin.key"))
        while time.monotonic() < deadline:
            for process, log in zip(self.processes, self.logs):
                if process.poll() is not None:
                    self.stop()
                    raise AssertionError(f"{log.stem} exited: {log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", context=context, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:  # refused, not ready yet (HTTPError), TLS not up
                pass
            time.sleep(0.5)
        self.stop()
        raise AssertionError(f"kube-apiserver not ready in {timeout} s: {self.logs[1].read_text()[-3000:]}")

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args], input=stdin,
                                capture_output=True, text=True, timeout=180, check=False)
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result

    def service_account_kubeconfig(self, namespace: str, account: str, path: Path) -> Path:
        """A kubeconfig that authenticates as a service account (a TokenRequest token)."""
        token = self.kubectl("create", "token", account, "-n", namespace, "--duration", "1h").stdout.strip()
        config = yaml.safe_load(self.kubeconfig.read_text())
        config["users"] = [{"name": "admin", "user": {"token": token}}]
        config["contexts"][0]["context"]["namespace"] = namespace
        path.write_text(yaml.safe_dump(config))
        return path

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
