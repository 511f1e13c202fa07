"""The benchmark harness (benchmarks/): its statistics on fixed inputs, wrk parsing, the round
rotation, the OTLP receiver, and one quick end-to-end run of ``python -m benchmarks``."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import stats
from benchmarks.suite import Context, interleave, parse_wrk, section

ROOT = Path(__file__).resolve().parents[2]


# --- statistics -----------------------------------------------------------------------------


def test_median_of_odd_and_even_counts():
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError):
        stats.median([])


def test_summary_ignores_missing_and_non_finite_values():
    assert stats.summary([2.0, None, 4.0, float("nan"), 3.0]) == {"median": 3.0, "min": 2.0, "max": 4.0, "n": 3}
    assert stats.summary([None]) is None


def test_ratios_are_paired_by_round():
    # Round 2 of the baseline failed: that round has no ratio; a zero baseline gives none either.
    assert stats.paired_ratios([10.0, 20.0, 30.0, 8.0], [5.0, None, 10.0, 0.0]) == [2.0, 3.0]


def test_compare_uses_per_round_ratios_not_a_ratio_of_medians():
    results = {
        "plain": [{"t": 100.0}, {"t": 200.0}, {"t": 100.0}],
        "slow": [{"t": 300.0}, {"t": 400.0}, {"t": 250.0}],
        "other": [{"t": 50.0}, None, {"t": 60.0}],
        "ref": [{"t": 25.0}, {"t": 25.0}, {"t": 20.0}],
    }
    out = stats.compare(results, "t", "plain", baselines={"other": "ref"})
    assert out["plain"]["ratio"] == {"median": 1.0, "min": 1.0, "max": 1.0, "n": 3}
    assert out["slow"]["value"] == {"median": 300.0, "min": 250.0, "max": 400.0, "n": 3}
    # per round 3.0, 2.0, 2.5 -> median 2.5 (the ratio of the medians would be 3.0)
    assert out["slow"]["ratio"] == {"median": 2.5, "min": 2.0, "max": 3.0, "n": 3}
    assert out["other"]["baseline"] == "ref"
    assert out["other"]["ratio"] == {"median": 2.5, "min": 2.0, "max": 3.0, "n": 2}


def test_difference_pairs_rounds():
    results = {"plain": [{"m": 40.0}, {"m": 42.0}], "big": [{"m": 48.0}, {"m": 49.0}]}
    out = stats.difference(results, "m", "plain")
    assert out["big"]["delta"] == {"median": 7.5, "min": 7.0, "max": 8.0, "n": 2}


def test_formatting():
    assert stats.fmt(123.456) == "123"
    assert stats.fmt(1.23456) == "1.23"
    assert stats.fmt(0.012345) == "0.0123"
    assert stats.fmt(None) == "-"
    assert stats.fmt_summary({"median": 2.5, "min": 2.0, "max": 3.0, "n": 3}, "x") == "2.50x [2.00-3.00]"
    assert stats.fmt_summary({"median": 2.5, "min": 2.5, "max": 2.5, "n": 1}, "x") == "2.50x"


def test_section_separates_skipped_and_failed_variants():
    results = {
        "plain": [{"t": 10.0}, {"t": 12.0}],
        "x": [{"t": 20.0}, {"error": "boom"}],
        "gone": [{"unavailable": "not installed"}, {"unavailable": "not installed"}],
    }
    out = section("d", "t", "µs", "plain", results, {})
    assert out["skipped"] == {"gone": "not installed"}
    assert out["errors"] == {"x": ["boom"]}
    assert out["variants"]["x"]["ratio"]["median"] == 2.0
    assert "gone" not in out["variants"]


# --- wrk and the rounds ---------------------------------------------------------------------

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/items/42
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.01ms    1.20ms  41.30ms   93.00%
    Req/Sec     3.21k   210.00     3.50k    80.00%
  Latency Distribution
     50%    4.80ms
     75%    5.10ms
     90%    5.90ms
     99%    1.20s
  32100 requests in 10.00s, 4.50MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   3209.87
Transfer/sec:    460.12KB
"""


def test_parse_wrk():
    out = parse_wrk(WRK_OUTPUT)
    assert out["requests_per_s"] == pytest.approx(3209.87)
    assert out["requests"] == 32100
    assert out["non_2xx"] == 3
    assert out["latency_ms"]["p50"] == pytest.approx(4.8)
    assert out["p99_ms"] == pytest.approx(1200.0)


def test_rounds_rotate_the_order_and_skip_unavailable_variants(tmp_path):
    ctx = Context(quick=True, rounds=3, receiver="http://127.0.0.1:9", logs=tmp_path, verbose=False)
    calls = []

    def measure(variant, r):
        calls.append((r, variant))
        return {"unavailable": "no"} if variant == "c" else {"t": 1.0}

    results = interleave(ctx, "t", ["a", "b", "c"], 3, measure)
    assert calls == [(0, "a"), (0, "b"), (0, "c"), (1, "b"), (1, "a"), (2, "a"), (2, "b")]
    assert len(results["c"]) == 3 and all("unavailable" in r for r in results["c"])


# --- the receiver ---------------------------------------------------------------------------


def _post(conn, path, body):
    conn.request("POST", path, body=body, headers={"Content-Type": "application/x-protobuf"})
    response = conn.getresponse()
    return response.status, response.read(), response.getheader("Content-Type")


def test_receiver_accepts_discards_and_counts():
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    from benchmarks.receiver import serve

    server = serve(0)
    try:
        port = server.server_address[1]
        traces = ExportTraceServiceRequest()
        scope = traces.resource_spans.add().scope_spans.add()
        for i in range(3):
            scope.spans.add(name=f"s{i}", trace_id=b"\x01" * 16, span_id=bytes([i + 1]) * 8)

        def metrics_body(count):
            request = ExportMetricsServiceRequest()
            metric = request.resource_metrics.add().scope_metrics.add().metrics.add(
                name="http.server.request.duration")
            metric.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
            metric.histogram.data_points.add(count=count, start_time_unix_nano=1)
            return request.SerializeToString()

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        # keep-alive: every request goes over the one connection
        assert _post(conn, "/v1/traces", traces.SerializeToString()) == (200, b"", "application/x-protobuf")
        assert _post(conn, "/v1/metrics", metrics_body(5))[0] == 200
        assert _post(conn, "/v1/metrics", metrics_body(9))[0] == 200  # cumulative: latest wins
        assert _post(conn, "/v1/logs", b"")[0] == 200
        assert _post(conn, "/v1/other", b"x")[0] == 404
        deadline = time.monotonic() + 5
        while True:  # decoding happens after the reply
            conn.request("GET", "/stats")
            snapshot = json.loads(conn.getresponse().read())
            if snapshot["signals"]["metrics"]["requests"] == 2 or time.monotonic() > deadline:
                break
        assert snapshot["signals"]["traces"]["items"] == 3
        assert snapshot["signals"]["traces"]["requests"] == 1
        assert snapshot["histogram_counts"] == {"http.server.request.duration": 9}
        assert snapshot["other_requests"] == 1
        assert _post(conn, "/reset", b"")[0] == 200
        conn.request("GET", "/stats")
        assert json.loads(conn.getresponse().read())["signals"]["traces"]["items"] == 0
        conn.close()
    finally:
        server.shutdown()


# --- end to end -----------------------------------------------------------------------------


def test_quick_run_end_to_end(tmp_path):
    out = tmp_path / "summary.json"
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "metric_api", "--quiet", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert time.monotonic() - started < 60
    summary = json.loads(out.read_text())
    assert summary["quick"] is True
    assert summary["machine"]["logical_cpus"] and summary["machine"]["python"]
    assert summary["machine"]["packages"]["opentelemetry-sdk"]
    bench = summary["benchmarks"]["metric_api"]
    assert bench["baseline"] == "prom_counter"
    assert bench["variants"]["prom_counter"]["ratio"]["median"] == 1.0
    assert bench["variants"]["otel_counter"]["ratio"]["median"] > 0
    assert "metric_api" in run.stdout and "ratio vs prom_counter" in run.stdout


def test_log_encoder_ab_times_both_encoders_on_the_same_bytes():
    from benchmarks.log_encoder_ab import run
    from vitalyst_otel.export.protobuf.logs import encode_log_record

    # The harness alone (the git baseline is not needed for it); run() asserts equal bytes.
    results = run(rounds=1, baseline=lambda record: encode_log_record(record))
    assert set(results) == {"line", "audit", "access"}
    assert all(figures["baseline"] > 0 and figures["now"] > 0 for figures in results.values())
    with pytest.raises(AssertionError):  # an encoder that writes other bytes is no baseline
        run(rounds=1, baseline=lambda record: b"")


def test_profile_buckets_tell_the_span_queue_from_the_log_record_queue():
    from benchmarks.profile_breakdown import bucket

    middleware = "ServerTelemetryMiddleware.__call__ (vitalyst_otel/http/server.py:270)"
    span_put = [middleware, "Span.end (opentelemetry/sdk/trace/__init__.py:972)",
                "QueueSpanProcessor.on_end (vitalyst_otel/export/span_processor.py:24)",
                "BatchQueue.put (vitalyst_otel/export/batch.py:80)", "BatchQueue._put_sized (vitalyst_otel/export/batch.py:91)"]
    log_put = ["Logger.info (logging/__init__.py:1489)", "OtlpBridge.emit (vitalyst_otel/logs/bridge.py:60)",
               "BatchQueue._put_sized (vitalyst_otel/export/batch.py:91)"]
    own_span_code = [middleware, "ServerSpans.add (vitalyst_otel/http/server_span.py:140)",
                     "_clean (vitalyst_otel/http/server_span.py:168)"]
    exemplar = [middleware, "BoundAttributes.record (vitalyst_otel/http/bound_histogram.py:86)",
                "get_current_span (opentelemetry/trace/propagation/__init__.py:40)"]
    assert bucket(span_put) == "span (start, attributes, end, queue)"
    assert bucket(["BatchQueue._put_sized (vitalyst_otel/export/batch.py:91)"]) == "access line: OTLP log record"
    assert bucket(log_put) == "access line: OTLP log record"
    assert bucket(own_span_code) == "span (start, attributes, end, queue)"
    assert bucket(exemplar) == "histogram record"
    assert bucket([middleware]) == "middleware (own code)"
