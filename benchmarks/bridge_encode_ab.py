"""The OTLP log bridge with its records encoded on the caller's thread against records encoded
by the export worker, interleaved in one process.

    python -m benchmarks.bridge_encode_ab [--rounds 30] [--lines 1000] [--extra 0]

Two bridges (``OtlpLogHandler(encode=True)`` and ``encode=False``), each on its own logger with
its own byte-bounded :class:`~vitalyst_otel.export.batch.BatchQueue`, whose exporter encodes the
batch into an ExportLogsServiceRequest (``encode_logs``) and sends nothing, so only the
bridge's and the encoder's work is measured. Inside one active span, each round writes
``--lines`` lines to each, then flushes its queue on this thread. Printed per way: the thread
CPU per line of the log calls, of the flush (the worker's part) and of both, minimum over the
rounds.
"""

from __future__ import annotations

import argparse
import logging
import time


class _EncodeOnly:
    def export(self, batch):
        from vitalyst_otel.export.protobuf import encode_logs

        encode_logs(batch)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--extra", type=int, default=0, help="extra fields per line (attributes)")
    args = parser.parse_args(argv)
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from vitalyst_otel.export.batch import BatchQueue
    from vitalyst_otel.export.sizes import log_record_size
    from vitalyst_otel.logs.bridge import OtlpLogHandler
    from vitalyst_otel.redaction import Redactor

    trace.set_tracer_provider(TracerProvider())
    extra = {f"field_{i}": f"value {i}" if i % 2 else i for i in range(args.extra)}
    ways = {}
    for encode in (True, False):
        queue = BatchQueue([_EncodeOnly()], "logs", max_queue=10 * args.lines, max_batch=10 * args.lines,
                           delay_s=3600, max_bytes=1 << 30, size_of=log_record_size)
        logger = logging.getLogger(f"bench.encode.{encode}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.addHandler(OtlpLogHandler(queue, None, Redactor(("password",)), encode=encode))
        ways["caller" if encode else "worker"] = (logger, queue, [])
    with trace.get_tracer("bench").start_as_current_span("request"):
        for _ in range(args.rounds):
            for logger, queue, times in ways.values():
                start = time.thread_time()
                for _ in range(args.lines):
                    logger.info("item %s fetched in %d ms", "abc", 12, extra=extra)
                logged = time.thread_time()
                queue.force_flush()
                times.append(((logged - start) / args.lines * 1e6, (time.thread_time() - logged) / args.lines * 1e6))
    print("| records encoded on | log call µs | flush µs | both µs |")
    print("|---|---|---|---|")
    for name, (_, _, times) in ways.items():
        print(f"| {name} | {min(a for a, _ in times):.2f} | {min(b for _, b in times):.2f} | "
              f"{min(a + b for a, b in times):.2f} |")


if __name__ == "__main__":
    main()
