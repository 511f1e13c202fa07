"""The detector registry: OTEL_EXPERIMENTAL_RESOURCE_DETECTORS over the installed entry points."""

import logging
import threading
from importlib.metadata import EntryPoint

from opentelemetry.sdk.resources import Resource, ResourceDetector

from vitalyst_otel import resource_detectors
from vitalyst_otel.resources import build_resource
from vitalyst_otel.config import Settings

RELEASE = threading.Event()


class SlowDetector(ResourceDetector):
    def detect(self) -> Resource:
        RELEASE.wait(10)
        return Resource({"slow": "yes"})


class BrokenDetector(ResourceDetector):
    def detect(self) -> Resource:
        raise RuntimeError("metadata endpoint unreachable")


def test_ours_are_installed_entry_points_beside_the_sdks():
    names = set(resource_detectors.installed())
    assert set(resource_detectors.OURS) <= names and {"host", "os", "process"} <= names


def test_named_detectors_merge_in_order(monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("K8S_POD_NAME", "kg-abc")
    monkeypatch.setenv("K_SERVICE", "kg")
    monkeypatch.setenv("K_REVISION", "kg-1")
    found = dict(resource_detectors.detect(["vitalyst_kubernetes", "vitalyst_gcp", "os"]).attributes)
    assert found["k8s.pod.name"] == "kg-abc" and found["cloud.platform"] == "gcp_cloud_run"
    assert found["os.type"] == "linux"  # the SDK's own os detector, loaded from its entry point


def test_unknown_name_is_reported_and_skipped(caplog):
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel"):
        found = resource_detectors.detect(["no_such_detector", "os"])
    assert "os.type" in found.attributes
    (record,) = [r for r in caplog.records if "no_such_detector" in r.getMessage()]
    assert "vitalyst_kubernetes" in record.getMessage()  # names what is installed


def test_a_failing_or_hanging_foreign_detector_is_left_out(monkeypatch, caplog):
    points = {
        "slow": EntryPoint("slow", f"{__name__}:SlowDetector", resource_detectors.GROUP),
        "broken": EntryPoint("broken", f"{__name__}:BrokenDetector", resource_detectors.GROUP),
    }
    monkeypatch.setattr(resource_detectors, "installed", lambda: points)
    monkeypatch.setattr(resource_detectors, "FOREIGN_TIMEOUT_S", 0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="vitalyst_otel"):
            found = resource_detectors.detect(["slow", "broken"])
    finally:
        RELEASE.set()
    assert dict(found.attributes) == {}
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "'slow' did not answer" in messages and "metadata endpoint unreachable" in messages


def test_star_runs_every_installed_detector_and_none_runs_none(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    assert dict(resource_detectors.detect(["*"]).attributes)["faas.name"] == "fn"
    settings = Settings.load({}, environ={"OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "none"})
    assert settings.experimental_resource_detectors == () and settings.problems == ()


def test_resource_attributes_win_over_detected_ones(monkeypatch):
    environ = {"OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "vitalyst_aws",
               "OTEL_RESOURCE_ATTRIBUTES": "cloud.region=eu-north-1"}
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    settings = Settings.load({}, environ=environ)
    resource = build_resource(settings.resource_attributes, settings.service_name, settings.experimental_resource_detectors)
    assert resource.attributes["faas.name"] == "fn" and resource.attributes["cloud.region"] == "eu-north-1"
    assert resource.attributes["service.instance.id"]


def test_default_runs_ours_and_a_bad_value_is_one_problem():
    assert Settings.load({}, environ={}).experimental_resource_detectors == resource_detectors.OURS
    bad = Settings.load({}, environ={"OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "a b"})
    assert [p.variable for p in bad.problems] == ["OTEL_EXPERIMENTAL_RESOURCE_DETECTORS"]
    assert bad.experimental_resource_detectors == resource_detectors.OURS
