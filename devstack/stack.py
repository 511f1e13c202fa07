"""The local stack: real backends on loopback, started and stopped by pid.

Components, in start order: the Elasticsearch bulk-API stand-in (not Elasticsearch, see
es_standin.py), Jaeger v2 (standing in for Tempo), Alertmanager with prometheus/alertmanager.yml
rendered for the stack (its webhook relay's port, bearer tokens from the stack's token
directory), our collector with the shipped collector/config.yaml, and Prometheus with
prometheus/prometheus.yml rendered for the stack's ports and the rules of prometheus/rules
evaluated at the stack's interval (alerting.py). Everything lives under one state directory:
``state.json`` (what was started: argv, pid, process start time, URLs), one log file per
component, the rendered configuration files, Prometheus' TSDB, Alertmanager's data, the
collector's persistent queue. ``down`` stops exactly the processes that state.json names, after
checking that each pid still is the process that was started (pid reuse), and waits for them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.alerting import render_alertmanager_config, render_rules
from devstack.binaries import Binaries

# Children such as ``python -m devstack.es_standin`` import this package from the checkout.
_PYTHONPATH = os.pathsep.join(
    p for p in (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")) if p)

HOST = "127.0.0.1"
STATE_FILE = "state.json"
ORDER = ("es-standin", "jaeger", "alertmanager", "collector", "prometheus")
ALERT_RELAY_PORT = 9095  # where prometheus/alertmanager.yml sends its webhooks


@dataclass
class Ports:
    """Every port the stack listens on. The defaults avoid the usual 4317/4318/8888/9090/9093/
    9200/13133/16686 of a developer's own collector, Prometheus, Alertmanager, Elasticsearch and
    Jaeger: the collector uses 14xxx, Jaeger 24xxx/26xxx, the rest 19xxx."""

    otlp_grpc: int = 14317
    otlp_http: int = 14318
    collector_prometheus: int = 14889  # the collector's prometheus exporter (the services' metrics)
    collector_metrics: int = 14888  # the collector's own metrics (otelcol_*)
    collector_health: int = 14133
    collector_pprof: int = 14777
    collector_zpages: int = 14679
    jaeger_otlp_grpc: int = 24317
    jaeger_otlp_http: int = 24318
    jaeger_query: int = 26686
    jaeger_query_grpc: int = 26685
    jaeger_health: int = 24133
    jaeger_metrics: int = 24888
    prometheus: int = 19090
    alertmanager: int = 19093
    es_standin: int = 19200

    @classmethod
    def free(cls) -> Ports:
        """Ports the kernel says are free right now (for tests running beside anything else)."""
        sockets = []
        try:
            for _ in dataclasses.fields(cls):
                s = socket.socket()
                s.bind((HOST, 0))
                sockets.append(s)
            return cls(*(s.getsockname()[1] for s in sockets))
        finally:
            for s in sockets:
                s.close()

    def in_use(self) -> list[str]:
        """``name=port`` for every port something already listens on (or that repeats)."""
        busy, seen = [], set()
        for f in dataclasses.fields(self):
            port = getattr(self, f.name)
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no conflict
                try:
                    s.bind((HOST, port))
                except OSError:
                    busy.append(f"{f.name}={port}")
                    continue
            if port in seen:
                busy.append(f"{f.name}={port} (twice)")
            seen.add(port)
        return busy

    def with_overrides(self, overrides: dict[str, int]) -> Ports:
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - names
        if unknown:
            raise ValueError(f"unknown port name(s) {sorted(unknown)}; known: {sorted(names)}")
        return dataclasses.replace(self, **overrides)


@dataclass
class Component:
    name: str
    argv: list[str]
    url: str
    health_url: str
    env: dict[str, str] = field(default_factory=dict)  # added to the environment
    pid: int | None = None
    start_ticks: int | None = None  # /proc/<pid>/stat start time, against pid reuse

    @property
    def log_name(self) -> str:
        return f"{self.name}.log"


def jaeger_component(binary: Path, root: Path, *, otlp_grpc: int, otlp_http: int, query: int, query_grpc: int,
                     health: int, metrics: int, **extra_env: str) -> Component:
    """Jaeger v2 with tools/jaeger/config.yaml, every port set through its variables."""
    return Component(
        "jaeger", [str(binary), "--config", str(root / "tools/jaeger/config.yaml")],
        f"http://{HOST}:{query}", f"http://{HOST}:{health}/status", env={
            "JAEGER_OTLP_GRPC_PORT": str(otlp_grpc), "JAEGER_OTLP_HTTP_PORT": str(otlp_http),
            "JAEGER_QUERY_HTTP_PORT": str(query), "JAEGER_QUERY_GRPC_PORT": str(query_grpc),
            "JAEGER_HEALTH_PORT": str(health), "JAEGER_METRICS_PORT": str(metrics), **extra_env})


def _proc_start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped: not running
        return None
    return int(fields[19])


def _get(url: str, timeout: float = 2.0) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {})
    except (urllib.error.URLError, OSError):
        return 0, {}


class Stack:
    """One stack under one state directory. ``up`` → ``status`` → ``down``; tests may also
    ``stop``/``kill`` and ``start`` single components (outages, crashes)."""

    def __init__(self, state_dir: Path, root: Path, ports: Ports | None = None,
                 scrape_interval: str = "5s", binaries: Binaries | None = None, *,
                 alert_relay_port: int = ALERT_RELAY_PORT, alert_token_dir: Path | None = None,
                 alert_group_wait: str | None = None):
        """``scrape_interval`` is also the rule evaluation interval. Alertmanager sends to
        ``http://127.0.0.1:<alert_relay_port>/alerts/<receiver>`` with the bearer token in
        ``<alert_token_dir>/<receiver>.token`` (default ``<state_dir>/alertmanager-secrets``,
        where missing tokens are generated; a given directory must hold them all);
        ``alert_group_wait`` shortens every route's group_wait and group_interval (tests)."""
        self.state_dir = Path(state_dir).resolve()
        self.root = Path(root).resolve()
        self.ports = ports or Ports()
        self.scrape_interval = scrape_interval
        self.binaries = binaries
        self.alert_relay_port = alert_relay_port
        self.alert_token_dir = Path(alert_token_dir).resolve() if alert_token_dir else None
        self.alert_group_wait = alert_group_wait
        self.components: dict[str, Component] = {}
        self.notes: list[str] = []
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    # --- state ------------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.state_dir / STATE_FILE

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "root": str(self.root),
            "ports": dataclasses.asdict(self.ports),
            "scrape_interval": self.scrape_interval,
            "alert_relay_port": self.alert_relay_port,
            "alert_token_dir": str(self.alert_token_dir) if self.alert_token_dir else None,
            "alert_group_wait": self.alert_group_wait,
            "notes": self.notes,
            "components": {n: dataclasses.asdict(c) for n, c in self.components.items()},
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)

    @classmethod
    def load(cls, state_dir: Path) -> Stack | None:
        path = Path(state_dir) / STATE_FILE
        if not path.is_file():
            return None
        state = json.loads(path.read_text())
        stack = cls(Path(state_dir), Path(state["root"]), Ports(**state["ports"]), state["scrape_interval"],
                    alert_relay_port=state.get("alert_relay_port", ALERT_RELAY_PORT),
                    alert_token_dir=state.get("alert_token_dir"), alert_group_wait=state.get("alert_group_wait"))
        stack.notes = state.get("notes", [])
        stack.components = {n: Component(**c) for n, c in state["components"].items()}
        return stack

    # --- configuration ----------------------------------------------------------------------
    def _plan(self) -> None:
        p, b, d = self.ports, self.binaries, self.state_dir
        assert b is not None
        url = lambda port, path="": f"http://{HOST}:{port}{path}"  # noqa: E731
        self.components = {
            "es-standin": Component(
                "es-standin",
                [str(b.python), "-m", "devstack.es_standin", "--host", HOST, "--port", str(p.es_standin)],
                url(p.es_standin), url(p.es_standin, "/")),
            "jaeger": jaeger_component(
                b.jaeger, self.root, otlp_grpc=p.jaeger_otlp_grpc, otlp_http=p.jaeger_otlp_http,
                query=p.jaeger_query, query_grpc=p.jaeger_query_grpc, health=p.jaeger_health,
                metrics=p.jaeger_metrics),
            "alertmanager": Component(
                "alertmanager",
                [str(b.alertmanager), f"--config.file={self._alertmanager_config()}",
                 f"--storage.path={d / 'alertmanager'}", f"--web.listen-address={HOST}:{p.alertmanager}",
                 "--cluster.listen-address="],
                url(p.alertmanager), url(p.alertmanager, "/-/ready")),
            "collector": Component(
                "collector", [str(b.collector), "--config", str(self.root / "collector/config.yaml")],
                url(p.otlp_http), url(p.collector_health, "/"), env=self._collector_env()),
            "prometheus": Component(
                "prometheus",
                [str(b.prometheus), f"--config.file={self._prometheus_config()}",
                 f"--storage.tsdb.path={d / 'prometheus'}", f"--web.listen-address={HOST}:{p.prometheus}",
                 "--enable-feature=exemplar-storage", "--web.enable-lifecycle",
                 "--storage.tsdb.retention.time=2d"],
                url(p.prometheus), url(p.prometheus, "/-/ready")),
        }

    def _collector_env(self) -> dict[str, str]:
        p = self.ports
        return {
            "VITALYST_OTLP_GRPC_ENDPOINT": f"{HOST}:{p.otlp_grpc}",
            "VITALYST_OTLP_HTTP_ENDPOINT": f"{HOST}:{p.otlp_http}",
            "VITALYST_PROMETHEUS_EXPORTER_ENDPOINT": f"{HOST}:{p.collector_prometheus}",
            "VITALYST_OTELCOL_METRICS_HOST": HOST,
            "VITALYST_OTELCOL_METRICS_PORT": str(p.collector_metrics),
            "VITALYST_OTELCOL_HEALTH_ENDPOINT": f"{HOST}:{p.collector_health}",
            "VITALYST_OTELCOL_PPROF_ENDPOINT": f"{HOST}:{p.collector_pprof}",
            "VITALYST_OTELCOL_ZPAGES_ENDPOINT": f"{HOST}:{p.collector_zpages}",
            "VITALYST_OTELCOL_STORAGE_DIR": str(self.state_dir / "collector-queue"),
            "VITALYST_DEPLOYMENT_ENVIRONMENT": "local",
            "VITALYST_TEMPO_ENDPOINT": f"{HOST}:{p.jaeger_otlp_grpc}",
            "VITALYST_TEMPO_INSECURE": "true",
            "VITALYST_ELASTICSEARCH_ENDPOINT": f"http://{HOST}:{p.es_standin}",
            "VITALYST_ELASTICSEARCH_FLUSH_INTERVAL": "1s",
            "GOMEMLIMIT": "1228MiB",  # 80 % of config.yaml's default memory_limiter limit (docs/collector.md)
        }

    @property
    def rules_dir(self) -> Path:
        """Where the rendered rule files are; Prometheus loads ``*.yml`` from here."""
        return self.state_dir / "rules"

    @property
    def token_dir(self) -> Path:
        return self.alert_token_dir or self.state_dir / "alertmanager-secrets"

    @property
    def alert_relay_url(self) -> str:
        return f"http://{HOST}:{self.alert_relay_port}"

    def render_rules(self, edit: Callable[[dict[str, Any]], None] | None = None) -> list[Path]:
        """(Re)write the stack's copy of prometheus/rules at its evaluation interval; ``edit``
        may change each rule (a test shortening ``for``). Prometheus reads it on start and on
        :meth:`reload_prometheus`."""
        return render_rules(self.root / "prometheus" / "rules", self.rules_dir, self.scrape_interval, edit)

    def reload_prometheus(self, timeout: float = 10.0) -> None:
        """Make the running Prometheus read its configuration and rule files again."""
        url = f"http://{HOST}:{self.ports.prometheus}/-/reload"
        request = urllib.request.Request(url, method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()

    def alert_tokens(self) -> dict[str, str]:
        """The bearer token each receiver sends, as Alertmanager reads it."""
        return {path.stem: path.read_text().strip() for path in sorted(self.token_dir.glob("*.token"))}

    def _prometheus_config(self) -> Path:
        """prometheus/prometheus.yml with the stack's targets, interval and the rendered rules.
        Written as JSON, which is YAML too."""
        import yaml  # present: render_rules needs it first

        self.render_rules()
        source = self.root / "prometheus" / "prometheus.yml"
        config = yaml.safe_load(source.read_text())
        p = self.ports
        targets = {
            "otel-collector": p.collector_prometheus, "otelcol": p.collector_metrics,
            "prometheus": p.prometheus, "alertmanager": p.alertmanager,
        }
        config.setdefault("global", {}).update(
            scrape_interval=self.scrape_interval, evaluation_interval=self.scrape_interval)
        if [str(f) for f in config.get("rule_files") or []] != ["rules/*.yml"]:
            self.notes.append(f"prometheus: rule_files {config.get('rule_files')} replaced by the rendered "
                              "copy of prometheus/rules")
        config["rule_files"] = [str(self.rules_dir / "*.yml")]
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"{HOST}:{p.alertmanager}"]}]}]}
        kept = []
        for job in config.get("scrape_configs") or []:
            port = targets.get(job.get("job_name"))
            if port is None:
                self.notes.append(f"prometheus: job {job.get('job_name')!r} has no stack target; left out")
                continue
            job["static_configs"] = [{"targets": [f"{HOST}:{port}"]}]
            kept.append(job)
        config["scrape_configs"] = kept
        rendered = self.state_dir / "prometheus.yml"
        rendered.write_text(json.dumps(config, indent=2))
        return rendered

    def _alertmanager_config(self) -> Path:
        """prometheus/alertmanager.yml sending to the stack's relay port with the stack's tokens."""
        source = self.root / "prometheus" / "alertmanager.yml"
        text, _ = render_alertmanager_config(source, self.alert_relay_url, self.token_dir,
                                             group_wait=self.alert_group_wait,
                                             create_tokens=self.alert_token_dir is None)
        rendered = self.state_dir / "alertmanager.yml"
        rendered.write_text(f"# Rendered by `python -m devstack` from {source}; edit that file instead.\n" + text)
        return rendered

    # --- processes --------------------------------------------------------------------------
    def running(self) -> dict[str, int]:
        """{name: pid} of the recorded processes that are still the ones started."""
        alive = {}
        for name, c in self.components.items():
            if c.pid is not None and c.start_ticks is not None and _proc_start_ticks(c.pid) == c.start_ticks:
                alive[name] = c.pid
        return alive

    def start(self, name: str) -> None:
        c = self.components[name]
        if name in self.running():
            raise RuntimeError(f"{name} is already running (pid {c.pid})")
        log = open(self.state_dir / c.log_name, "ab")  # noqa: SIM115 - owned by the child
        try:
            child = subprocess.Popen(
                c.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": _PYTHONPATH, **c.env}, cwd=self.state_dir,
                start_new_session=True)
        finally:
            log.close()
        self._children[name] = child
        c.pid = child.pid
        c.start_ticks = _proc_start_ticks(child.pid)
        self.save()

    def send_signal(self, name: str, sig: int) -> None:
        """Send ``sig`` to a component's process group (it leads its own session)."""
        c = self.components[name]
        if name not in self.running():
            return
        assert c.pid is not None
        try:
            os.killpg(c.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, name: str, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
        """Stop one component and wait until its process is gone (SIGKILL after ``timeout``)."""
        self.send_signal(name, sig)
        deadline = time.monotonic() + timeout
        while name in self.running():
            self._reap(name)
            if time.monotonic() > deadline:
                self.send_signal(name, signal.SIGKILL)
                deadline = time.monotonic() + 5
            time.sleep(0.05)
        self._reap(name)
        self.components[name].pid = None
        self.components[name].start_ticks = None
        self.save()

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash: no shutdown, no flushing."""
        self.stop(name, sig=signal.SIGKILL)

    def _reap(self, name: str) -> None:
        child = self._children.get(name)
        if child is not None and child.poll() is not None:
            del self._children[name]

    def healthy(self, name: str) -> bool:
        c = self.components[name]
        if name not in self.running():
            return False
        status, headers = _get(c.health_url)
        if name == "es-standin":
            return status == 200 and headers.get("X-Elastic-Product") == "Elasticsearch"
        return status == 200

    def wait_healthy(self, names: Iterable[str], timeout: float = 90.0) -> None:
        pending = list(names)
        deadline = time.monotonic() + timeout
        while pending:
            for name in list(pending):
                if name not in self.running():
                    raise RuntimeError(f"{name} exited during start-up:\n{self.log_tail(name)}")
                if self.healthy(name):
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not healthy after {timeout:.0f} s: {', '.join(pending)}\n"
                                   + "\n".join(self.log_tail(n) for n in pending))
            if pending:
                time.sleep(0.2)

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.state_dir / self.components[name].log_name
        try:
            text = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            text = ["(no log)"]
        return f"--- {path} ---\n" + "\n".join(text)

    # --- the three commands -----------------------------------------------------------------
    def up(self, timeout: float = 90.0) -> dict[str, Any]:
        previous = Stack.load(self.state_dir)
        if previous is not None and previous.running():
            raise RuntimeError(f"a stack is already running from {self.state_dir} "
                               f"({', '.join(previous.running())}); run `python -m devstack down` first")
        busy = self.ports.in_use()
        if busy:
            raise RuntimeError(f"port(s) already in use: {', '.join(busy)}; "
                               "choose others with --port NAME=PORT, or --free-ports")
        if self.binaries is None:
            self.binaries = Binaries.find(self.root)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.notes = []
        self._plan()
        self.save()
        try:
            for name in ORDER:
                self.start(name)
            self.wait_healthy(ORDER, timeout)
            time.sleep(0.5)  # a process that lost a race for its port exits just after start-up
            exited = [name for name in ORDER if name not in self.running()]
            if exited:
                raise RuntimeError(f"exited after start-up: {', '.join(exited)}\n"
                                   + "\n".join(self.log_tail(n) for n in exited))
        except BaseException:
            self.down()
            raise
        return self.status()

    def down(self, timeout: float = 15.0) -> list[str]:
        stopped = []
        for name in reversed(list(self.components)):
            if name in self.running():
                self.stop(name, timeout)
                stopped.append(name)
        if self.state_path.exists():
            self.state_path.unlink()
        return stopped

    def status(self) -> dict[str, Any]:
        running = self.running()
        p = self.ports
        return {
            "state_dir": str(self.state_dir),
            "notes": self.notes,
            "components": {
                name: {
                    "url": c.url,
                    "pid": running.get(name),
                    "running": name in running,
                    "healthy": self.healthy(name) if name in running else False,
                    "health_url": c.health_url,
                    "log": str(self.state_dir / c.log_name),
                }
                for name, c in self.components.items()
            },
            "endpoints": {
                "otlp_grpc": f"{HOST}:{p.otlp_grpc}",
                "otlp_http": f"http://{HOST}:{p.otlp_http}",
                "collector_prometheus_exporter": f"http://{HOST}:{p.collector_prometheus}/metrics",
                "collector_metrics": f"http://{HOST}:{p.collector_metrics}/metrics",
                "prometheus": f"http://{HOST}:{p.prometheus}",
                "alertmanager": f"http://{HOST}:{p.alertmanager}",
                "alertmanager_webhooks": f"{self.alert_relay_url}/alerts/<receiver>",
                "alertmanager_tokens": str(self.token_dir),
                "jaeger_query": f"http://{HOST}:{p.jaeger_query}",
                "jaeger_otlp_grpc": f"{HOST}:{p.jaeger_otlp_grpc}",
                "elasticsearch_standin": f"http://{HOST}:{p.es_standin}",
            },
        }
