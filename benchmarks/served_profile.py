"""Profile the served case the way users run it: one uvicorn worker serving a variant of the
benchmark app (benchmarks/apps.py) under wrk, exporting over OTLP/HTTP to the benchmark receiver,
with py-spy sampling every thread of the worker (request loop and export threads alike).

    python -m benchmarks.served_profile [--variant ours] [--seconds 20] [--out DIR] [--gil]
                                         [--py-spy PATH] [--gc-census]

Writes ``DIR/<variant>.txt`` (py-spy's collapsed stacks with thread names, one line per stack
with its sample count; ``flamegraph.pl`` or speedscope draw them) and ``DIR/<variant>.json``, and
prints the breakdown of
:func:`benchmarks.profile_breakdown.breakdown`: the share of samples per cost bucket (span,
histogram, access line, OTLP log record, encoding, HTTP send, export-thread waiting...), and the
server CPU per request of the profiled run. ``--gil`` samples only threads holding the GIL
(py-spy ``--gil``), which shows what competes with the request loop for it. py-spy needs ptrace
(root, or ``kernel.yama.ptrace_scope=0``); it is not a dependency: pass ``--py-spy`` or put it on
PATH.

It also reports the garbage collections of the server's life per request served (the child's
:class:`benchmarks.probe.GcMonitor`); ``--gc-census`` adds, per gen-0 collection, the young
objects by type at its start: what filled the generation.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.probe import pid_cpu_seconds
from benchmarks.profile_breakdown import breakdown, render
from benchmarks.suite import ROOT, Context, Receiver, _wait_ready, free_port, parse_wrk, stop_server


def profile(variant: str, seconds: int, out: Path, py_spy: str, gil: bool, gc_census: bool = False) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    receiver = Receiver(out)
    url = receiver.start()
    ctx = Context(quick=False, rounds=1, receiver=url, logs=out)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.child", "serve", variant, json.dumps({"port": port, "gc_census": gc_census}),
         str(out / f"{variant}.result.json")],
        cwd=ROOT, env=ctx.child_env(variant), stdout=subprocess.DEVNULL,
        stderr=open(out / f"{variant}.server.log", "w"))  # noqa: SIM115
    try:
        if not _wait_ready(port, server):
            raise RuntimeError(f"the server did not start (see {out / f'{variant}.server.log'})")
        target = f"http://127.0.0.1:{port}/items/42"
        warm = subprocess.run(["wrk", "-t1", "-c16", "-d2s", target], capture_output=True, text=True, check=False)
        stem = out / f"{variant}{'-gil' if gil else ''}"
        spy = [py_spy, "record", "--pid", str(server.pid), "--rate", "250", "--duration", str(seconds),
               "--format", "raw", "--threads", "--output", f"{stem}.txt"]
        if gil:
            spy.append("--gil")
        cpu0 = pid_cpu_seconds(server.pid)
        sampler = subprocess.Popen(spy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        run = subprocess.run(["wrk", "-t1", "-c16", f"-d{seconds - 1}s", "--latency", target],
                             capture_output=True, text=True, check=False)
        cpu1 = pid_cpu_seconds(server.pid)
        sampler.wait(seconds + 30)
        load = parse_wrk(run.stdout)
        stacks = Path(f"{stem}.txt").read_text()
        requests = load["requests"] or 0
        result = {"variant": variant, "gil_only": gil, "wrk": load,
                  "server_cpu_us_per_request": (cpu1 - cpu0) / requests * 1e6 if requests else None,
                  "buckets": breakdown(stacks)}
    finally:
        stop_server(server)
        receiver.stop()
    served = requests + (parse_wrk(warm.stdout)["requests"] or 0)
    result["gc"] = _gc_per_request(out / f"{variant}.result.json", served)
    return result


def _gc_per_request(path: Path, served: int) -> dict | None:
    """Collections per generation over the server's life (the child's GcMonitor), per request
    served (warm-up and profiled run)."""
    try:
        gc_report = json.loads(path.read_text())["gc"]
        collections = gc_report["collections"]
    except (OSError, ValueError, KeyError):
        return None
    return {"collections": collections, "requests": served,
            "gen0_per_1000_requests": collections["0"] / served * 1000 if served else None,
            "gen0_pause_us_per_request": (gc_report.get("pause_ms_by_generation", {}).get("0", 0.0) * 1000 / served
                                          if served else None),
            "young_at_gen0": gc_report.get("young_at_gen0")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.served_profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="ours")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "profile"))
    parser.add_argument("--gil", action="store_true", help="sample only the thread holding the GIL")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--gc-census", action="store_true", help="count the young objects at each gen-0 collection")
    args = parser.parse_args(argv)
    result = profile(args.variant, args.seconds, Path(args.out), args.py_spy, args.gil, args.gc_census)
    print(render(result))
    gc_counts = result.get("gc")
    if gc_counts:
        print(f"  gc collections {gc_counts['collections']} over {gc_counts['requests']} requests: "
              f"{gc_counts['gen0_per_1000_requests']:.1f} gen-0 per 1,000 requests, "
              f"their pauses {gc_counts['gen0_pause_us_per_request']:.1f} µs per request (wall clock)")
        young = gc_counts.get("young_at_gen0")
        if young:
            print("  young objects at a gen-0 collection, mean: "
                  + ", ".join(f"{name} {n:.1f}" for name, n in young.items()))
    (Path(args.out) / f"{args.variant}{'-gil' if args.gil else ''}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
