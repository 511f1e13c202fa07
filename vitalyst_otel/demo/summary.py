"""What one demo run produced, per signal, printed at the end of ``--load``."""

from __future__ import annotations

import json
from collections import Counter

import httpx

import vitalyst_otel

FAMILIES = ("http_server_", "vitalyst_", "process_", "cpython_gc_")


async def collect(base_url: str, results: Counter) -> str:
    """The summary text, gathered while the server still runs."""
    lines = ["", "=== demo summary " + "=" * 52, f"requests sent: {sum(results.values())}"]
    for (operation, status), count in sorted(results.items(), key=lambda item: str(item[0])):
        lines.append(f"  {operation:<18} {status!s:<6} {count}")
    handle = vitalyst_otel.current()
    if handle is not None:
        s = handle.settings
        lines.append(f"traces  -> {', '.join(s.traces_exporter) or 'none'} (one JSON line per span on stderr)"
                     if s.traces_exporter == ("console",) else f"traces  -> {', '.join(s.traces_exporter) or 'none'}")
        lines.append(f"logs    -> JSON lines on stdout (audit, security, errors, access) + "
                     f"OTLP: {', '.join(s.logs_exporter) or 'none'}")
        for signal, status in sorted(handle.statuses.items()):
            snap = status.snapshot()
            lines.append(f"  export of {signal}: {'ok' if snap.healthy else 'FAILING'} to {snap.endpoint}")
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
        metrics = await client.get("/metrics")
        ready = await client.get("/health/ready")
    if metrics.status_code == 200:
        samples: dict[str, str] = {}
        for line in metrics.text.splitlines():
            if line.startswith(FAMILIES):
                family = line.split("{")[0].split(" ")[0]
                for suffix in ("_bucket", "_sum", "_count", "_created"):
                    family = family.removesuffix(suffix)
                samples.setdefault(family, line)
        lines.append(f"metrics -> {base_url}/metrics: {len(samples)} families, one sample each:")
        lines.extend(f"  {sample[:160]}" for _, sample in sorted(samples.items()))
    lines.append(f"health  -> /health/ready {ready.status_code}: {json.dumps(ready.json()['checks'])[:300]}")
    lines.append("=" * 70)
    return "\n".join(lines)
