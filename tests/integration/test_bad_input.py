"""Malformed, oversized and unauthenticated OTLP on both receivers is refused without harming the
collector or its other pipelines."""

from __future__ import annotations

import os
import urllib.request

import pytest

from tests.integration.e2e_support import collector_component, collector_metric, collector_ports, port_block
from tests.integration.otlp_client import (
    LOGS_METHOD, METRICS_METHOD, TRACES_METHOD, GrpcSender, logs_request, metrics_request, new_trace_ids,
    post_http, traces_request,
)
from devstack.stack import HOST, Stack

pytestmark = pytest.mark.integration

TOKEN = "bad-input-test-token-" + "t" * 16
OVERSIZED = 9 * 1024 * 1024  # the configs refuse more than 8 MiB


@pytest.fixture(scope="module")
def collectors(collector_binary, tmp_path_factory):
    """Two collectors with the shipped config: one open, one with overlays/otlp-auth.yaml. Their
    backends are unreachable: these tests are about what the receivers accept."""
    state = tmp_path_factory.mktemp("bad-input")
    free = iter(port_block(16))
    ports = {"open": collector_ports(free), "auth": collector_ports(free)}
    dead = {"VITALYST_TEMPO_ENDPOINT": f"{HOST}:9", "VITALYST_ELASTICSEARCH_ENDPOINT": f"http://{HOST}:9"}
    supervisor = Stack(state, state)
    supervisor.components["open"] = collector_component("open", collector_binary, ["config.yaml"], ports["open"],
                                                        state, dead)
    supervisor.components["auth"] = collector_component(
        "auth", collector_binary, ["config.yaml", "overlays/otlp-auth.yaml"], ports["auth"], state,
        {**dead, "VITALYST_OTLP_BEARER_TOKEN": TOKEN})
    try:
        for name in supervisor.components:
            supervisor.start(name)
        supervisor.wait_healthy(list(supervisor.components), timeout=60)
        yield supervisor, ports
    finally:
        supervisor.down()


def _still_serving(supervisor: Stack, name: str, ports: dict[str, int], pid: int,
                   headers: dict[str, str] | None = None) -> None:
    """Same process, healthy, and every pipeline takes valid data on both protocols."""
    assert supervisor.running()[name] == pid
    with urllib.request.urlopen(f"http://{HOST}:{ports['health']}/", timeout=5) as response:
        assert response.status == 200
    http = f"{HOST}:{ports['http']}"
    assert post_http(http, "/v1/traces", traces_request(new_trace_ids(1)), headers).ok
    assert post_http(http, "/v1/logs", logs_request(new_trace_ids(1)), headers).ok
    assert post_http(http, "/v1/metrics", metrics_request(), headers).ok
    grpc = GrpcSender(f"{HOST}:{ports['grpc']}")
    metadata = [("authorization", headers["Authorization"])] if headers else None
    try:
        for method, body in ((TRACES_METHOD, traces_request(new_trace_ids(1))),
                             (LOGS_METHOD, logs_request(new_trace_ids(1))), (METRICS_METHOD, metrics_request())):
            assert grpc.send(method, body, metadata).ok, method
    finally:
        grpc.close()


GARBAGE = os.urandom(4096)
TRUNCATED = traces_request(new_trace_ids(20))[:-7]


@pytest.mark.parametrize("path,body,content_type,expected", [
    ("/v1/traces", GARBAGE, "application/x-protobuf", {"400"}),
    ("/v1/logs", TRUNCATED, "application/x-protobuf", {"400"}),
    ("/v1/metrics", b'{"resourceMetrics": [{"scopeMetrics": 7}]}', "application/json", {"400"}),
    ("/v1/traces", b"<xml/>", "application/xml", {"415"}),
    ("/v1/logs", b"\x0a" + os.urandom(OVERSIZED), "application/x-protobuf", {"400", "413"}),
], ids=["garbage", "truncated", "bad-json", "wrong-content-type", "oversized"])
def test_http_receiver_refuses_bad_payloads(collectors, path, body, content_type, expected) -> None:
    supervisor, ports = collectors
    pid = supervisor.running()["open"]
    answer = post_http(f"{HOST}:{ports['open']['http']}", path, body, {"Content-Type": content_type})
    assert answer.status in expected
    _still_serving(supervisor, "open", ports["open"], pid)


@pytest.mark.parametrize("method,body,expected", [
    (TRACES_METHOD, GARBAGE, {"INVALID_ARGUMENT", "INTERNAL"}),
    (LOGS_METHOD, TRUNCATED, {"INVALID_ARGUMENT", "INTERNAL"}),
    (METRICS_METHOD, b"\x0a" + os.urandom(OVERSIZED), {"RESOURCE_EXHAUSTED"}),
], ids=["garbage", "truncated", "oversized"])
def test_grpc_receiver_refuses_bad_payloads(collectors, method, body, expected) -> None:
    supervisor, ports = collectors
    pid = supervisor.running()["open"]
    grpc = GrpcSender(f"{HOST}:{ports['open']['grpc']}")
    try:
        assert grpc.send(method, body).status in expected
    finally:
        grpc.close()
    _still_serving(supervisor, "open", ports["open"], pid)


def test_bearer_token_is_required_on_both_receivers(collectors) -> None:
    supervisor, ports = collectors
    pid = supervisor.running()["auth"]
    http = f"{HOST}:{ports['auth']['http']}"
    body = traces_request(new_trace_ids(1))
    assert post_http(http, "/v1/traces", body).status == "401"
    assert post_http(http, "/v1/traces", body, {"Authorization": "Bearer wrong"}).status == "401"
    assert post_http(http, "/v1/traces", body, {"Authorization": "Bearer "}).status == "401"
    grpc = GrpcSender(f"{HOST}:{ports['auth']['grpc']}")
    try:
        assert grpc.send(TRACES_METHOD, body).status == "UNAUTHENTICATED"
        assert grpc.send(TRACES_METHOD, body, [("authorization", "Bearer wrong")]).status == "UNAUTHENTICATED"
    finally:
        grpc.close()
    accepted_before = collector_metric(ports["auth"]["metrics"], "otelcol_receiver_accepted_spans")
    _still_serving(supervisor, "auth", ports["auth"], pid, {"Authorization": f"Bearer {TOKEN}"})
    assert collector_metric(ports["auth"]["metrics"], "otelcol_receiver_accepted_spans") > accepted_before
