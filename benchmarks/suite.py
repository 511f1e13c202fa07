"""The benchmark suite behind ``make bench``: ``python -m benchmarks [--quick] [--only NAME,...]
[--rounds N] [--out PATH]``.

Method (docs/performance.md has the long form):

- every figure is a ratio against a baseline measured in the same run;
- each variant runs in a fresh process, one process per variant per round; the variants of a
  round run one after the other, and each round starts one variant later in the list, so that no
  variant always runs first or last;
- the report gives, per variant, the median of the per-round figures with their min-max and the
  median of the per-round (paired) ratios with their min-max;
- instrumented variants export for real over OTLP/HTTP to a local receiver process that accepts
  and discards (benchmarks/receiver.py), and the receiver's counts show whether they did.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import machine, stats

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "summary.json"
APP_VARIANTS = ["plain", "contrib", "native", "pfi", "ours", "ours_sampled10"]
# per_request also runs ours with the old redactor: the new redactor's cost next to the old one's.
PER_REQUEST_VARIANTS = [*APP_VARIANTS, "ours_old_redactor"]
# http also runs ours with the access lines off the OTLP path: what the OTLP copy costs, in the same run.
# And the parts of the tail latency: ours exporting each batch in one go (no GIL slices), ours
# collecting metrics every 60 s instead of 1 s, ours with the garbage collector off.
HTTP_VARIANTS = [*APP_VARIANTS, "ours_access_stdout", "ours_unsliced", "ours_metrics60s", "ours_nogc"]


# --- running processes ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env() -> dict[str, str]:
    """The parent's environment without anything that configures telemetry, so a developer's
    OTEL_* settings cannot change the figures."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "VITALYST_", "FASTAPI_OTEL_"))}
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class Receiver:
    """benchmarks/receiver.py in its own process for the whole run."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.process: subprocess.Popen | None = None
        self.url: str | None = None

    def start(self) -> str:
        ready = Path(tempfile.mkdtemp(prefix="bench-receiver-")) / "port"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.receiver", "--port", "0", "--ready-file", str(ready)],
            cwd=ROOT, env=clean_env(), stdout=subprocess.DEVNULL,
            stderr=open(self.logs / "receiver.log", "w"))  # noqa: SIM115
        deadline = time.monotonic() + 20
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the OTLP receiver did not start (see {self.logs / 'receiver.log'})")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{ready.read_text().strip()}"
        shutil.rmtree(ready.parent, ignore_errors=True)
        return self.url

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Context:
    quick: bool
    rounds: int | None
    receiver: str
    logs: Path
    receiver_pid: int | None = None
    verbose: bool = True
    max_noise: float | None = 0.5
    noise_retries: int = 1
    env: dict[str, str] = field(default_factory=clean_env)

    def rounds_for(self, full: int) -> int:
        if self.rounds is not None:
            return self.rounds
        return 1 if self.quick else full

    def pick(self, full, quick):
        return quick if self.quick else full

    def child_env(self, variant: str, endpoint: str | None = None, **extra: str) -> dict[str, str]:
        env = dict(self.env)
        env.update({
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint or self.receiver,
            "OTEL_SERVICE_NAME": f"bench-{variant}",
            # Metric exports happen inside the measured window (the default interval is 60 s).
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            # Audit records the queue cannot take go to a fallback file: keep it out of the tree.
            "VITALYST_AUDIT_FALLBACK_FILE": str(self.logs / f"audit-fallback-{variant}.jsonl"),
        })
        env.update(extra)
        return env

    def say(self, text: str) -> None:
        if self.verbose:
            print(text, file=sys.stderr, flush=True)


def run_child(ctx: Context, mode: str, variant: str, config: dict, tag: str,
              env: dict[str, str] | None = None, timeout: float = 180.0) -> dict:
    """One benchmark process; returns its result, or ``{"error": ...}``."""
    config = {"receiver": ctx.receiver, "receiver_pid": ctx.receiver_pid, **config}
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    log = ctx.logs / f"{tag}.log"
    try:
        with open(log, "w") as stderr:
            process = subprocess.run(
                [sys.executable, "-m", "benchmarks.child", mode, variant, json.dumps(config), str(out)],
                cwd=ROOT, env=env or ctx.child_env(variant), stdout=subprocess.DEVNULL,
                stderr=stderr, timeout=timeout)
        if process.returncode != 0 or out.stat().st_size == 0:
            return {"error": f"exit {process.returncode}: {_tail(log)}"}
        return json.loads(out.read_text())
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s: {_tail(log)}"}
    finally:
        out.unlink(missing_ok=True)


def _tail(path: Path, lines: int = 4) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def interleave(ctx: Context, name: str, variants: Sequence[str], rounds: int,
               measure: Callable[[str, int], dict], retry_noisy: bool = True) -> dict[str, list[dict | None]]:
    """Run ``measure(variant, round)`` for every variant in every round, rotating the order by
    one each round. A variant that reports itself unavailable is not run again; one measured
    while other processes were busy is measured again (see ``--max-noise``)."""
    results: dict[str, list[dict | None]] = {v: [] for v in variants}
    unavailable: set[str] = set()
    for r in range(rounds):
        order = list(variants[r % len(variants):]) + list(variants[:r % len(variants)])
        for variant in order:
            if variant in unavailable:
                results[variant].append(results[variant][0])
                continue
            started = time.monotonic()
            result = measure(variant, r)
            attempts = 1
            while (retry_noisy and ctx.max_noise is not None and noise_of(result) > ctx.max_noise
                   and attempts <= ctx.noise_retries):
                ctx.say(f"  {name} round {r + 1} {variant}: other processes used "
                        f"{noise_of(result):.2f} cores during the window; measuring again")
                again = measure(variant, r)
                attempts += 1
                if noise_of(again) < noise_of(result):
                    result = again
            result["attempts"] = attempts
            results[variant].append(result)
            if "unavailable" in result:
                unavailable.add(variant)
            ctx.say(f"  {name} round {r + 1}/{rounds} {variant}: {_brief(result)} "
                    f"({time.monotonic() - started:.1f} s)")
    return results


def noise_of(result: dict | None) -> float:
    """Cores other processes kept busy during the measured window (0 when unknown)."""
    machine = (result or {}).get("machine") or {}
    return float(machine.get("other_cores") or 0.0)


def _brief(result: dict) -> str:
    if "error" in result:
        return "ERROR " + result["error"][:300]
    if "unavailable" in result:
        return "skipped: " + result["unavailable"]
    for key in ("us_per_request", "us_per_line", "us_per_call", "requests_per_s", "rss_mib"):
        if key in result:
            return f"{key}={stats.fmt(result[key])}"
    return "ok"


def section(description: str, metric: str, unit: str, baseline: str, results: dict,
            descriptions: dict, key: str | None = None, baselines: dict | None = None,
            lower_is_better: bool = True, delta: bool = False, notes: Sequence[str] = ()) -> dict:
    """The JSON section of one benchmark: raw rounds, summaries, ratios, skipped variants."""
    key = key or metric
    skipped = {v: rounds[0]["unavailable"] for v, rounds in results.items()
               if rounds and rounds[0] and "unavailable" in rounds[0]}
    errors = {v: [r["error"] for r in rounds if r and "error" in r] for v, rounds in results.items()}
    errors = {v: e for v, e in errors.items() if e}
    measured = {v: [r if r and "error" not in r and "unavailable" not in r else None for r in rounds]
                for v, rounds in results.items() if v not in skipped}
    combine = stats.difference if delta else stats.compare
    summaries = combine(measured, key, baseline, baselines)
    return {
        "description": description,
        "metric": metric,
        "unit": unit,
        "baseline": baseline,
        "lower_is_better": lower_is_better,
        "variants": {v: {"description": descriptions.get(v, ""), **summaries[v], "raw": measured[v]}
                     for v in measured},
        "skipped": skipped,
        "errors": errors,
        "notes": list(notes),
    }


def median_of(rounds: Sequence[dict | None], path: str) -> float | None:
    """Median over the rounds of a (dotted) figure in each round's result."""
    values = []
    for result in rounds:
        value = result
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values.append(float(value))
    return stats.median(values) if values else None


# --- the benchmarks -------------------------------------------------------------------------


def bench_per_request(ctx: Context) -> dict:
    from benchmarks.apps import DESCRIPTIONS

    config = {"seconds": ctx.pick(5.0, 0.3), "warmup_s": ctx.pick(1.0, 0.2)}
    results = interleave(ctx, "per_request", PER_REQUEST_VARIANTS, ctx.rounds_for(5), lambda v, r: run_child(
        ctx, "request", v, config, f"per_request-{v}-{r}"))
    return section(
        "One GET /items/{item_id} through the app, in-process ASGI loop (no server, no sockets), "
        "real OTLP/HTTP export to the receiver.", "us_per_request", "µs/request", "plain", results,
        DESCRIPTIONS, notes=[f"window {config['seconds']} s after {config['warmup_s']} s warm-up",
                             "spans/req counts spans the receiver decoded after a final flush; "
                             "in-window is the share of them that arrived during the window",
                             "metrics coverage: measurements in the HTTP duration histogram the "
                             "receiver saw / requests made (1.0 = every request measured)"])


_LATENCY = re.compile(r"^\s*(\d+)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(output: str) -> dict:
    """Requests/s, request count, non-2xx and socket errors, and the latency percentiles (ms)."""
    out: dict = {"latency_ms": {}}
    for pct, value, unit in _LATENCY.findall(output):
        out["latency_ms"][f"p{pct}"] = float(value) * _UNITS[unit]
    match = re.search(r"Requests/sec:\s*([\d.]+)", output)
    out["requests_per_s"] = float(match.group(1)) if match else None
    match = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", output)
    out["requests"] = int(match.group(1)) if match else None
    match = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    out["non_2xx"] = int(match.group(1)) if match else 0
    match = re.search(r"Socket errors:(.*)", output)
    out["socket_errors"] = match.group(1).strip() if match else None
    out["p99_ms"] = out["latency_ms"].get("p99")
    return out


def _wait_ready(port: int, process: subprocess.Popen, timeout: float = 30.0) -> bool:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/items/1")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _serve_and_load(ctx: Context, variant: str, r: int, wrk: dict) -> dict:
    import resource

    from benchmarks.probe import ReceiverClient, SystemCpu, pid_cpu_seconds, pid_rss_bytes, received

    port = free_port()
    log = ctx.logs / f"http-{variant}-{r}.log"
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name  # noqa: SIM115
    receiver = ReceiverClient(ctx.receiver)
    receiver.reset()
    with open(log, "w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.child", "serve", variant, json.dumps({"port": port}), out],
            cwd=ROOT, env=ctx.child_env(variant), stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        if not _wait_ready(port, server):
            if Path(out).exists() and Path(out).stat().st_size:
                result = json.loads(Path(out).read_text())
                if "unavailable" in result:
                    return result
            return {"error": f"server did not become ready: {_tail(log)}"}
        url = f"http://127.0.0.1:{port}/items/42"
        base = ["wrk", f"-t{wrk['threads']}", f"-c{wrk['connections']}", "--latency", url]
        if wrk["warmup_s"]:
            subprocess.run(base[:1] + [f"-d{wrk['warmup_s']}s"] + base[1:], capture_output=True, timeout=120)
        before = receiver.stats()
        cpu0, rcv0 = pid_cpu_seconds(server.pid), pid_cpu_seconds(ctx.receiver_pid)
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine_cpu = SystemCpu()
        window_start = time.monotonic()
        run = subprocess.run(base[:1] + [f"-d{wrk['seconds']}s"] + base[1:], capture_output=True,
                             text=True, timeout=wrk["seconds"] + 60)
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu1, rcv1 = pid_cpu_seconds(server.pid), pid_cpu_seconds(ctx.receiver_pid)
        wrk_cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
        receiver_cpu = rcv1 - rcv0 if rcv0 is not None and rcv1 is not None else 0.0
        noise = machine_cpu.other_cores((cpu1 or 0) - (cpu0 or 0) + wrk_cpu + receiver_cpu)
        after = receiver.stats()
        rss = pid_rss_bytes(server.pid)
        result = parse_wrk(run.stdout)
        if not result["requests_per_s"]:
            return {"error": f"wrk failed: {run.stdout[-300:]} {run.stderr[-300:]}"}
        result.update(_paced_window(url, wrk))
        window_end = time.monotonic()
        window = received(before, after)
        requests = result["requests"] or 0
        result.update({
            "server_cpu_us_per_request": (cpu1 - cpu0) / requests * 1e6 if cpu0 is not None and cpu1 is not None and requests else None,
            "server_rss_mib": rss / 2**20 if rss else None,
            "spans_in_window": window["traces"]["items"] if window else None,
            "spans_per_request_in_window": window["traces"]["items"] / requests if window and requests else None,
            "logs_in_window": window["logs"]["items"] if window else None,
            "logs_per_request_in_window": window["logs"]["items"] / requests if window and requests else None,
            "metric_exports_in_window": window["metrics"]["requests"] if window else None,
            "wrk_cpu_s": wrk_cpu,
            "receiver_cpu_s": receiver_cpu,
            "machine": noise,
        })
        stop_server(server)
        if Path(out).exists() and Path(out).stat().st_size:
            result["gc"] = _full_collections(json.loads(Path(out).read_text()).get("gc"), window_start, window_end)
        return result
    finally:
        stop_server(server)
        Path(out).unlink(missing_ok=True)


PACED_SCRIPT = ROOT / "benchmarks" / "paced.lua"


def _full_collections(gc_report: dict | None, start: float, end: float) -> dict | None:
    """The server's full (gen-2) collections during the two measured windows (CLOCK_MONOTONIC
    is the same clock in both processes): not the one ``gc.freeze()`` runs after start-up."""
    if not gc_report:
        return None
    pauses = [pause for at, pause in gc_report.get("gen2_at", []) if start <= at <= end]
    return {"gen2_in_windows": len(pauses), "gen2_max_ms": max(pauses) * 1e3 if pauses else 0.0,
            "gen2_total_ms": sum(pauses) * 1e3}


def _paced_window(url: str, wrk: dict) -> dict:
    """Latency at a fixed request rate every variant sustains (benchmarks/paced.lua: each of
    ``paced_connections`` connections pauses ``pace_ms`` after each response), so the figure is
    not the closed loop's connections / throughput."""
    if not wrk.get("paced_s"):
        return {}
    run = subprocess.run(
        ["wrk", "-t1", f"-c{wrk['paced_connections']}", f"-d{wrk['paced_s']}s", "--latency", "-s",
         str(PACED_SCRIPT), url], capture_output=True, text=True, timeout=wrk["paced_s"] + 60,
        env={**os.environ, "WRK_PACE_MS": str(wrk["pace_ms"])})
    paced = parse_wrk(run.stdout)
    return {"paced_requests_per_s": paced["requests_per_s"], "paced_p99_ms": paced["p99_ms"],
            "paced_p50_ms": paced["latency_ms"].get("p50"), "paced_p90_ms": paced["latency_ms"].get("p90")}


def stop_server(server: subprocess.Popen) -> None:
    """SIGINT (uvicorn's graceful stop, which also flushes telemetry), then SIGKILL after 20 s."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def bench_http(ctx: Context) -> dict:
    from benchmarks.apps import DESCRIPTIONS

    if shutil.which("wrk") is None:
        return {"description": "over HTTP with wrk", "skipped_all": "wrk is not installed"}
    wrk = {"threads": 1, "connections": 16, "seconds": ctx.pick(10, 1), "warmup_s": ctx.pick(2, 0),
           "paced_s": ctx.pick(8, 1), "paced_connections": 4, "pace_ms": 16}
    results = interleave(ctx, "http", HTTP_VARIANTS, ctx.rounds_for(3),
                         lambda v, r: _serve_and_load(ctx, v, r, wrk))
    throughput = section(
        "uvicorn (one worker, its defaults incl. access log to /dev/null) per variant, loaded with "
        f"wrk -t{wrk['threads']} -c{wrk['connections']} -d{wrk['seconds']}s --latency after a "
        f"{wrk['warmup_s']} s warm-up; receiver running.", "requests_per_s", "req/s", "plain", results,
        DESCRIPTIONS, lower_is_better=False,
        notes=["ratio = variant throughput / plain throughput (higher is better)",
               "spans/req, logs/req: spans and log records (the access lines) the receiver got "
               "during the window / requests served in it (export is real: batches in flight at "
               "the end of the window are not counted)",
               "wrk, the server and the receiver share the 2 cores",
               f"paced: then wrk -t1 -c{wrk['paced_connections']} -d{wrk['paced_s']}s with "
               f"benchmarks/paced.lua ({wrk['pace_ms']} ms pause after each response, about "
               f"{wrk['paced_connections'] * 1000 // wrk['pace_ms']} req/s for every variant): latency "
               "at a fixed rate, not dominated by throughput",
               "gen2 GCs, GC max ms: full collections in the server during the two windows and "
               "the longest one"])
    rounds = {v: e["raw"] for v, e in throughput["variants"].items()}
    for key, name in (("p99_ms", "p99"), ("paced_p99_ms", "paced_p99")):
        compared = stats.compare(rounds, key, "plain")
        for variant, entry in throughput["variants"].items():
            entry[name] = {"value": compared[variant]["value"], "ratio": compared[variant]["ratio"]}
    return throughput


def bench_logging(ctx: Context) -> dict:
    from benchmarks.log_variants import DESCRIPTIONS, SETUPS

    config = {"seconds": ctx.pick(2.0, 0.2), "warmup_s": ctx.pick(0.3, 0.05), "chunk": 1024}
    results = interleave(ctx, "logging", list(SETUPS), ctx.rounds_for(5), lambda v, r: run_child(
        ctx, "log", v, config, f"logging-{v}-{r}"))
    return section(
        "One logger.info() line with two arguments, written to /dev/null, inside an active span.",
        "us_per_line", "µs/line", "plain", results, DESCRIPTIONS,
        notes=["OTLP variants export to the receiver and are paced: their queues are flushed after every "
               f"{config['chunk']} lines inside the timed window (half the default queue), so no record "
               "is dropped and the export work is paid for; 'delivered' = records the receiver got / lines",
               "cpu µs/line: CPU time of the whole process (all threads) / lines",
               "unpaced: the same loop without the flushes (a tight loop; the queue drops what it cannot "
               "export, which makes a handler look cheaper) and the share delivered then"])


def bench_metric_api(ctx: Context) -> dict:
    from benchmarks.metric_variants import BASELINES, DESCRIPTIONS, SETUPS

    config = {"seconds": ctx.pick(1.5, 0.2), "warmup_s": ctx.pick(0.2, 0.05)}
    results = interleave(ctx, "metric_api", list(SETUPS), ctx.rounds_for(5), lambda v, r: run_child(
        ctx, "metric", v, config, f"metric_api-{v}-{r}"))
    return section("One metric recording call with two attribute values.", "us_per_call", "µs/call",
                   "prom_counter", results, DESCRIPTIONS, baselines=BASELINES)


# ours_eager_imports: the app imports openai and httpx first, as configure() itself used to.
# ours_contrib_runtime: the runtime metrics read by contrib's instrumentor, as before issue 16;
# psutil is importable only where the variant's install brings it (benchmarks/child.py WITH_PSUTIL).
MEMORY_VARIANTS = ["plain", "contrib", "native", "pfi", "ours", "ours_with_psutil", "ours_contrib_runtime",
                   "ours_eager_imports", "bare", "grpc_import"]


def bench_memory(ctx: Context) -> dict:
    from benchmarks.apps import DESCRIPTIONS

    descriptions = {**DESCRIPTIONS, "bare": "the benchmark process, nothing imported",
                    "grpc_import": "import opentelemetry.exporter.otlp.proto.grpc.trace_exporter only"}
    results = interleave(ctx, "memory", MEMORY_VARIANTS, ctx.rounds_for(3), lambda v, r: run_child(
        ctx, "memory", v, {}, f"memory-{v}-{r}"))
    out = section("RSS after set-up: imports, configuration, lifespan start-up and a first request.",
                  "rss_mib", "MiB", "plain", results, descriptions, delta=True,
                  baselines={"grpc_import": "bare", "bare": "bare"},
                  notes=["delta = variant RSS - baseline RSS (MiB), paired by round",
                         "start-up = import + configure + lifespan start-up + first request, in the "
                         "same process (interpreter start-up excluded); ratio vs plain, paired by round"])
    startup = stats.compare({v: e["raw"] for v, e in out["variants"].items()}, "startup_ms", "plain")
    for variant, entry in out["variants"].items():
        entry["startup"] = {"value": startup[variant]["value"], "ratio": startup[variant]["ratio"]}
    return out


DOWN_VARIANTS = ["ours_up", "ours_down", "contrib_down"]
QUICK_DOWN_VARIANTS = ["ours_up", "ours_down"]  # the SDK's shutdown alone takes ~40 s


def bench_collector_down(ctx: Context) -> dict:
    from benchmarks.apps import DESCRIPTIONS

    seconds = ctx.pick(20.0, 1.5)
    # None: ours uses its default bound (VITALYST_SHUTDOWN_TIMEOUT); quick runs cut it short.
    shutdown_timeout = ctx.pick(None, 1.0)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the collector is down

    def measure(variant: str, r: int) -> dict:
        endpoint = dead if variant.endswith("_down") else ctx.receiver
        return run_child(ctx, "down", variant, {"seconds": seconds, "receiver": None,
                                                    "shutdown_timeout_s": shutdown_timeout},
                         f"collector_down-{variant}-{r}", env=ctx.child_env(variant, endpoint),
                         timeout=seconds + 120)

    variants = ctx.pick(DOWN_VARIANTS, QUICK_DOWN_VARIANTS)
    # Not re-measured when noisy: shutdown times and warning counts barely depend on load, and a
    # contrib_down attempt takes a minute.
    results = interleave(ctx, "collector_down", variants, ctx.rounds_for(3), measure, retry_noisy=False)
    out = section(
        f"Requests for {seconds:.0f} s with the OTLP endpoint down (connection refused) against the "
        "same with the receiver up; then shutdown().", "us_per_request", "µs/request", "ours_up",
        results, DESCRIPTIONS, baselines={"contrib_down": "contrib_down"},
        notes=["targets (issue 5): request cost within 1.1x of collector-up, shutdown() < 5 s, "
               "at most one warning per signal per outage",
               "contrib_down is a reference (SDK exporters); its ratio is to itself"])
    return out


def bench_encoder(ctx: Context) -> dict:
    if not (ROOT / "benchmarks" / "encoder_bench.py").exists():
        return {"description": "OTLP encoder, SDK vs ours (benchmarks/encoder_bench.py)",
                "skipped_all": "benchmarks/encoder_bench.py is not there yet"}
    rounds = ctx.rounds_for(5)
    result = run_child(ctx, "encoder", "encoder", {"rounds": rounds, "min_seconds": ctx.pick(None, 0.1)},
                       "encoder", timeout=600)
    return {"description": "OTLP encoder, SDK vs ours (benchmarks/encoder_bench.py run(rounds))",
            "rounds": rounds, **({"result": result["result"]} if "result" in result else
                                 {"skipped_all": result.get("unavailable") or result.get("error")})}


BENCHMARKS: dict[str, Callable[[Context], dict]] = {
    "per_request": bench_per_request,
    "http": bench_http,
    "logging": bench_logging,
    "metric_api": bench_metric_api,
    "memory": bench_memory,
    "collector_down": bench_collector_down,
    "encoder": bench_encoder,
}


# --- the table ------------------------------------------------------------------------------


def _ratio_cell(entry: dict) -> str:
    return stats.fmt_summary(entry.get("ratio"), "x")


def _median_cell(rounds, path: str, digits: int = 3, suffix: str = "") -> str:
    value = median_of(rounds, path)
    return "-" if value is None else stats.fmt(value, digits) + suffix


def _share(rounds, numerator: str, denominator: str) -> str:
    values = []
    for result in rounds:
        if not result:
            continue
        top, bottom = result.get(numerator), result.get(denominator)
        if isinstance(top, (int, float)) and isinstance(bottom, (int, float)) and bottom:
            values.append(top / bottom)
    return stats.fmt(stats.median(values), 3) if values else "-"


EXTRA_COLUMNS: dict[str, list[tuple[str, Callable]]] = {
    "per_request": [
        ("spans/req", lambda e: _median_cell(e["raw"], "spans_per_request")),
        ("in-window", lambda e: _share(e["raw"], "spans_in_window", "spans_after_flush")),
        ("metrics cov.", lambda e: _median_cell(e["raw"], "metrics_coverage")),
        ("gen2 GCs", lambda e: _median_cell(e["raw"], "gc.collections.2")),
        ("GC pause %", lambda e: _median_cell([{"p": r["gc"]["pause_share"] * 100} if r else None
                                               for r in e["raw"]], "p", 2)),
    ],
    "http": [
        ("p99 ms", lambda e: stats.fmt_summary(e["p99"]["value"])),
        ("p99 ratio", lambda e: stats.fmt_summary(e["p99"]["ratio"], "x")),
        ("paced req/s", lambda e: _median_cell(e["raw"], "paced_requests_per_s", 4)),
        ("paced p50 ms", lambda e: _median_cell(e["raw"], "paced_p50_ms")),
        ("paced p99 ms", lambda e: stats.fmt_summary(e["paced_p99"]["value"]) if e.get("paced_p99") else "-"),
        ("paced p99 ratio", lambda e: stats.fmt_summary(e["paced_p99"]["ratio"], "x") if e.get("paced_p99") else "-"),
        ("gen2 GCs", lambda e: _median_cell(e["raw"], "gc.gen2_in_windows")),
        ("GC max ms", lambda e: _median_cell(e["raw"], "gc.gen2_max_ms")),
        ("cpu µs/req", lambda e: _median_cell(e["raw"], "server_cpu_us_per_request")),
        ("spans/req", lambda e: _median_cell(e["raw"], "spans_per_request_in_window")),
        ("logs/req", lambda e: _median_cell(e["raw"], "logs_per_request_in_window")),
        ("RSS MiB", lambda e: _median_cell(e["raw"], "server_rss_mib")),
    ],
    "logging": [
        ("cpu µs/line", lambda e: _median_cell(e["raw"], "cpu_us_per_line")),
        ("delivered", lambda e: _median_cell(e["raw"], "otlp_delivered")),
        ("unpaced µs/line", lambda e: _median_cell(e["raw"], "unpaced.us_per_line")),
        ("unpaced delivered", lambda e: _median_cell(e["raw"], "unpaced.otlp_delivered")),
    ],
    "memory": [
        ("delta MiB", lambda e: stats.fmt_summary(e.get("delta"), "", 2)),
        ("start-up ms", lambda e: stats.fmt_summary(e["startup"]["value"]) if e.get("startup") else "-"),
        ("start-up vs plain", lambda e: stats.fmt_summary(e["startup"]["ratio"], "x") if e.get("startup") else "-"),
    ],
    "collector_down": [
        ("shutdown s", lambda e: _median_cell(e["raw"], "shutdown_s")),
        ("warn T/M/L (outage)", lambda e: "/".join(
            _median_cell(e["raw"], f"warnings_during.{s}", 3) for s in ("traces", "metrics", "logs"))),
    ],
}


def _noise_cell(entry: dict) -> str:
    values = [noise_of(r) for r in entry["raw"] if r and r.get("machine")]
    if not values:
        return "-"
    return f"{stats.median(values):.2f}/{max(values):.2f}"


def _encoder_lines(result: dict) -> list[str]:
    """encoder_bench.run()'s dict as rows: per signal SDK and our µs/item, our time as a ratio to
    the SDK's (baseline), and the speedup it reports (SDK time / ours, per round)."""
    rows = [["signal", "SDK µs/item", "ours µs/item", "ratio vs sdk", "speedup", "bytes/item"]]
    for name, entry in result.items():
        if not (isinstance(entry, dict) and "sdk_us" in entry and "ours_us" in entry):
            continue
        speed = entry.get("speedup") or {}
        ratio = ({"median": 1 / speed["median"], "min": 1 / speed["max"], "max": 1 / speed["min"],
                  "n": result.get("rounds", 2)} if speed.get("median") else None)
        rows.append([name, stats.fmt_summary({**entry["sdk_us"], "n": result.get("rounds", 2)}),
                     stats.fmt_summary({**entry["ours_us"], "n": result.get("rounds", 2)}),
                     stats.fmt_summary(ratio, "x"),
                     stats.fmt_summary({**speed, "n": result.get("rounds", 2)}, "x") if speed else "-",
                     stats.fmt(entry.get("bytes_per_item"))])
    if len(rows) == 1:
        return ["   " + json.dumps(result, default=str)[:2000]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["   " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def render(summary: dict) -> str:
    lines = []
    m = summary["machine"]
    lines.append(f"vitalyst_otel benchmarks {'(QUICK: figures not meaningful) ' if summary['quick'] else ''}"
                 f"{m['date']} | {m['cpu_model']}, {m['logical_cpus']} CPUs | Python {m['python']} | "
                 f"commit {str(m['git'].get('commit'))[:10]}{' (dirty)' if m['git'].get('dirty') else ''}")
    for name, sec in summary["benchmarks"].items():
        lines.append("")
        lines.append(f"== {name}: {sec.get('description', '')}")
        if "skipped_all" in sec:
            lines.append(f"   skipped: {sec['skipped_all']}")
            continue
        if "result" in sec:
            lines.extend(_encoder_lines(sec["result"]))
            continue
        extra = list(EXTRA_COLUMNS.get(name, []))
        if any(r and r.get("machine") for e in sec["variants"].values() for r in e["raw"]):
            extra.append(("other load", _noise_cell))
        header = ["variant", f"{sec['unit']} median [min-max]", f"ratio vs {sec['baseline']}"] + [h for h, _ in extra]
        rows = []
        for variant, entry in sec["variants"].items():
            ratio = _ratio_cell(entry)
            if entry["baseline"] != sec["baseline"] and entry["baseline"] != variant:
                ratio += f" (vs {entry['baseline']})"
            rows.append([variant, stats.fmt_summary(entry["value"]), ratio] + [f(entry) for _, f in extra])
        widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
        for row in [header] + rows:
            lines.append("   " + "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        for variant, reason in sec.get("skipped", {}).items():
            lines.append(f"   {variant}: skipped ({reason})")
        for variant, errors in sec.get("errors", {}).items():
            lines.append(f"   {variant}: {len(errors)} failed round(s): {errors[0][:200]}")
        if any(h == "other load" for h, _ in extra):
            lines.append("   note: other load = cores other processes kept busy during the window, "
                         "median/max over rounds (2 cores in all)")
        for note in sec.get("notes", []):
            lines.append(f"   note: {note}")
    lines.append("")
    lines.append(f"summary: {summary['out']}  ({summary['duration_s']:.0f} s)")
    return "\n".join(lines)


# --- entry point ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=(
        "Overhead, logging and metric-API benchmarks of vitalyst_otel against baselines measured "
        "in the same run (docs/performance.md)."))
    parser.add_argument("--quick", action="store_true",
                        help="smoke run (< 1 minute): one short round each; figures not meaningful")
    parser.add_argument("--only", default="", help=f"comma-separated benchmarks: {', '.join(BENCHMARKS)}")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per benchmark (default: 3-5 each)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON summary path (default: %(default)s)")
    parser.add_argument("--max-noise", type=float, default=0.5, metavar="CORES",
                        help="measure a variant again (once, keeping the quieter attempt) when other "
                             "processes kept more than CORES cores busy during its window "
                             "(default %(default)s; a negative value disables)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    args.names = names
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for name, function in BENCHMARKS.items():
            print(f"{name}")
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    logs = out.parent / "logs"
    logs.mkdir(exist_ok=True)
    started = time.monotonic()
    receiver = Receiver(logs)
    url = receiver.start()
    ctx = Context(quick=args.quick, rounds=args.rounds, receiver=url, logs=logs, verbose=not args.quiet,
                  receiver_pid=receiver.process.pid,
                  max_noise=None if args.quick or args.max_noise < 0 else args.max_noise)
    summary = {
        "schema": 1,
        "command": "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv),
        "quick": args.quick,
        "machine": machine.info(ROOT),
        "receiver": url,
        "benchmarks": {},
    }
    try:
        for name in args.names:
            ctx.say(f"[{name}]")
            summary["benchmarks"][name] = BENCHMARKS[name](ctx)
    finally:
        receiver.stop()
    try:
        summary["machine"]["load_average_at_end"] = list(os.getloadavg())
    except OSError:
        pass
    summary["duration_s"] = time.monotonic() - started
    summary["out"] = str(out)
    out.write_text(json.dumps(summary, indent=2, default=str))
    print(render(summary))
    failed = any(sec.get("errors") for sec in summary["benchmarks"].values())
    return 1 if failed else 0
