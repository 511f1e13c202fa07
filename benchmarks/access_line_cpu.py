"""CPU per access line: the direct path (vitalyst_otel/logs/access_line.py) against the logging
path it replaces, in the same process, blocks interleaved.

    python -m benchmarks.access_line_cpu [--lines 500] [--blocks 100]

``configure()`` with its defaults (JSON line to stdout, here /dev/null; the OTLP bridge exporting
to an in-process receiver, benchmarks/receiver.py, not decoding), inside an active span and a
request context with a route, as the middleware leaves them when uvicorn writes the line. Each
block writes ``--lines`` access lines one way, then the export queue is flushed (nothing is
dropped). ``direct`` is ``logger.info`` as uvicorn calls it; ``logging`` is
``logging.Logger.info`` on the same logger, the path every call took before.
Printed per path: the calling thread's CPU (``thread_time``) per line, minimum and median over
the blocks, and the process's (``process_time``: all threads, the export worker and the receiver
included) per line, median.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time

from benchmarks.log_variants import ACCESS_ARGS, ACCESS_FORMAT


def _setup():
    from benchmarks.receiver import serve

    server = serve(0, decode=False)
    os.environ.update({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
                       "OTEL_LOGS_EXPORTER": "otlp", "OTEL_TRACES_EXPORTER": "none",
                       "OTEL_METRICS_EXPORTER": "none", "VITALYST_RUNTIME_METRICS": "false"})
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    import vitalyst_otel

    return vitalyst_otel.configure(service_name="bench")


def run(lines: int, blocks: int) -> dict:
    from opentelemetry import trace

    from vitalyst_otel.http.request_context import RequestFacts, current_request

    handle = _setup()
    logger = logging.getLogger("uvicorn.access")
    ways = {"direct": logger.info, "logging": lambda *a: logging.Logger.info(logger, *a)}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    tracer = trace.get_tracer("bench")
    token = current_request.set(RequestFacts(method="GET", route="/items/{item_id}"))
    try:
        with tracer.start_as_current_span("GET /items/{item_id}"):
            for block in range(blocks + 2):  # the first two warm up
                for name, write in ways.items():
                    thread, process = time.thread_time(), time.process_time()
                    for _ in range(lines):
                        write(ACCESS_FORMAT, *ACCESS_ARGS)
                    handle.force_flush(10.0)
                    if block >= 2:
                        samples[name].append(((time.thread_time() - thread) / lines * 1e6,
                                              (time.process_time() - process) / lines * 1e6))
    finally:
        current_request.reset(token)
        handle.shutdown(10.0)
    out = {}
    for name, values in samples.items():
        caller = [v[0] for v in values]
        out[name] = {"caller_min": min(caller), "caller_median": statistics.median(caller),
                     "process_median": statistics.median(v[1] for v in values)}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--blocks", type=int, default=100)
    args = parser.parse_args(argv)
    result = run(args.lines, args.blocks)
    out = sys.__stdout__
    out.write("path      caller µs/line min  median  process µs/line median\n")
    for name, entry in result.items():
        out.write(f"{name:<9} {entry['caller_min']:>18.1f} {entry['caller_median']:>7.1f} "
                  f"{entry['process_median']:>23.1f}\n")
    direct, old = result["direct"], result["logging"]
    out.write(f"direct / logging: caller {direct['caller_median'] / old['caller_median']:.2f}x, "
              f"process {direct['process_median'] / old['process_median']:.2f}x\n")


if __name__ == "__main__":
    main()
