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

# Every script: stdout captured as bytes, and the names of the records logging makes.
PREAMBLE = textwrap.dedent("""
    import io, json, logging, logging.config, os, sys
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    real_stdout, sys.stdout = sys.stdout, stdout
    made = []
    make_record = logging.Logger.makeRecord
    def counting(self, name, *args, **kwargs):
        made.append(name)
        return make_record(self, name, *args, **kwargs)
    logging.Logger.makeRecord = counting
""")

SCRIPT = PREAMBLE + textwrap.dedent("""
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
        ("route", True, ("10.0.0.1:5000", "GET", "/nodes/7?token=tokvalue1&limit=2", "1.1", 200)),
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
SECRETS = ("tokvalue1", "hunter2", "password=p", "api_key=k", "id_token=t", "ana:")


def run(script: str, env: dict) -> tuple[object, str]:
    """``script`` in a fresh process; its last stdout line, decoded, and all it wrote."""
    environment = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
                   "OTEL_LOGS_EXPORTER": "none", "VITALYST_RUNTIME_METRICS": "false", **env}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1]), result.stdout + result.stderr


def without_times(pair_side: dict) -> dict:
    lines = [{k: v for k, v in line.items() if k != "timestamp"} for line in pair_side["lines"]]
    records = [{**r, "record": {k: v for k, v in r["record"].items() if k not in ("timeUnixNano", "observedTimeUnixNano")}}
               for r in pair_side["records"]]
    return {"lines": lines, "records": records}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return request.param, run(SCRIPT, CASES[request.param])[0]


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


LISTENER_SCRIPT = PREAMBLE + textwrap.dedent("""
    handled, filtered = [], []
    class Collect(logging.Handler):
        def emit(self, record):
            handled.append({"message": record.getMessage(), "function": record.funcName,
                            "query": record.__dict__.get("url.query")})
    class Count(logging.Filter):
        def filter(self, record):
            filtered.append(record.name)  # a filter before ours sees the line as uvicorn wrote it
            return True
    def add_field(record):
        record.password = "s3cret"
        return record
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    #BEFORE
    from vitalyst_otel.testing import capture_telemetry
    capture = capture_telemetry(service_name="svc")
    #AFTER

    def serve_one(i):
        access.info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:1", "GET", f"/x/{i}?token=t{i}", "1.1", 200)
    for i in range(5):
        serve_one(i)
    lines = [json.loads(line) for line in stdout.buffer.getvalue().decode().splitlines()]
    records = [getattr(r, "log_record", r) for r in capture.log_exporter.get_finished_logs()]
    real_stdout.write(json.dumps({
        "handled": handled, "filtered": filtered, "made": made.count("uvicorn.access"),
        "lines": [line for line in lines if line.get("logger") == "uvicorn.access"],
        "bodies": [r.body for r in records if r.instrumentation_scope.name == "uvicorn.access"],
        "attributes": [dict(r.attributes) for r in records if r.instrumentation_scope.name == "uvicorn.access"]}) + "\\n")
""")

COLLECT = "root.addHandler(Collect())"
LISTENERS = {
    # scenario: (code before configure(), code after, who listens: "handler", "filter" or None)
    "a root handler added after configure": ("", COLLECT, "handler"),
    "a root handler added before configure": (COLLECT, "", "handler"),
    "a handler on uvicorn.access": ("", "access.addHandler(Collect())", "handler"),
    "a handler on the uvicorn logger": ("", "logging.getLogger('uvicorn').addHandler(Collect())", "handler"),
    "a filter on uvicorn.access after configure": ("", "access.addFilter(Count())", "filter"),
    "a filter on uvicorn.access before configure": ("access.addFilter(Count())", "", "filter"),
    "a filter on our console handler": (
        "", "[h.addFilter(Count()) for h in root.handlers if type(h).__name__ == 'JsonLineHandler']", "filter"),
    "dictConfig: a root handler and an access filter": ("", textwrap.dedent('''
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False,
                                   "handlers": {"mem": {"()": Collect}}, "filters": {"count": {"()": Count}},
                                   "loggers": {"uvicorn.access": {"filters": ["count"]}},
                                   "root": {"handlers": ["mem"], "level": "INFO"}})'''),
                                                        "both"),
    "uvicorn's own dictConfig": ("", "from uvicorn.config import LOGGING_CONFIG; logging.config.dictConfig(LOGGING_CONFIG)",
                                 None),
    "a handler added and removed again": ("", "h = Collect(); root.addHandler(h); root.removeHandler(h)", None),
    "a record factory adding a field": (
        "", "old = logging.getLogRecordFactory(); logging.setLogRecordFactory("
            "lambda *a, **k: add_field(old(*a, **k)))", "field"),
}


@pytest.mark.parametrize("scenario", list(LISTENERS))
def test_every_listener_besides_ours_gets_every_access_line(scenario):
    before, after, listener = LISTENERS[scenario]
    seen, output = run(LISTENER_SCRIPT.replace("#BEFORE", before).replace("#AFTER", after), {})
    messages = [f'1.2.3.4:1 - "GET /x/{i}?token=[REDACTED] HTTP/1.1" 200' for i in range(5)]
    # our outputs are whole either way
    assert [line["message"] for line in seen["lines"]] == messages == seen["bodies"]
    assert all(line["url.query"] == "token=[REDACTED]" for line in seen["lines"])
    assert seen["made"] == (0 if listener is None else 5)  # the direct path only while nobody else listens
    if listener in ("handler", "both"):
        assert seen["handled"] == [{"message": m, "function": "serve_one", "query": "token=[REDACTED]"}
                                   for m in messages]
    if listener in ("filter", "both"):
        assert seen["filtered"] == ["uvicorn.access"] * 5
    if listener == "field":
        assert all(line["password"] == "[REDACTED]" for line in seen["lines"])
        assert all(attributes["password"] == "[REDACTED]" for attributes in seen["attributes"])
    assert "s3cret" not in output and "token=t" not in output


BOUNDED_SCRIPT = PREAMBLE + textwrap.dedent("""
    import socket
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # accepts connections, never answers: the export worker waits
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{silent.getsockname()[1]}"
    import vitalyst_otel
    handle = vitalyst_otel.configure(service_name="svc")
    queue = handle._parts.log_queue
    access, most = logging.getLogger("uvicorn.access"), 0
    for i in range(2000):
        access.info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:1", "GET", f"/x/{i}/" + "p" * 2000, "1.1", 200)
        most = max(most, queue.queued_bytes)
    lines = stdout.buffer.getvalue().count(b'"logger":"uvicorn.access"')
    handle.shutdown(1.0)
    real_stdout.write(json.dumps({"most": most, "max_bytes": queue.max_bytes, "dropped": queue.dropped,
                                     "made": made.count("uvicorn.access"), "lines": lines}) + "\\n")
""")


def test_direct_access_records_go_through_the_byte_bounded_queue():
    seen, _ = run(BOUNDED_SCRIPT, {"OTEL_LOGS_EXPORTER": "otlp", "VITALYST_EXPORT_QUEUE_MAX_BYTES": "256KiB",
                                   "OTEL_EXPORTER_OTLP_TIMEOUT": "5000"})
    assert seen["made"] == 0 and seen["lines"] == 2000  # the direct path wrote every JSON line
    assert seen["max_bytes"] == 256 * 1024 and 0 < seen["most"] <= seen["max_bytes"]
    assert seen["dropped"] > 0  # 2000 records of ~2 KB do not fit: refused, not queued
