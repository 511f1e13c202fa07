"""The OTLP log record encoder now against its baseline (vitalyst_otel/export/protobuf/logs.py as
it was at commit e9f4eb2, before its issue-16 pass, read from git), in one process, interleaved
round by round: CPU time (process_time) per record, minimum over rounds.

``python -m benchmarks.log_encoder_ab [--rounds N] [--commit C]`` encodes three kinds of the bridge's records
(an ordinary line inside a span, one ``audit.record``, one access line with a distinct path each)
in batches of 512, checks that both encoders write the same bytes, and prints one line per kind.
"""

from __future__ import annotations

import argparse
import subprocess
import time
import types
from collections.abc import Callable
from pathlib import Path

BASELINE_COMMIT = "e9f4eb2"
BASELINE_PATH = "vitalyst_otel/export/protobuf/logs.py"


def baseline_encoder(commit: str = BASELINE_COMMIT) -> Callable:
    """``encode_log_record`` of the module as it was at ``commit`` (from git; this checkout's
    history must hold it)."""
    source = subprocess.run(["git", "show", f"{commit}:{BASELINE_PATH}"], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parent).stdout
    module = types.ModuleType("baseline_log_encoder")
    exec(compile(source, f"{commit}:{BASELINE_PATH}", "exec"), module.__dict__)  # noqa: S102 - our own past code
    return module.encode_log_record


def _records() -> dict[str, list]:
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import TraceFlags

    from vitalyst_otel.logs.bridge import BridgeRecord

    resource, scope = Resource.create({"service.name": "bench"}), InstrumentationScope("bench.app")

    def record(body: str, attributes: dict) -> BridgeRecord:
        return BridgeRecord(1764614400123456789, 1764614400123499999, SeverityNumber.INFO, "INFO", body, attributes,
                            0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, TraceFlags(1), resource, scope)

    audit = {"log.type": "audit", "actor": "alice", "action": "node.create", "resource": "node/42",
             "outcome": "success", "request_id": "7818530d35585d4b", "details.node_type": "concept"}
    return {
        "line": [record("item abc fetched in 12 ms", {}) for _ in range(512)],
        "audit": [record("audit node.create node/42 success", dict(audit)) for _ in range(512)],
        "access": [record(f'127.0.0.1:50000 - "GET /items/{i} HTTP/1.1" 200',
                          {"http.request.method": "GET", "url.path": f"/items/{i}", "http.response.status_code": 200,
                           "client.address": "127.0.0.1", "network.protocol.version": "1.1"}) for i in range(512)],
    }


def run(rounds: int = 30, baseline: Callable | None = None) -> dict[str, dict[str, float]]:
    from vitalyst_otel.export.protobuf import logs

    encoders = {"baseline": baseline or baseline_encoder(), "now": logs.encode_log_record}
    results = {}
    for kind, records in _records().items():
        assert [encoders["baseline"](r) for r in records] == [logs.encode_log_record(r) for r in records], kind
        best = dict.fromkeys(encoders, float("inf"))
        for r in range(rounds):
            for name in (("baseline", "now") if r % 2 else ("now", "baseline")):
                encode = encoders[name]
                start = time.process_time()
                for _ in range(4):
                    for item in records:
                        encode(item)
                best[name] = min(best[name], (time.process_time() - start) / (4 * len(records)) * 1e6)
        results[kind] = {**best, "ratio": best["now"] / best["baseline"]}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--commit", default=BASELINE_COMMIT, help="the baseline's commit")
    args = parser.parse_args()
    for kind, figures in run(args.rounds, baseline_encoder(args.commit)).items():
        print(f"{kind:7} encode_log_record µs/record: baseline {figures['baseline']:.2f}  now {figures['now']:.2f}"
              f"  now/baseline {figures['ratio']:.2f}")


if __name__ == "__main__":
    main()
