"""deploy/helm/vitalyst-observability, checked with the real tools for each values file (the
defaults and ci/*-values.yaml): `helm lint --strict` (values.schema.json), `kubeconform -strict`
against the Kubernetes 1.37 and CRD schemas, the collector configurations it renders against
`vitalyst-otelcol validate` and the repository's files, the rules against `promtool`, the
Alertmanager file against `amtool`, and everything it renders against a real kube-apiserver
(tests/integration/test_helm_api_server.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import require
from tests.integration.k8s_support import (CHART, KUBE_VERSION, ROOT, documents, find, helm_args, one, render,
                                           schema_dir, tool, values_files, values_id)
from tests.integration.rendered_collector import materialise

pytestmark = pytest.mark.integration

VALUES = values_files()
IDS = [values_id(v) for v in VALUES]


@pytest.fixture(scope="module")
def helm() -> Path:
    return tool("helm")


@pytest.fixture(scope="module")
def rendered(helm) -> dict[str, list[dict]]:
    return {values_id(v): documents(render(helm, v)) for v in VALUES}


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("VITALYST_", "OTEL_", "K8S_"))}


# --- helm lint, kubeconform ---------------------------------------------------------------------

@pytest.mark.parametrize("values", VALUES, ids=IDS)
def test_lint_strict(helm, values) -> None:
    result = subprocess.run([str(helm), "lint", "--strict", str(CHART), *helm_args(values)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values,message", [
    ({"agent": {"resources": {"limits": {"memory": None}}}}, "memory"),
    ({"auth": {"enabled": True}}, "existingSecret"),
    ({"remoteWrite": {"enabled": True}}, "endpoint"),
    ({"agent": {"queue": {"type": "pvc"}}}, "type"),
    ({"gateway": {"tailSampling": {"decisionWait": "ten seconds"}}}, "decisionWait"),
    ({"gatway": {}}, "gatway"),
], ids=["no-memory-limit", "auth-without-secret", "remote-write-without-endpoint", "queue-type",
        "decision-wait", "misspelt-key"])
def test_schema_rejects_bad_values(helm, tmp_path, values, message) -> None:
    """values.schema.json turns a bad value into a lint error that names the setting."""
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(yaml.safe_dump(values))
    result = subprocess.run([str(helm), "lint", "--strict", str(CHART), "-f", str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


@pytest.fixture(scope="module")
def schemas() -> Path:
    return schema_dir()


@pytest.mark.parametrize("values", VALUES, ids=IDS)
def test_kubeconform_strict(helm, schemas, values) -> None:
    kubeconform = tool("kubeconform")
    manifest = render(helm, values)
    result = subprocess.run(
        [str(kubeconform), "-strict", "-summary", "-output", "json", "-kubernetes-version", KUBE_VERSION,
         "-schema-location", f"{schemas}/kubernetes/v{KUBE_VERSION}-local-strict/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
         "-schema-location", f"{schemas}/crds/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
         "-"], input=manifest, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary["valid"] == len(documents(manifest)) > 0, summary
    assert summary["skipped"] == summary["errors"] == summary["invalid"] == 0, summary


# --- the collector configurations ---------------------------------------------------------------

def test_configmap_holds_the_repository_files(rendered) -> None:
    """The chart ships collector/*.yaml as they are (files/collector links to collector/)."""
    config = one(rendered["defaults"], "ConfigMap", "-collector-config")
    assert config["data"], "empty collector ConfigMap"
    for key, text in config["data"].items():
        path = key.replace("overlays-", "overlays/", 1)
        assert text == (ROOT / "collector" / path).read_text().rstrip("\n"), key


WORKLOADS = [("DaemonSet", "-agent"), ("Deployment", "-gateway")]


@pytest.mark.parametrize("values", VALUES, ids=IDS)
@pytest.mark.parametrize("kind,suffix", WORKLOADS, ids=["agent", "gateway"])
def test_rendered_collector_validates(collector_binary, rendered, tmp_path, values, kind, suffix) -> None:
    """The --config files, overlays and environment of each rendered collector container are
    accepted by `vitalyst-otelcol validate`."""
    docs = rendered[values_id(values)]
    workloads = find(docs, kind, suffix)
    if not workloads:
        assert values and yaml.safe_load(values.read_text()).get(suffix.strip("-"), {}).get("enabled") is False
        return
    container = materialise(docs, kind, workloads[0]["metadata"]["name"], tmp_path)
    assert any(a.endswith(("/config.yaml", "/gateway.yaml")) for a in container.args), container.args
    result = subprocess.run([str(collector_binary), "validate", *container.args],
                            env={**_clean_env(), **container.env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_agent_config_has_kubernetes_metadata_and_the_k8s_resolver(collector_binary, rendered, tmp_path) -> None:
    """What the agent runs: k8s_attributes and resourcedetection in every pipeline, the memory
    limiter as a share of the container limit, spans to the gateways' headless Service."""
    docs = rendered["defaults"]
    agent = one(docs, "DaemonSet", "-agent")
    container = materialise(docs, "DaemonSet", agent["metadata"]["name"], tmp_path)
    printed = subprocess.run([str(collector_binary), "print-config", "--feature-gates=otelcol.printInitialConfig",
                              *container.args], env={**_clean_env(), **container.env},
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    config = yaml.safe_load(printed.stdout)
    for name, pipeline in config["service"]["pipelines"].items():
        if name in ("traces", "metrics", "logs"):
            assert pipeline["processors"][:3] == ["memory_limiter", "k8s_attributes", "resourcedetection"], name
    limiter = config["processors"]["memory_limiter"]
    assert (limiter["limit_mib"], limiter["limit_percentage"], limiter["spike_limit_percentage"]) == (0, 80, 20)
    assert config["processors"]["k8s_attributes"]["filter"]["node_from_env_var"] == "K8S_NODE_NAME"
    resolver = config["exporters"]["loadbalancing/gateways"]["resolver"]
    gateway_service = one(docs, "Service", "-gateway")
    assert resolver.get("static") is None
    assert resolver["k8s"]["service"] == f"{gateway_service['metadata']['name']}.observability"
    assert gateway_service["spec"]["clusterIP"] == "None"
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["loadbalancing/gateways"]


def test_agent_rbac_covers_what_its_processors_watch(rendered) -> None:
    docs = rendered["defaults"]
    rules = one(docs, "ClusterRole", "-agent")["rules"]
    granted = {(group, resource) for r in rules for group in r["apiGroups"] for resource in r["resources"]
               if {"get", "list", "watch"} <= set(r["verbs"])}
    assert {("", "pods"), ("", "namespaces"), ("apps", "replicasets"), ("", "nodes")} <= granted
    resolver_rules = one(docs, "Role", "-resolver")["rules"]
    assert {("", "endpoints"), ("discovery.k8s.io", "endpointslices")} <= {
        (g, r) for rule in resolver_rules for g in rule["apiGroups"] for r in rule["resources"]}
    agent_sa = one(docs, "DaemonSet", "-agent")["spec"]["template"]["spec"]["serviceAccountName"]
    for binding in find(docs, "ClusterRoleBinding") + find(docs, "RoleBinding"):
        assert [s["name"] for s in binding["subjects"]] == [agent_sa]
    gateway = one(docs, "Deployment", "-gateway")["spec"]["template"]["spec"]
    assert gateway["serviceAccountName"] != agent_sa and gateway["automountServiceAccountToken"] is False


def test_agent_is_reached_on_its_own_node_only_when_ready(rendered) -> None:
    docs = rendered["defaults"]
    service = one(docs, "Service", "-agent")
    assert service["spec"]["internalTrafficPolicy"] == "Local"
    container = one(docs, "DaemonSet", "-agent")["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["port"] == "health"
    assert {"name": "health", "containerPort": 13133, "protocol": "TCP"} in container["ports"]
    assert all("hostPort" not in p for p in container["ports"])


QUEUE_DIR = "/var/lib/vitalyst-otelcol/queue"  # where file_storage keeps the agent's queues


def test_agent_queue_volume_is_the_chosen_trade_off(rendered) -> None:
    """emptyDir (default): bounded by sizeLimit, lost with the pod, no privileged step. hostPath:
    kept on the node per release, made writable for the collector's user by a root init step
    (docs/kubernetes.md, persistent queue)."""
    for values_id_, kind in (("defaults", "emptyDir"), ("everything-values", "hostPath")):
        spec = one(rendered[values_id_], "DaemonSet", "-agent")["spec"]["template"]["spec"]
        mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["mountPath"] == QUEUE_DIR)
        volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
        assert set(volume) == {"name", kind}, values_id_
        if kind == "emptyDir":
            assert volume["emptyDir"] == {"sizeLimit": "2Gi"}
            assert "initContainers" not in spec
        else:
            assert volume["hostPath"] == {"path": "/var/lib/vitalyst-otelcol/vt", "type": "DirectoryOrCreate"}
            [init] = spec["initContainers"]
            user = spec["securityContext"]["runAsUser"]
            assert f"chown {user}:{spec['securityContext']['runAsGroup']} /queue" in init["command"][-1]
            assert init["securityContext"]["runAsUser"] == 0
            assert [m["name"] for m in init["volumeMounts"]] == [mount["name"]]


def test_gateway_scales_and_survives_disruption(rendered) -> None:
    docs = rendered["defaults"]
    deployment = one(docs, "Deployment", "-gateway")
    selector = deployment["spec"]["selector"]["matchLabels"]
    hpa = one(docs, "HorizontalPodAutoscaler", "-gateway")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    assert "replicas" not in deployment["spec"]  # the HPA owns it
    pdb = one(docs, "PodDisruptionBudget", "-gateway")
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    term = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["labelSelector"]["matchLabels"] == selector
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["port"] == "health"


# --- Prometheus, Grafana, Alertmanager ----------------------------------------------------------

def test_prometheus_rules_are_the_repository_rules(rendered) -> None:
    rules = find(rendered["defaults"], "PrometheusRule")
    files = sorted((ROOT / "prometheus" / "rules").glob("*.yml"))
    assert len(rules) == len(files) > 0
    by_name = {r["metadata"]["name"].rsplit("-", 1)[-1]: r for r in rules}
    for path in files:
        assert by_name[path.stem]["spec"] == yaml.safe_load(path.read_text()), path.name


def test_promtool_accepts_the_rendered_rules(rendered, tmp_path) -> None:
    require(shutil.which("promtool") is not None, "promtool is not installed (apt-get install prometheus)")
    paths = []
    for rule in find(rendered["defaults"], "PrometheusRule"):
        path = tmp_path / f"{rule['metadata']['name']}.yml"
        path.write_text(yaml.safe_dump(rule["spec"]))
        paths.append(str(path))
    result = subprocess.run(["promtool", "check", "rules", *paths], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(paths)


def test_pod_monitor_scrapes_what_prometheus_yml_scrapes(rendered) -> None:
    """Each collector job of prometheus/prometheus.yml is an endpoint with the same job name,
    interval and honor_labels, on the container port of the target's port number."""
    docs = rendered["defaults"]
    scrape = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    ports = {p["containerPort"]: p["name"]
             for kind, suffix in WORKLOADS for p in one(docs, kind, suffix)["spec"]["template"]["spec"]["containers"][0]["ports"]}
    expected = []
    for job in scrape["scrape_configs"]:
        for target in (t for s in job.get("static_configs", []) for t in s["targets"]):
            host, port = target.rsplit(":", 1)
            if host == "otelcol":
                expected.append({"job": job["job_name"], "port": ports[int(port)],
                                 "interval": job.get("scrape_interval", scrape["global"]["scrape_interval"]),
                                 "honorLabels": job.get("honor_labels", False)})
    monitor = one(docs, "PodMonitor")
    got = [{"job": next(r["replacement"] for r in e["relabelings"] if r["targetLabel"] == "job"),
            "port": e["port"], "interval": e["interval"], "honorLabels": e["honorLabels"]}
           for e in monitor["spec"]["podMetricsEndpoints"]]
    assert len(expected) >= 2 and got == expected
    agent_labels = one(docs, "DaemonSet", "-agent")["spec"]["template"]["metadata"]["labels"]
    gateway_labels = one(docs, "Deployment", "-gateway")["spec"]["template"]["metadata"]["labels"]
    for labels in (agent_labels, gateway_labels):
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_dashboards_are_configmaps_for_the_grafana_sidecar(rendered) -> None:
    maps = [m for m in find(rendered["defaults"], "ConfigMap") if "-dashboard-" in m["metadata"]["name"]]
    files = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
    assert len(maps) == len(files) > 0
    for path, config_map in zip(files, sorted(maps, key=lambda m: m["metadata"]["name"])):
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(config_map["data"][path.name]) == json.loads(path.read_text())


def test_alertmanager_secret_is_the_repository_file_with_operator_paths(rendered, tmp_path) -> None:
    secret = one(rendered["defaults"], "Secret", "-alertmanager")
    text = secret["stringData"]["alertmanager.yaml"]
    shipped = (ROOT / "prometheus" / "alertmanager.yml").read_text().rstrip("\n")
    assert "/etc/alertmanager/secrets/vitalyst-alert-receivers/pager.token" in text
    assert text.replace("/etc/alertmanager/secrets/vitalyst-alert-receivers/", "/etc/alertmanager/secrets/") == shipped
    amtool = shutil.which("amtool")
    require(amtool is not None, "amtool is not installed (apt-get install prometheus-alertmanager)")
    (tmp_path / "alertmanager.yaml").write_text(text)
    result = subprocess.run([amtool, "check-config", str(tmp_path / "alertmanager.yaml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --- network policies, authentication, instrumentation ------------------------------------------

def test_network_policies_admit_only_app_namespaces_to_otlp(rendered) -> None:
    docs = rendered["defaults"]
    agent = one(docs, "NetworkPolicy", "-agent")["spec"]
    otlp = [rule for rule in agent["ingress"] if {p["port"] for p in rule.get("ports", [])} & {"otlp-grpc", "otlp-http"}]
    assert len(otlp) == 1
    assert otlp[0]["from"] == [{"namespaceSelector": {"matchLabels": {"vitalyst.io/telemetry": "enabled"}}}]
    for rule in agent["ingress"]:
        if "from" not in rule:
            assert [p["port"] for p in rule["ports"]] == ["health"]
    gateway = one(docs, "NetworkPolicy", "-gateway")["spec"]
    agent_selector = one(docs, "DaemonSet", "-agent")["spec"]["selector"]["matchLabels"]
    otlp = [rule for rule in gateway["ingress"] if {p["port"] for p in rule.get("ports", [])} & {"otlp-grpc"}]
    assert otlp == [{"from": [{"podSelector": {"matchLabels": agent_selector}}],
                     "ports": [{"port": "otlp-grpc", "protocol": "TCP"}]}]


def test_bearer_token_overlay_reads_the_secret(rendered) -> None:
    values = CHART / "ci" / "everything-values.yaml"
    docs = rendered[values_id(values)]
    spec = one(docs, "DaemonSet", "-agent")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert "--config=/etc/vitalyst-otelcol/overlays/otlp-auth.yaml" in container["args"]
    token_file = next(e["value"] for e in container["env"] if e["name"] == "VITALYST_OTLP_BEARER_TOKEN_FILE")
    mount = next(m for m in container["volumeMounts"] if token_file.startswith(m["mountPath"] + "/"))
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "vitalyst-otlp-token"
    assert token_file.endswith("/token")


def test_remote_write_trusts_the_ca_from_its_secret(rendered) -> None:
    spec = one(rendered["everything-values"], "DaemonSet", "-agent")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert "--config=/etc/vitalyst-otelcol/overlays/remote-write.yaml" in container["args"]
    ca_file = next(e["value"] for e in container["env"] if e["name"] == "VITALYST_REMOTE_WRITE_CA_FILE")
    mount = next(m for m in container["volumeMounts"] if ca_file.startswith(m["mountPath"] + "/"))
    assert mount["readOnly"] is True
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["secret"] == {"secretName": "mimir-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    assert ca_file.endswith("/ca.crt")
    # Without a CA Secret the endpoint is verified against the system roots: no variable, no volume.
    defaults = one(rendered["defaults"], "DaemonSet", "-agent")["spec"]["template"]["spec"]
    assert all(e["name"] != "VITALYST_REMOTE_WRITE_CA_FILE" for e in defaults["containers"][0]["env"])
    assert all(v["name"] != "remote-write-ca" for v in defaults["volumes"])


def test_instrumentation_sends_to_the_node_agent(rendered) -> None:
    docs = rendered["defaults"]
    instrumentation = one(docs, "Instrumentation")["spec"]
    service = one(docs, "Service", "-agent")
    http_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "otlp-http")
    assert instrumentation["exporter"]["endpoint"] == \
        f"http://{service['metadata']['name']}.observability.svc:{http_port}"
    assert instrumentation["python"]["image"] == "ghcr.io/vitalyst/autoinstrumentation-python:0.1.0"
    assert instrumentation["propagators"] == ["tracecontext", "baggage"]
    assert instrumentation["sampler"] == {"type": "parentbased_traceidratio", "argument": "1.0"}
    assert instrumentation["resource"] == {"addK8sUIDAttributes": True,
                                           "resourceAttributes": {"deployment.environment.name": "production"}}
    host_port = one(rendered["everything-values"], "Instrumentation")["spec"]["exporter"]["endpoint"]
    assert host_port == "http://$(OTEL_NODE_IP):4318"
