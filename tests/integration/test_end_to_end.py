"""The demo service under opentelemetry-instrument, through our collector, into real backends:
Prometheus, Jaeger (standing in for Tempo) and the Elasticsearch bulk-API stand-in. No mocks but
the named stand-in."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.e2e_support import (
    DEMO_API_KEY, DEMO_PASSWORD, eventually, jaeger_trace, prom_query, running_demo, traceparent,
)

pytestmark = pytest.mark.integration

# Secrets the requests below carry; none may appear in any backend.
BEARER = "e2eBearerSecret" + "x" * 20
QUERY_TOKEN = "e2eQueryTokenSecret" + "y" * 12
WRONG_PASSWORD = "e2eWrongPasswordSecret" + "w" * 10  # a mistyped password is a secret too


@pytest.fixture(scope="module")
def demo_logs(tmp_path_factory):
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def demo(stack, demo_logs):
    with running_demo(stack.otlp_http, demo_logs) as base:
        yield base


@pytest.fixture(scope="module")
def traffic(demo, stack):
    """One round of requests; returns the trace ids they were sent under."""
    ids: dict[str, str] = {}
    with httpx.Client(base_url=demo, timeout=10) as client:
        header, ids["create"] = traceparent()
        created = client.post("/nodes", json={"type": "concept", "label": "e2e"},
                              headers={"X-API-Key": DEMO_API_KEY, "traceparent": header,
                                       "Authorization": f"Bearer {BEARER}"})
        assert created.status_code == 201, created.text
        node_id = created.json()["id"]
        header, ids["enrich"] = traceparent()
        assert client.post(f"/nodes/{node_id}/enrich", headers={"traceparent": header}).status_code == 200
        header, ids["read"] = traceparent()
        response = client.get(f"/nodes/{node_id}", params={"token": QUERY_TOKEN},
                              headers={"traceparent": header, "Authorization": f"Bearer {BEARER}"})
        assert response.status_code == 200
        header, ids["denied"] = traceparent()
        assert client.delete(f"/nodes/{node_id}", headers={"X-API-Key": "wrong-key-" + "z" * 10,
                                                           "traceparent": header}).status_code == 401
        for _ in range(5):
            client.get(f"/nodes/{node_id}")
        # A password in a log call's extra (the demo logs every login attempt with it).
        header, ids["login"] = traceparent()
        login = client.post("/session", json={"user": "curator", "password": DEMO_PASSWORD}, headers={"traceparent": header})
        assert login.status_code == 200, login.text
        header, ids["login-wrong"] = traceparent()
        wrong = client.post("/session", json={"user": "curator", "password": WRONG_PASSWORD},
                            headers={"traceparent": header})
        assert wrong.status_code == 401
    return ids


def test_prometheus_has_request_durations_by_route_job_and_instance(stack, traffic) -> None:
    def all_seven_counted():
        # Readers export periodically and Prometheus sees each export on its next scrape: the first
        # series seen may hold only the requests of one export, so wait for the cumulative count.
        found = prom_query(stack.prometheus, 'http_server_request_duration_seconds_count'
                                             '{job="vitalyst/knowledge-graph", http_route="/nodes/{node_id}"}')
        return found if sum(float(s["value"][1]) for s in found) >= 7 else None
    found = eventually(all_seven_counted, 45, "7 requests counted for /nodes/{node_id}")
    instances = {s["metric"]["instance"] for s in found}
    target_info = prom_query(stack.prometheus, 'target_info{job="vitalyst/knowledge-graph"}')
    assert instances and instances <= {t["metric"]["instance"] for t in target_info}
    assert all(":" not in i or not i.startswith("127.0.0.1") for i in instances)  # the worker, not the scrape target


def test_jaeger_returns_the_server_span_with_its_children(stack, traffic) -> None:
    spans = eventually(lambda: [s for s in jaeger_trace(stack.jaeger, traffic["enrich"])
                                if s["operationName"] == "vitalyst.ai.enrichment"] and
                       jaeger_trace(stack.jaeger, traffic["enrich"]), 30, "the enrich trace in Jaeger")
    by_id = {s["spanID"]: s for s in spans}
    server = [s for s in spans if any(t["key"] == "span.kind" and t["value"] == "server" for t in s["tags"])]
    assert len(server) == 1
    children = [s for s in spans for ref in s.get("references", [])
                if ref["refType"] == "CHILD_OF" and ref["spanID"] == server[0]["spanID"]]
    assert "vitalyst.ai.enrichment" in {c["operationName"] for c in children}
    assert all(s["traceID"] == traffic["enrich"] for s in by_id.values())


def test_elasticsearch_standin_holds_the_request_logs_and_audit_records_apart(stack, traffic) -> None:
    def logs_for(index: str, trace_id: str) -> list[dict]:
        return [d for d in stack.es.docs(index) if d.get("trace_id") == trace_id]

    created_logs = eventually(lambda: logs_for("logs-vitalyst", traffic["create"]), 30,
                              "the POST /nodes log records in logs-vitalyst")
    assert any((d.get("body") or {}).get("text") == "node created" for d in created_logs)
    audit = eventually(lambda: logs_for("audit-vitalyst", traffic["create"]), 30,
                       "the POST /nodes audit records in audit-vitalyst")
    assert {d["attributes"]["action"] for d in audit} >= {"node.create"}
    denied = eventually(lambda: logs_for("audit-vitalyst", traffic["denied"]), 30, "the denied delete's audit record")
    assert {d["attributes"]["outcome"] for d in denied} == {"denied"}
    assert all(d["attributes"].get("log.type") == "audit" for d in stack.es.docs("audit-vitalyst"))
    assert not [d for d in stack.es.docs("logs-vitalyst") if (d.get("attributes") or {}).get("log.type") == "audit"]


def test_a_password_in_a_log_call_arrives_masked(stack, traffic, demo_logs) -> None:
    stdout = [json.loads(line) for line in (demo_logs / "demo.stdout.log").read_text().splitlines() if line]
    attempts = [r for r in stdout if r.get("message") == "login attempt" and r.get("trace_id") in
                (traffic["login"], traffic["login-wrong"])]
    assert [r["password"] for r in attempts] == ["[REDACTED]", "[REDACTED]"], "masked in the process"
    for name, outcome in (("login", "success"), ("login-wrong", "denied")):
        logs = eventually(lambda: [d for d in stack.es.docs("logs-vitalyst") if d.get("trace_id") == traffic[name]
                                   and (d.get("body") or {}).get("text") == "login attempt"], 30,
                          f"the {name} log record in logs-vitalyst")
        # The process masks it ("[REDACTED]", as on stdout); the collector's redaction processor
        # then replaces the value of every credential-named key with its own fixed mask.
        assert [d["attributes"].get("password") for d in logs] == ["****"]
        assert logs[0]["attributes"].get("user") == "curator"
        audit = eventually(lambda: [d for d in stack.es.docs("audit-vitalyst") if d.get("trace_id") == traffic[name]],
                           30, f"the {name} audit record")
        assert [(d["attributes"]["action"], d["attributes"]["outcome"]) for d in audit] == [("session.create", outcome)]


def test_no_secret_reaches_any_backend(stack, traffic, demo_logs) -> None:
    # Everything each backend holds for these requests, as text.
    eventually(lambda: jaeger_trace(stack.jaeger, traffic["read"]), 30, "the GET trace in Jaeger")
    eventually(lambda: all(any(d.get("trace_id") == traffic[name] for d in stack.es.docs("logs-vitalyst"))
                           for name in ("read", "login", "login-wrong")), 30, "the log records of these requests")
    texts = [json.dumps(jaeger_trace(stack.jaeger, t)) for t in traffic.values()]
    texts.append(json.dumps(stack.es.all_docs()))
    texts.append(httpx.get(stack.endpoints["collector_prometheus_exporter"], timeout=5).text)
    series = httpx.get(stack.prometheus + "/api/v1/series", params={"match[]": '{job="vitalyst/knowledge-graph"}'},
                       timeout=10).json()
    texts.append(json.dumps(series))
    # The demo's own stdout (JSON logs, audit trail) and stderr are outputs too.
    texts += [(demo_logs / name).read_text(errors="replace") for name in ("demo.stdout.log", "demo.stderr.log")]
    everything = "\n".join(texts)
    for secret in (BEARER, QUERY_TOKEN, DEMO_API_KEY, "wrong-key-" + "z" * 10, DEMO_PASSWORD, WRONG_PASSWORD):
        assert secret not in everything
