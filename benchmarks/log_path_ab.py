"""The log path of two package trees, measured alternately with one harness (this one).

    python -m benchmarks.log_path_ab --base /tmp/base-tree [--processes 3] [--blocks 40] [--lines 500]

The base tree is another checkout of the repository (``git worktree add /tmp/base-tree main``).
Each round runs every variant once per tree, base first, each in a fresh process that imports
``vitalyst_otel`` from its tree and the variants (:mod:`benchmarks.log_variants`) from a copy of
this tree's ``benchmarks``, so only the package differs. The OTLP receiver
(:mod:`benchmarks.receiver`, not decoding) runs in its own process, so its CPU is not counted.
A process writes ``--blocks`` blocks of ``--lines`` lines inside one active span, flushing the
log queues after each block (every record is encoded and sent inside the block), and reports
CPU per line: the whole process (``process_time``, export worker included) and the logging
thread (``thread_time``), each the minimum over the blocks. Printed: the minimum over the
processes of each tree, and each variant's ratio to ``plain`` of the same tree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ("plain", "ours_configure", "ours_audit", "ours_access_line")
HERE = Path(__file__).resolve().parent


def child(variant: str, blocks: int, lines: int) -> dict:
    from benchmarks.child import _active_span
    from benchmarks.log_variants import SETUPS, Sinks

    recorder = SETUPS[variant](Sinks())
    process, thread = [], []
    with _active_span():
        for _ in range(lines):
            recorder.one()
        recorder.flush()
        for _ in range(blocks):
            p0, t0 = time.process_time(), time.thread_time()
            for _ in range(lines):
                recorder.one()
            recorder.flush()
            process.append((time.process_time() - p0) / lines * 1e6)
            thread.append((time.thread_time() - t0) / lines * 1e6)
    recorder.stop()
    import vitalyst_otel

    return {"process_us": min(process), "thread_us": min(thread), "package": vitalyst_otel.__file__}


def _receiver() -> tuple[subprocess.Popen, str]:
    ready = tempfile.mktemp(prefix="log-ab-port-")
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.receiver", "--no-decode", "--ready-file", ready],
                            cwd=HERE.parent)
    deadline = time.monotonic() + 30
    while not os.path.exists(ready):
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the receiver did not start")
        time.sleep(0.05)
    port = Path(ready).read_text()
    os.unlink(ready)
    return proc, f"http://127.0.0.1:{port}"


def _run(harness: str, tree: str, variant: str, endpoint: str, blocks: int, lines: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VITALYST_"))}
    env.update({"PYTHONPATH": f"{harness}{os.pathsep}{tree}", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "OTEL_SERVICE_NAME": "bench", "OTEL_METRIC_EXPORT_INTERVAL": "60000"})
    out = subprocess.run([sys.executable, "-m", "benchmarks.log_path_ab", "--child", variant, "--blocks", str(blocks),
                          "--lines", str(lines)], capture_output=True, text=True, env=env, cwd=harness, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="the other tree (a checkout of the repository)")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = child(args.child, args.blocks, args.lines)
        sys.__stdout__.write(json.dumps(result) + "\n")  # the variants point sys.stdout at /dev/null
        return
    variants = args.variants.split(",")
    trees = {"base": str(Path(args.base).resolve()), "this": str(HERE.parent)}
    harness = tempfile.mkdtemp(prefix="log-ab-harness-")
    shutil.copytree(HERE, Path(harness) / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    receiver, endpoint = _receiver()
    best: dict[tuple[str, str], dict] = {}
    try:
        for round_ in range(args.processes):
            for name, tree in trees.items():
                for variant in variants:
                    result = _run(harness, tree, variant, endpoint, args.blocks, args.lines)
                    assert result["package"].startswith(tree), result["package"]
                    print(f"round {round_ + 1} {name:4} {variant:18} process {result['process_us']:6.1f} "
                          f"thread {result['thread_us']:6.1f} us/line", flush=True)
                    key = (name, variant)
                    if key in best:
                        result = {k: min(best[key][k], result[k]) for k in ("process_us", "thread_us")}
                    best[key] = result
    finally:
        receiver.kill()
        shutil.rmtree(harness, ignore_errors=True)
    print("\n| variant | base µs | ratio | this µs | ratio | base thread µs | this thread µs |")
    print("|---|---|---|---|---|---|---|")
    for variant in variants:
        row = [variant]
        for name in trees:
            plain = best.get((name, "plain"))
            us = best[(name, variant)]["process_us"]
            row += [f"{us:.1f}", f"{us / plain['process_us']:.2f}x" if plain else "-"]
        row += [f"{best[(name, variant)]['thread_us']:.1f}" for name in trees]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
