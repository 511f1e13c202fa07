"""``python -m vitalyst_otel.demo``: serve the demo knowledge graph, instrumented.

    --embedded      no servers needed: spans on stderr, Prometheus metrics at /metrics, JSON logs
                    on stdout (OTEL_* variables still win where set)
    --load SECONDS  also drive a mixed load against it, print what each signal produced, exit
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

EMBEDDED_DEFAULTS = {
    "OTEL_TRACES_EXPORTER": "console",
    "OTEL_METRICS_EXPORTER": "prometheus",
    "OTEL_LOGS_EXPORTER": "none",
}
SERVICE_DEFAULTS = {
    "OTEL_SERVICE_NAME": "knowledge-graph",
    "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=vitalyst",
    # The load driver's httpx calls are not the service's: no client spans for them (configure()
    # loads installed instrumentors as the launcher does).
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "httpx",
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m vitalyst_otel.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--load", type=float, default=0.0, metavar="SECONDS",
                        help="drive a mixed load for SECONDS, print a summary and exit (0: serve until stopped)")
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second of the load")
    parser.add_argument("--embedded", action="store_true",
                        help="export to the console and /metrics instead of an OTLP collector")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace, app) -> int:
    import uvicorn

    config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    if not args.load:
        await server.serve()
        return 0
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            return 1
        await asyncio.sleep(0.05)
    from vitalyst_otel.demo.load import drive
    from vitalyst_otel.demo.summary import collect

    base = f"http://{args.host}:{args.port}"
    results = await drive(base, args.load, rate=args.rate)
    args.summary = await collect(base, results)
    server.should_exit = True
    await task
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    for name, value in {**SERVICE_DEFAULTS, **(EMBEDDED_DEFAULTS if args.embedded else {})}.items():
        os.environ.setdefault(name, value)

    import vitalyst_otel

    if vitalyst_otel.current() is None:  # not already configured by opentelemetry-instrument
        vitalyst_otel.configure()
    from vitalyst_otel.demo.app import app

    vitalyst_otel.instrument_app(app)
    logging.getLogger("vitalyst.demo").info(
        "serving the demo knowledge graph", extra={"url": f"http://{args.host}:{args.port}"})
    args.summary = ""
    try:
        code = asyncio.run(serve(args, app))
    except KeyboardInterrupt:
        code = 0
    vitalyst_otel.shutdown()
    if args.summary:
        print(args.summary, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
