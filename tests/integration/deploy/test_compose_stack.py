"""The whole deployment on the Docker daemon: deploy/compose/compose.yaml with the CI override
(images built here; Jaeger standing in for Tempo, the Elasticsearch bulk-API stand-in, the
webhook relay stand-in), brought up with `compose up --wait`, driven by the demo's load, and
checked through the containers as the process-level end-to-end test checks the local stack."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from devstack.es_standin import StandinClient
from tests.integration.deploy.compose_support import running_project
from tests.integration.e2e_support import (
    DEMO_API_KEY, DEMO_PASSWORD, drive_load, eventually, get_json, jaeger_trace, prom_query, traceparent,
)
from tests.integration.otlp_client import logs_request, new_trace_ids, post_http

pytestmark = pytest.mark.integration

BEARER = "composeBearerSecret" + "x" * 20
QUERY_TOKEN = "composeQueryTokenSecret" + "y" * 12
WRONG_KEY = "compose-wrong-key-" + "z" * 10
JOB = "vitalyst/knowledge-graph"


@pytest.fixture(scope="module")
def project(images, tmp_path_factory):
    with running_project(tmp_path_factory.mktemp("compose")) as stack:
        yield stack


@pytest.fixture(scope="module")
def urls(project) -> dict[str, str]:
    return {"demo": project.url("demo", 8000), "prometheus": project.url("prometheus", 9090),
            "jaeger": project.url("tempo", 16686), "es": project.url("elasticsearch", 9200),
            "alertmanager": project.url("alertmanager", 9093), "relay": project.url("alertmanager", 9095)}


@pytest.fixture(scope="module")
def traffic(project, urls) -> dict[str, str]:
    """The demo's own load for a few seconds, then requests under known trace ids carrying secrets."""
    counts = drive_load(urls["demo"], seconds=8, rate=20)
    assert sum(counts.values()) > 50, counts
    ids: dict[str, str] = {}
    with httpx.Client(base_url=urls["demo"], timeout=10) as client:
        header, ids["create"] = traceparent()
        created = client.post("/nodes", json={"type": "concept", "label": "compose"},
                              headers={"X-API-Key": DEMO_API_KEY, "traceparent": header,
                                       "Authorization": f"Bearer {BEARER}"})
        assert created.status_code == 201, created.text
        node_id = created.json()["id"]
        # A failed enrichment (502): an error trace, which the gateways' tail sampling always keeps.
        header, ids["failed"] = traceparent()
        client.put("/demo/knobs", json={"enrich_failure_rate": 1.0})
        assert client.post(f"/nodes/{node_id}/enrich", headers={"traceparent": header}).status_code == 502
        client.put("/demo/knobs", json={"enrich_failure_rate": 0.0})
        header, ids["read"] = traceparent()
        assert client.get(f"/nodes/{node_id}", params={"token": QUERY_TOKEN},
                          headers={"traceparent": header, "Authorization": f"Bearer {BEARER}"}).status_code == 200
        header, ids["denied"] = traceparent()
        assert client.delete(f"/nodes/{node_id}", headers={"X-API-Key": WRONG_KEY,
                                                           "traceparent": header}).status_code == 401
        header, ids["login"] = traceparent()
        assert client.post("/session", json={"user": "curator", "password": DEMO_PASSWORD},
                           headers={"traceparent": header}).status_code == 200
    return ids


def test_prometheus_has_request_durations_by_route_template(urls, traffic) -> None:
    series = eventually(lambda: prom_query(urls["prometheus"], 'http_server_request_duration_seconds_count'
                                           f'{{job="{JOB}", http_route="/nodes/{{node_id}}"}}'), 90,
                        "the request duration series of /nodes/{node_id} in Prometheus")
    assert all("{node_id}" in s["metric"]["http_route"] for s in series)
    routes = {s["metric"]["http_route"] for s in prom_query(
        urls["prometheus"], f'http_server_request_duration_seconds_count{{job="{JOB}"}}')}
    assert not [r for r in routes if any(c.isdigit() for c in r)], f"raw paths became series: {routes}"
    up = prom_query(urls["prometheus"], "up")
    assert {s["metric"]["job"]: s["value"][1] for s in up}.get("otelcol") == "1"


def test_jaeger_has_the_error_trace_whole_through_agent_and_gateways(project, urls, traffic) -> None:
    """demo -> agent -> (loadbalancing by trace id) -> a gateway (tail sampling keeps errors) ->
    Jaeger in Tempo's place: the failed enrichment's server span with its failed child."""
    try:
        spans = eventually(lambda: [s for s in jaeger_trace(urls["jaeger"], traffic["failed"])
                                    if s["operationName"] == "vitalyst.ai.enrichment"]
                           and jaeger_trace(urls["jaeger"], traffic["failed"]), 60, "the failed enrichment trace in Jaeger")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{project.logs('otelcol', 'gateway', 'tempo')}") from None
    assert {s["traceID"] for s in spans} == {traffic["failed"]}
    server = [s for s in spans if any(t["key"] == "span.kind" and t["value"] == "server" for t in s["tags"])]
    assert len(server) == 1
    child = [s for s in spans if s["operationName"] == "vitalyst.ai.enrichment"][0]
    assert any(t["key"] == "otel.status_code" and t["value"] == "ERROR" for t in child["tags"])
    trace = httpx.get(f"{urls['jaeger']}/api/traces/{traffic['failed']}", timeout=10).json()["data"][0]
    tags = {t["key"]: t["value"] for t in trace["processes"][server[0]["processID"]]["tags"]}
    assert tags.get("deployment.environment.name") == "ci"  # VITALYST_ENVIRONMENT of the compose project
    assert tags.get("service.namespace") == "vitalyst"


TLS_PROBE = """
import json, socket, ssl, sys, urllib.error, urllib.request
host = sys.argv[1]
out = {}
context = ssl.create_default_context(cafile="/ca.pem")
with context.wrap_socket(socket.create_connection((host, 4317), timeout=10), server_hostname=host) as tls:
    out["version"] = tls.version()
    out["subject_alt_names"] = [v for _, v in tls.getpeercert()["subjectAltName"]]
try:
    ssl.create_default_context().wrap_socket(socket.create_connection((host, 4317), timeout=10),
                                             server_hostname=host)
    out["untrusted"] = "accepted"
except ssl.SSLCertVerificationError as exc:
    out["untrusted"] = "refused: " + exc.verify_message
try:
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:4318/v1/traces", data=b"{}", method="POST",
                                                  headers={"Content-Type": "application/json"}), timeout=10)
    out["plaintext"] = "accepted"
except urllib.error.HTTPError as exc:
    try:  # the server closes right after its answer: reading the body can meet a reset
        body = exc.read().decode(errors="replace").strip()
    except OSError:
        body = ""
    out["plaintext"] = f"{exc.code} {body}".strip()
print(json.dumps(out))
"""


@pytest.mark.parametrize("host,tier,names", [("gateway", "gateway", ["gateway"]),
                                             ("otelcol", "agent", ["otelcol", "localhost", "127.0.0.1"])],
                         ids=["agent-to-gateway", "app-to-agent"])
def test_each_otlp_hop_is_tls_with_the_certificates_from_secrets(project, images, traffic, host, tier, names) -> None:
    """The receivers of the gateways, and of the agent (the services send their bearer token
    there), speak only TLS, with the certificate of the <tier>_tls_cert secret, checked against
    the test's CA for the service name; the traces in Jaeger crossed both hops. Probed from a
    container on the project's network."""
    ca = project.state / "secrets" / f"{tier}_tls_ca"
    result = subprocess.run(["docker", "run", "--rm", "--network", f"{project.name}_default", "-v", f"{ca}:/ca.pem:ro",
                             "--entrypoint", "python3", images["es-standin"], "-c", TLS_PROBE, host],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["version"] in ("TLSv1.2", "TLSv1.3"), probe
    assert probe["subject_alt_names"] == names, probe
    assert probe["untrusted"].startswith("refused"), probe
    # Go's TLS listener answers a plaintext request with 400 ("Client sent an HTTP request to an
    # HTTPS server"); the body may be lost to the reset that follows it.
    assert probe["plaintext"] == "400" or "HTTPS" in probe["plaintext"], probe
    assert probe["plaintext"].startswith("400"), probe


def test_the_agents_published_port_takes_the_token_over_tls_only(project) -> None:
    """From the host, on the published OTLP/HTTP port: plaintext is refused before any header is
    read, TLS without the token gets 401, TLS with it 200."""
    otlp, tls = project.url("otelcol", 4318), project.agent_tls()
    body = logs_request(new_trace_ids(1), service="compose-tls")
    token = {"Authorization": f"Bearer {project.secrets['otlp_bearer_token']}"}
    assert post_http(otlp, "/v1/logs", body, token).status == "400"
    assert post_http(otlp, "/v1/logs", body, tls=tls).status == "401"
    assert post_http(otlp, "/v1/logs", body, token, tls=tls).status == "200"


def test_logs_and_audit_records_land_in_their_indices(urls, traffic) -> None:
    es = StandinClient(urls["es"])
    created = eventually(lambda: [d for d in es.docs("logs-vitalyst") if d.get("trace_id") == traffic["create"]],
                         60, "the POST /nodes log records in logs-vitalyst")
    assert any((d.get("body") or {}).get("text") == "node created" for d in created)
    audit = eventually(lambda: [d for d in es.docs("audit-vitalyst") if d.get("trace_id") == traffic["denied"]],
                       60, "the denied delete's audit record in audit-vitalyst")
    assert {d["attributes"]["outcome"] for d in audit} == {"denied"}
    assert all(d["attributes"].get("log.type") == "audit" for d in es.docs("audit-vitalyst"))
    assert not [d for d in es.docs("logs-vitalyst") if (d.get("attributes") or {}).get("log.type") == "audit"]


def test_an_alert_is_delivered_through_alertmanager(project, urls, traffic) -> None:
    """Wrong API keys: AuthFailureSpike (category security) reaches the relay stand-in with the
    security receiver's token (rules rendered with `for` / 60)."""
    deadline = time.monotonic() + 120
    with httpx.Client(base_url=urls["demo"], timeout=10) as client:
        def delivered() -> list[dict]:
            for _ in range(10):
                client.post("/nodes", json={"type": "concept", "label": "x"}, headers={"X-API-Key": WRONG_KEY})
            return [n for n in get_json(urls["relay"] + "/received")
                    if n["receiver"] == "security"
                    and any(a["labels"].get("alertname") == "AuthFailureSpike" and a["status"] == "firing"
                            for a in n["body"].get("alerts", []))]
        notifications = eventually(delivered, max(1, deadline - time.monotonic()),
                                   "AuthFailureSpike delivered to the security receiver", interval=1)
    assert all(n["authorized"] for n in notifications), "sent with the security receiver's bearer token"
    alert = next(a for a in notifications[0]["body"]["alerts"] if a["labels"]["alertname"] == "AuthFailureSpike")
    assert alert["labels"]["job"] == JOB


def test_no_secret_reaches_any_backend(project, urls, traffic) -> None:
    eventually(lambda: jaeger_trace(urls["jaeger"], traffic["failed"]), 60, "the traces in Jaeger")
    es = StandinClient(urls["es"])
    eventually(lambda: any(d.get("trace_id") == traffic["login"] for d in es.docs("logs-vitalyst")), 60,
               "the login log record")
    texts = [json.dumps(jaeger_trace(urls["jaeger"], t)) for t in traffic.values()]
    texts.append(json.dumps(es.all_docs()))
    texts.append(json.dumps(get_json(urls["prometheus"] + f'/api/v1/series?match[]={{job="{JOB}"}}')))
    texts.append(json.dumps(get_json(urls["relay"] + "/received")))
    logs = subprocess.run([*project.command, "-p", project.name, "logs", "--no-color", "demo", "otelcol"],
                          capture_output=True, text=True, timeout=120, env={**__import__("os").environ, **project.env})
    texts.append(logs.stdout + logs.stderr)
    everything = "\n".join(texts)
    key_lines = [project.secrets[f"{tier}_tls_key"].splitlines()[1] for tier in ("gateway", "agent")]  # private keys
    for secret in (BEARER, QUERY_TOKEN, DEMO_API_KEY, WRONG_KEY, DEMO_PASSWORD, project.secrets["otlp_bearer_token"],
                   *key_lines):
        assert secret not in everything
