"""Resource detection on the decoded OTLP wire (tests/support/otlp_receiver.py), under the
launcher and configure(): the environment of a Kubernetes pod on AWS ECS, as the OTel Operator
and the ECS agent set it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.otlp_receiver import OtlpReceiver

BIN = Path(sys.executable).parent
SCRIPT = """
import sys, vitalyst_otel
from opentelemetry import trace
if sys.argv[1] == "configure":
    vitalyst_otel.configure()
trace.get_tracer("probe").start_span("probe").end()
assert vitalyst_otel.shutdown(10)
"""
POD = {
    "KUBERNETES_SERVICE_HOST": "10.96.0.1",
    "OTEL_RESOURCE_ATTRIBUTES_POD_NAME": "kg-api-7d9f-abcde",
    "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME": "node-3",
    "K8S_NAMESPACE_NAME": "vitalyst",
    "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/task",
    "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
    "AWS_REGION": "eu-central-1",
}


def resource_of(mode: str, **extra_env) -> dict:
    with OtlpReceiver() as receiver:
        environment = {**os.environ, "OTEL_SERVICE_NAME": "detect-wire", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                       "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", **POD, **extra_env}
        argv = [sys.executable, "-c", SCRIPT, mode]
        if mode == "launcher":
            argv = [str(BIN / "opentelemetry-instrument"), *argv]
        result = subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=120)
        assert result.returncode == 0, result.stderr
        ((resource, _),) = [(r, s) for r, s in receiver.received.spans() if s.name == "probe"]
    return resource


@pytest.mark.parametrize("mode", ["configure", "launcher"])
def test_default_detectors_put_pod_and_platform_on_the_wire(mode):
    resource = resource_of(mode)
    assert resource["k8s.pod.name"] == "kg-api-7d9f-abcde" and resource["k8s.node.name"] == "node-3"
    assert resource["k8s.namespace.name"] == "vitalyst"
    assert resource["cloud.platform"] == "aws_ecs" and resource["aws.ecs.launchtype"] == "fargate"
    assert resource["cloud.region"] == "eu-central-1" and resource["service.name"] == "detect-wire"


@pytest.mark.parametrize("mode", ["configure", "launcher"])
def test_the_variable_chooses_detectors_and_resource_attributes_win(mode):
    resource = resource_of(mode, OTEL_EXPERIMENTAL_RESOURCE_DETECTORS="vitalyst_aws,process",
                           OTEL_RESOURCE_ATTRIBUTES="cloud.region=eu-west-3")
    assert "k8s.pod.name" not in resource
    assert resource["cloud.platform"] == "aws_ecs" and resource["cloud.region"] == "eu-west-3"
    assert resource["process.pid"] > 0  # the SDK's process detector, by its entry-point name
