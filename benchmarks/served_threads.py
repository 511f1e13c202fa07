"""Per-thread CPU and context switches of the served worker, per request, for several variants in
one run: what the export side costs the request thread.

    python -m benchmarks.served_threads [--rounds 2] [--seconds 8] [--paced 8] [--out DIR]
                                        SPEC [SPEC ...]

A SPEC is a variant of benchmarks/apps.py, optionally with environment settings for it:
``ours``, ``ours_unsliced``, ``ours:OTEL_BSP_SCHEDULE_DELAY=200,OTEL_BSP_MAX_EXPORT_BATCH_SIZE=1024``.
Each round serves every SPEC in turn (interleaved, each round starting one later, so load drifts
hit them all) the way the suite's
http benchmark does (uvicorn, one worker, wrk -t1 -c16 after a 2 s warm-up, the benchmark
receiver), reads ``/proc/PID/task/*/{schedstat,status}`` before and after the wrk window, and names
each thread by its Python name (the child writes them on SIGUSR1). Per thread and request: CPU
(schedstat: ns on a CPU), time runnable but waiting for a core, voluntary switches (the thread
blocked: a GIL wait, a sleep, a socket) and involuntary ones (the kernel preempted it). Then,
with ``--paced``, the suite's fixed-rate window (benchmarks/paced.lua) for the tail latency.
Prints one table; writes ``DIR/served_threads.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.probe import pid_cpu_seconds
from benchmarks.suite import (ROOT, Context, Receiver, _paced_window, _wait_ready, free_port, parse_wrk,
                              stop_server)


def _task_stats(pid: int) -> dict[int, dict]:
    """{tid: {cpu_ns, wait_ns, vol, invol}} of every thread of ``pid`` alive now."""
    out: dict[int, dict] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        base = f"/proc/{pid}/task/{tid}"
        try:
            run_ns, wait_ns, _ = (int(v) for v in Path(f"{base}/schedstat").read_text().split())
            status = dict(line.split(":", 1) for line in Path(f"{base}/status").read_text().splitlines() if ":" in line)
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        out[int(tid)] = {"cpu_ns": run_ns, "wait_ns": wait_ns,
                         "vol": int(status["voluntary_ctxt_switches"]),
                         "invol": int(status["nonvoluntary_ctxt_switches"])}
    return out


def _thread_names(server: subprocess.Popen, path: Path) -> dict[int, str]:
    path.unlink(missing_ok=True)
    server.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    names = {int(k): v for k, v in json.loads(path.read_text()).items()} if path.exists() else {}
    names[server.pid] = "request thread (main)"
    return names


def measure(ctx: Context, spec: str, seconds: int, paced_s: int, logs: Path) -> dict:
    variant, _, settings = spec.partition(":")
    extra = dict(item.split("=", 1) for item in settings.split(",") if item)
    port = free_port()
    names_file = Path(tempfile.mkdtemp(prefix="served-threads-")) / "threads.json"
    out = names_file.parent / "result.json"
    config = {"port": port, "threads_file": str(names_file)}
    with open(logs / f"served-threads-{spec.replace(':', '_').replace('=', '-')}.log", "w") as stderr:
        server = subprocess.Popen([sys.executable, "-m", "benchmarks.child", "serve", variant, json.dumps(config),
                                   str(out)], cwd=ROOT, env=ctx.child_env(variant, **extra),
                                  stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        if not _wait_ready(port, server):
            return {"error": "server did not become ready"}
        url = f"http://127.0.0.1:{port}/items/42"
        subprocess.run(["wrk", "-t1", "-c16", "-d2s", url], capture_output=True, timeout=60)
        before, rcv0 = _task_stats(server.pid), pid_cpu_seconds(ctx.receiver_pid)
        started = time.monotonic()
        run = subprocess.run(["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", url], capture_output=True,
                             text=True, timeout=seconds + 60)
        elapsed = time.monotonic() - started
        after, rcv1 = _task_stats(server.pid), pid_cpu_seconds(ctx.receiver_pid)
        names = _thread_names(server, names_file)
        load = parse_wrk(run.stdout)
        requests = load["requests"] or 0
        if not requests:
            return {"error": f"wrk failed: {run.stdout[-300:]} {run.stderr[-300:]}"}
        threads: dict[str, dict] = {}
        for tid, end in after.items():
            start = before.get(tid, dict.fromkeys(end, 0))
            label = names.get(tid, "unnamed (native)")
            row = threads.setdefault(label, {"cpu_us": 0.0, "wait_us": 0.0, "vol": 0.0, "invol": 0.0, "vol_per_s": 0.0})
            row["cpu_us"] += (end["cpu_ns"] - start["cpu_ns"]) / 1e3 / requests
            row["wait_us"] += (end["wait_ns"] - start["wait_ns"]) / 1e3 / requests
            row["vol"] += (end["vol"] - start["vol"]) / requests
            row["invol"] += (end["invol"] - start["invol"]) / requests
            row["vol_per_s"] += (end["vol"] - start["vol"]) / elapsed
        result = {"requests_per_s": load["requests_per_s"], "p99_ms": load["p99_ms"], "threads": threads,
                  "receiver_cpu_us": ((rcv1 or 0) - (rcv0 or 0)) * 1e6 / requests}
        if paced_s:
            result.update(_paced_window(url, {"paced_s": paced_s, "paced_connections": 4, "pace_ms": 16}))
        return result
    finally:
        stop_server(server)
        names_file.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
        names_file.parent.rmdir()


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(rounds: dict[str, list[dict]]) -> dict[str, dict]:
    summary = {}
    for spec, results in rounds.items():
        ok = [r for r in results if "error" not in r]
        if not ok:
            summary[spec] = {"error": results[0].get("error") if results else "no run"}
            continue
        labels = sorted({label for r in ok for label in r["threads"]})
        summary[spec] = {
            key: _median([r.get(key) for r in ok])
            for key in ("requests_per_s", "p99_ms", "paced_p99_ms", "receiver_cpu_us")}
        summary[spec]["threads"] = {
            label: {k: _median([r["threads"][label][k] for r in ok if label in r["threads"]])
                    for k in ("cpu_us", "wait_us", "vol", "invol", "vol_per_s")} for label in labels}
    return summary


def render(summary: dict[str, dict], baseline: str) -> str:
    base = summary.get(baseline, {}).get("requests_per_s")
    lines = ["| spec | req/s (vs first) | p99 ms | paced p99 ms | thread | CPU us/req | runnable-waiting us/req "
             "| vol. sw./req (/s) | invol. sw./req |", "|---|---|---|---|---|---|---|---|---|"]
    for spec, entry in summary.items():
        if "error" in entry:
            lines.append(f"| {spec} | error: {entry['error']} |")
            continue
        ratio = f" ({entry['requests_per_s'] / base:.3f}x)" if base else ""
        head = (f"| {spec} | {entry['requests_per_s']:.0f}{ratio} | {entry['p99_ms'] or 0:.1f} | "
                f"{entry['paced_p99_ms'] or 0:.1f} |")
        busy = sorted(entry["threads"].items(), key=lambda kv: -(kv[1]["cpu_us"] or 0))
        for i, (label, row) in enumerate(busy):
            if i and (row["cpu_us"] or 0) < 1 and (row["vol"] or 0) < 0.01:
                continue
            lead = head if i == 0 else "| | | | |"
            lines.append(f"{lead} {label} | {row['cpu_us']:.0f} | {row['wait_us']:.0f} | "
                         f"{row['vol']:.3f} ({row['vol_per_s']:.0f}) | {row['invol']:.3f} |")
        lines.append(f"| | | | | receiver process | {entry['receiver_cpu_us']:.0f} | | | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.served_threads", description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="+", help="variant[:ENV=VALUE,...]; the first is the ratios' baseline")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--paced", type=int, default=8, help="seconds of the fixed-rate window (0: none)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    receiver = Receiver(out)
    url = receiver.start()
    ctx = Context(quick=False, rounds=args.rounds, receiver=url, logs=out,
                  receiver_pid=receiver.process.pid if receiver.process else None)
    rounds: dict[str, list[dict]] = {spec: [] for spec in args.specs}
    try:
        for r in range(args.rounds):
            shift = r % len(args.specs)  # each round starts one later: no spec always follows the same one
            for spec in args.specs[shift:] + args.specs[:shift]:
                result = measure(ctx, spec, args.seconds, args.paced, out)
                ctx.say(f"round {r + 1} {spec}: {result.get('requests_per_s') or result.get('error')}")
                rounds[spec].append(result)
    finally:
        receiver.stop()
    summary = summarise(rounds)
    (out / "served_threads.json").write_text(json.dumps({"rounds": rounds, "summary": summary}, indent=2))
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min)")
    print(render(summary, args.specs[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
