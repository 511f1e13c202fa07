"""How long a request thread waits for the GIL while an export worker works, with and without
the worker's GIL slices (vitalyst_otel/export/gil_slices.py).

    python -m benchmarks.gil_wait [--seconds 4] [--rounds 3] [--slices SLICE_MS/PAUSE_MS,...]

The "request thread" does what an event loop does between requests: it blocks in ``select`` for
1 ms (the GIL released), then needs the GIL back; how late it gets it is its wake-up delay. A
worker thread meanwhile redacts and encodes batches of 512 realistic server spans
(benchmarks/encoder_bench.py's) the way the span export worker does (``clean_span`` then the
OTLP encoder), pausing 100 ms between batches like a worker that sends once per batch. Variants,
each in the same process one after the other, interleaved over rounds: ``idle`` (no worker),
``unsliced`` (each batch in one go), ``sliced`` (through ``gil_slices.yielding``, the default),
and, with ``--slices 2/0.1,0.5/0``, ``sliced SLICE/PAUSE`` (slice and pause in ms instead of the
defaults; a pause of 0 is ``time.sleep(0)``).
Printed per variant: wake-up delay p50 / p99 / max in ms (median over rounds), and the worker's
CPU time per batch.
"""

from __future__ import annotations

import argparse
import select
import statistics
import threading
import time


def _worker(batches, slice_s: float | None, stop: threading.Event, cpu: list[float]) -> None:
    from vitalyst_otel.export import protobuf
    from vitalyst_otel.export.gil_slices import yielding
    from vitalyst_otel.redaction import Redactor
    from vitalyst_otel.redaction.spans import clean_span

    redactor = Redactor()
    index = 0
    while not stop.is_set():
        batch = batches[index % len(batches)]
        index += 1
        started = time.thread_time()
        if slice_s is None:
            cleaned = [clean_span(redactor, span) for span in batch]
            protobuf.encode_spans(cleaned)
        else:
            cleaned = [clean_span(redactor, span) for span in yielding(batch, slice_s)]
            protobuf.encode_spans(yielding(cleaned, slice_s))
        cpu.append(time.thread_time() - started)
        stop.wait(0.1)


def measure(variant: str, batches, seconds: float) -> dict:
    from vitalyst_otel.export import gil_slices

    stop = threading.Event()
    cpu: list[float] = []
    worker = None
    pause_s = gil_slices.PAUSE_S
    if variant != "idle":
        slice_s = None if variant == "unsliced" else gil_slices.SLICE_S
        if variant.startswith("sliced "):
            slice_ms, pause_ms = variant.split(" ")[1].split("/")
            slice_s, gil_slices.PAUSE_S = float(slice_ms) / 1e3, float(pause_ms) / 1e3
        worker = threading.Thread(target=_worker, args=(batches, slice_s, stop, cpu), daemon=True)
        worker.start()
    delays = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        before = time.perf_counter()
        select.select([], [], [], 0.001)
        delays.append(time.perf_counter() - before - 0.001)
    stop.set()
    if worker is not None:
        worker.join()
    gil_slices.PAUSE_S = pause_s
    delays.sort()
    return {"p50_ms": delays[len(delays) // 2] * 1e3, "p99_ms": delays[int(len(delays) * 0.99)] * 1e3,
            "max_ms": delays[-1] * 1e3, "batch_cpu_ms": statistics.median(cpu) * 1e3 if cpu else 0.0}


def run(seconds: float = 4.0, rounds: int = 3, slices: tuple[str, ...] = ()) -> dict:
    from benchmarks.encoder_bench import make_spans

    batches = make_spans()
    variants = ["idle", "unsliced", "sliced", *(f"sliced {pair}" for pair in slices)]
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(rounds):
        shift = r % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            results[variant].append(measure(variant, batches, seconds))
    return {v: {key: statistics.median(row[key] for row in rows) for key in rows[0]} for v, rows in results.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slices", default="", help="more slice/pause pairs in ms, e.g. 2/0.1,0.5/0")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.rounds, tuple(pair for pair in args.slices.split(",") if pair))
    print(f"{'variant':16} {'wake p50 ms':>12} {'wake p99 ms':>12} {'wake max ms':>12} {'batch CPU ms':>13}")
    for variant, row in result.items():
        print(f"{variant:16} {row['p50_ms']:12.3f} {row['p99_ms']:12.3f} {row['max_ms']:12.3f} {row['batch_cpu_ms']:13.2f}")


if __name__ == "__main__":
    main()
