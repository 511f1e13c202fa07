"""Integration fixtures: our collector binary, and the local stack of real backends on free ports
in a temporary state directory (one per test session).

Parts that are missing skip the tests that need them on a laptop and fail them under CI=true
(tests.conftest.require)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.conftest import require
from tests.integration.e2e_support import free_port
from devstack.binaries import Binaries, MissingPart
from devstack.binaries import collector_binary as build_collector
from devstack.binaries import jaeger_binary as build_jaeger
from devstack.es_standin import StandinClient
from devstack.stack import Stack, Ports

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _need_go() -> None:
    import os

    require(shutil.which("go") is not None or bool(os.environ.get("VITALYST_OTELCOL_BIN")),
            "go is not installed: vitalyst-otelcol and Jaeger cannot be built (install Go 1.26+)")


def _built(build: Callable[..., T]) -> T:
    """Run a cached build (or find the binary) the way integration tests need: a missing part
    skips on a laptop and fails under CI=true."""
    _need_go()
    try:
        return build(ROOT, quiet=True)
    except MissingPart as exc:
        require(False, str(exc))
        raise


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    """vitalyst-otelcol from collector/build.sh (built once, then cached by manifest hash)."""
    return _built(build_collector)


@pytest.fixture(scope="session")
def jaeger_binary() -> Path:
    """Jaeger v2 from tools/jaeger/build.sh (built once, then cached)."""
    return _built(build_jaeger)


@pytest.fixture(scope="session")
def stack_binaries() -> Binaries:
    require(shutil.which("prometheus") is not None, "prometheus is not installed (apt-get install prometheus)")
    require(shutil.which("prometheus-alertmanager") is not None,
            "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
    return _built(Binaries.find)


class RunningStack:
    """What a test needs from the stack: URLs, the stand-in's client, the Stack itself (to stop,
    kill and restart components)."""

    def __init__(self, stack: Stack):
        self.stack = stack
        status = stack.status()
        self.endpoints: dict[str, str] = status["endpoints"]
        self.ports: Ports = stack.ports
        self.otlp_http = self.endpoints["otlp_http"]
        self.otlp_grpc = self.endpoints["otlp_grpc"]
        self.prometheus = self.endpoints["prometheus"]
        self.alertmanager = self.endpoints["alertmanager"]
        self.jaeger = self.endpoints["jaeger_query"]
        self.elasticsearch = self.endpoints["elasticsearch_standin"]
        self.es = StandinClient(self.elasticsearch)
        self.state_dir = stack.state_dir
        self.alert_relay_port = stack.alert_relay_port  # Alertmanager's webhooks go to 127.0.0.1:<this>


def start_stack(binaries: Binaries, state_dir: Path) -> RunningStack:
    """The whole stack on free loopback ports, 1 s scrape and rule evaluation interval;
    Alertmanager's webhooks go to a free port (a test runs the receiver there) after 1 s of
    grouping."""
    running = Stack(state_dir, ROOT, Ports.free(), scrape_interval="1s", binaries=binaries,
                    alert_relay_port=free_port(), alert_group_wait="1s")
    running.up(timeout=120)
    return RunningStack(running)


@pytest.fixture(scope="session")
def stack(stack_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The stack shared by the tests that only read from it; torn down at the end of the
    session, leaving no process behind."""
    running = start_stack(stack_binaries, tmp_path_factory.mktemp("stack"))
    try:
        yield running
    finally:
        running.stack.down()
