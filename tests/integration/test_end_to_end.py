"""The demo service under opentelemetry-instrument, through our collector, into real backends:
Prometheus, Jaeger (standing in for Tempo) and the Elasticsearch bulk-API stand-in. No mocks but
the named stand-in."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.e2e_support import (
    DEMO_API_KEY, eventually, jaeger_trace, prom_query, running_demo, traceparent,
)

pytestmark = pytest.mark.integration

# Secrets the requests below carry; none may appear in any backend.
BEARER = "e2eBearerSecret" + "x" * 20
QUERY_TOKEN = "e2eQueryTokenSecret" + "y" * 12


@pytest.fixture(scope="module")
def demo(stack, tmp_path_factory):
    with running_demo(stack.otlp_http, tmp_path_factory.mktemp("demo")) as base:
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
    return ids


def test_prometheus_has_request_durations_by_route_job_and_instance(stack, traffic) -> None:
    def series():
        return prom_query(stack.prometheus, 'http_server_request_duration_seconds_count'
                                            '{job="vitalyst/knowledge-graph", http_route="/nodes/{node_id}"}')
    found = eventually(series, 30, "http_server_request_duration_seconds_count for /nodes/{node_id}")
    instances = {s["metric"]["instance"] for s in found}
    target_info = prom_query(stack.prometheus, 'target_info{job="vitalyst/knowledge-graph"}')
    assert instances and instances <= {t["metric"]["instance"] for t in target_info}
    assert all(":" not in i or not i.startswith("127.0.0.1") for i in instances)  # the worker, not the scrape target
    assert sum(float(s["value"][1]) for s in found) >= 7


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


def test_no_secret_reaches_any_backend(stack, traffic) -> None:
    # Everything each backend holds for these requests, as text.
    eventually(lambda: jaeger_trace(stack.jaeger, traffic["read"]), 30, "the GET trace in Jaeger")
    eventually(lambda: [d for d in stack.es.docs("logs-vitalyst") if d.get("trace_id") == traffic["read"]]
               or stack.es.docs("logs-vitalyst"), 30, "log records")
    texts = [json.dumps(jaeger_trace(stack.jaeger, t)) for t in traffic.values()]
    texts.append(json.dumps(stack.es.all_docs()))
    texts.append(httpx.get(stack.endpoints["collector_prometheus_exporter"], timeout=5).text)
    series = httpx.get(stack.prometheus + "/api/v1/series", params={"match[]": '{job="vitalyst/knowledge-graph"}'},
                       timeout=10).json()
    texts.append(json.dumps(series))
    everything = "\n".join(texts)
    for secret in (BEARER, QUERY_TOKEN, DEMO_API_KEY, "wrong-key-" + "z" * 10):
        assert secret not in everything
