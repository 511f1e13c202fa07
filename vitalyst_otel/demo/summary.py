"""What one demo run produced, per signal, printed at the end of ``--load``."""

from __future__ import annotations

import sys
from collections import Counter

import httpx

import vitalyst_otel

INTERESTING = ("http_server_request_duration_seconds_count", "http_server_active_requests",
               "vitalyst_", "process_cpu_time", "process_memory_usage")


async def summarize(base_url: str, results: Counter) -> None:
    out = sys.stderr
    handle = vitalyst_otel.current()
    total = sum(results.values())
    print("\n=== demo summary " + "=" * 52, file=out)
    print(f"requests sent: {total}", file=out)
    for (operation, status), count in sorted(results.items(), key=lambda item: str(item[0])):
        print(f"  {operation:<18} {status!s:<6} {count}", file=out)
    if handle is not None:
        settings = handle.settings
        print(f"traces  -> {', '.join(settings.traces_exporters) or 'none'}; "
              f"metrics -> {', '.join(settings.metrics_exporters) or 'none'}; "
              f"logs -> stdout JSON + {', '.join(settings.logs_exporters) or 'no OTLP'}", file=out)
        for signal, status in sorted(handle.statuses.items()):
            snap = status.snapshot()
            print(f"  {signal}: {'ok' if snap.healthy else 'FAILING'} ({snap.endpoint}), "
                  f"failed batches {snap.failed_batches}", file=out)
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
        response = await client.get("/metrics")
    if response.status_code == 200:
        lines = [line for line in response.text.splitlines()
                 if line.startswith(INTERESTING) and not line.startswith("#")]
        print(f"metrics at {base_url}/metrics: {len(response.text.splitlines())} lines; a few:", file=out)
        for line in lines[:12]:
            print("  " + line, file=out)
    print("=" * 70, file=out)
