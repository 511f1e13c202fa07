"""The access line written directly (vitalyst_otel/logs/access_line.py) against the logging path.

Each case runs ``configure()`` in a fresh process (the in-memory capture, the log pipeline
exporting synchronously) and writes every request's access line twice: as uvicorn does
(``logger.info``, the direct path) and through ``logging.Logger.info`` (the logging path, what
every access line took before). The stdout JSON lines and the OTLP records, encoded by our
encoder and decoded with the official protobuf definitions, must be equal field by field,
timestamps apart; ``Logger.makeRecord`` is counted to prove which path ran.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import io, json, logging, sys
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    real_stdout, sys.stdout = sys.stdout, stdout

    made = []
    make_record = logging.Logger.makeRecord
    def counting(self, name, *args, **kwargs):
        made.append(name)
        return make_record(self, name, *args, **kwargs)
    logging.Logger.makeRecord = counting

    from google.protobuf.json_format import MessageToDict
    from opentelemetry import trace
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from vitalyst_otel.export.protobuf import encode_logs
    from vitalyst_otel.http.request_context import EXCLUDED, RequestFacts, current_request
    from vitalyst_otel.testing import capture_telemetry

    capture = capture_telemetry(service_name="svc")
    logger = logging.getLogger("uvicorn.access")
    FORMAT = '%s - "%s %s HTTP/%s" %d'
    REQUESTS = [
        # (facts, inside a span, the five arguments)
        ("route", True, ("10.0.0.1:5000", "GET", "/nodes/7?token=abc&limit=2", "1.1", 200)),
        ("none", True, ("10.0.0.2:5001", "POST", "/search?q=a%20b&password=p&api_key=k", "1.1", 201)),
        ("none", True, ("10.0.0.3:5002", "GET", "/health/live", "1.1", 200)),
        ("excluded", True, ("10.0.0.4:5003", "GET", "/internal/ping", "1.1", 200)),
        ("route", False, ("[::1]:5004", "DELETE", "/nodes/9", "2", 500)),
        ("route", True, ("10.0.0.5:5005", "GET", "http://ana:hunter2@example.com/x?id_token=t", "1.1", 404)),
        ("none", True, ("10.0.0.6:5006", "GET", "/reset/password%3Dhunter2", "1.1", 400)),
        ("none", False, ("", "GET", "/" + "x" * 300 + "?q=" + "y" * 300, "1.0", 200)),
        ("route", True, ("10.0.0.7:5007", "GET", "/fmt", "1.1", "not a number")),
        ("route", True, ("10.0.0.8:5008", "PATCH", "/nodes/1?" + "&".join(f"k{i}=v{i}" for i in range(20)), "1.1", 200)),
    ]
    FACTS = {"route": RequestFacts(method="GET", route="/nodes/{node_id}"), "none": None, "excluded": EXCLUDED}
    tracer = trace.get_tracer("test")

    def write(way, args):
        if way == "direct":
            logger.info(FORMAT, *args)
        else:
            logging.Logger.info(logger, FORMAT, *args)

    def outputs():
        lines = [json.loads(line) for line in stdout.buffer.getvalue().decode().splitlines()]
        stdout.buffer.seek(0)
        stdout.buffer.truncate()
        records = []
        for item in capture.log_exporter.get_finished_logs():
            request = ExportLogsServiceRequest.FromString(encode_logs([item]))
            decoded = MessageToDict(request)["resourceLogs"][0]
            record = decoded["scopeLogs"][0]
            records.append({"scope": record["scope"], "record": record["logRecords"][0],
                            "resource": decoded["resource"]})
        capture.clear()
        return lines, records

    def both(args):
        pair = {}
        for way in ("direct", "logging"):
            before = len(made)
            write(way, args)
            lines, records = outputs()
            pair[way] = {"lines": lines, "records": records,
                         "records_made": [n for n in made[before:] if n == "uvicorn.access"]}
        return pair

    results = []
    for facts, in_span, args in REQUESTS:
        token = current_request.set(FACTS[facts])
        try:
            if in_span:  # one span around both ways: the same ids are expected
                with tracer.start_as_current_span("GET"):
                    results.append(both(args))
            else:
                results.append(both(args))
        finally:
            current_request.reset(token)
    real_stdout.write(json.dumps(results) + "\\n")
""")

CASES = {
    "defaults": {},
    "hashed client addresses": {"VITALYST_HASH_CLIENT_IP": "true", "VITALYST_HASH_SALT": "pepper"},
    "access lines not over OTLP": {"VITALYST_ACCESS_LOG_OTLP": "false"},
    "access log off": {"VITALYST_ACCESS_LOG": "false"},
    "short records and an excluded pattern": {"VITALYST_RECORD_MAX_LENGTH": "64",
                                              "OTEL_PYTHON_EXCLUDED_URLS": "^/reset/"},
}
SECRETS = ("abc", "hunter2", "password=p", "api_key=k", "id_token=t", "ana:")


def run(env: dict) -> list:
    environment = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
                   "OTEL_LOGS_EXPORTER": "none", "VITALYST_RUNTIME_METRICS": "false", **env}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=environment,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def without_times(pair_side: dict) -> dict:
    lines = [{k: v for k, v in line.items() if k != "timestamp"} for line in pair_side["lines"]]
    records = [{**r, "record": {k: v for k, v in r["record"].items() if k not in ("timeUnixNano", "observedTimeUnixNano")}}
               for r in pair_side["records"]]
    return {"lines": lines, "records": records}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return request.param, run(CASES[request.param])


def test_the_direct_line_equals_the_logging_path_field_by_field(case):
    name, results = case
    for pair in results:
        direct, logged = pair["direct"], pair["logging"]
        assert direct["records_made"] == [] and len(logged["records_made"]) == 1  # each path ran as named
        assert without_times(direct) == without_times(logged)
        for side in (direct, logged):
            assert all(line["timestamp"].endswith("Z") for line in side["lines"])
            assert all(int(r["record"]["timeUnixNano"]) > 0 and int(r["record"]["observedTimeUnixNano"]) > 0
                       for r in side["records"])


def test_the_cases_cover_what_they_name(case):
    """The comparison above is only worth what the lines hold: check the logging path's."""
    name, results = case
    lines = [line for pair in results for line in pair["logging"]["lines"]]
    records = [r["record"] for pair in results for r in pair["logging"]["records"]]
    text = json.dumps(results)
    assert not [secret for secret in SECRETS if secret in text]
    if name == "access log off":
        assert lines == [] and records == []
        return
    expected = 8 if name != "short records and an excluded pattern" else 7  # health, excluded (, /reset/)
    assert len(lines) == expected
    assert len(records) == (0 if name == "access lines not over OTLP" else expected)
    assert {line["logger"] for line in lines} == {"uvicorn.access"}
    first = lines[0]
    assert first["http.route"] == "/nodes/{node_id}" and first["url.query"] == "token=[REDACTED]&limit=2"
    assert "trace_id" in first and "span_id" in first
    server_error = next(line for line in lines if line["http.response.status_code"] == 500)
    assert "trace_id" not in server_error and server_error["http.request.method"] == "DELETE"
    assert next(line for line in lines if line["url.path"] == "/fmt")["log.format_error"].startswith("TypeError")
    hashed = name == "hashed client addresses"
    assert first["message"].startswith("h:" if hashed else "10.0.0.1:5000 - ")
    if records:
        record = records[0]
        attributes = {a["key"]: a["value"] for a in record["attributes"]}
        assert attributes["url.query"] == {"stringValue": "token=[REDACTED]&limit=2"}
        assert attributes["http.response.status_code"] == {"intValue": "200"}
        assert record["severityText"] == "INFO" and record["traceId"] and record["spanId"]
        body = record["body"]["stringValue"]
        if name.startswith("short"):
            assert body.startswith(first["message"][:60]) and "truncated" in body
        else:
            assert body == first["message"]
    if name.startswith("short"):
        long_line = next(line for line in lines if line["url.path"].startswith("/xxx"))
        assert len(long_line["url.path"]) == 301  # stdout keeps the whole line; OTLP values are cut
        (long_path,) = [a["value"]["stringValue"] for r in records for a in r["attributes"]
                        if a["key"] == "url.path" and a["value"]["stringValue"].startswith("/xxx")]
        assert len(long_path) < 100 and "truncated" in long_path
