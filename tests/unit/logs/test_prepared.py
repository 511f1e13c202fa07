import io
import json
import logging

from vitalyst_otel.logs.bridge import OtlpLogHandler
from vitalyst_otel.logs.json_format import JsonFormatter, JsonLineHandler
from vitalyst_otel.logs.prepared import ATTRIBUTE, prepared
from vitalyst_otel.redaction import Redactor


class CountingRedactor(Redactor):
    """A real Redactor that counts its calls (text: the message; value: each extra field)."""

    def __init__(self):
        super().__init__(["password"])
        self.calls = []

    def text(self, text):
        self.calls.append(("text", text))
        return super().text(text)

    def query(self, query):
        self.calls.append(("query", query))
        return super().query(query)

    def value(self, key, value, _depth=0):
        if _depth == 0:
            self.calls.append(("value", key))
        return super().value(key, value, _depth)


class ListQueue:
    def __init__(self):
        self.items = []

    def put(self, item):
        self.items.append(item)


def _stream():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    return stream


def _outputs(redactor, console_redactor=None):
    stream = _stream()
    console = JsonLineHandler(stream)
    console.setFormatter(JsonFormatter(service_name="svc", redactor=console_redactor or redactor))
    queue = ListQueue()
    bridge = OtlpLogHandler(queue, None, redactor)
    logger = logging.getLogger("prepared.test")
    logger.handlers[:] = [console, bridge]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream, queue


def test_one_redaction_per_record_feeds_the_json_line_and_the_otlp_record():
    redactor = CountingRedactor()
    logger, stream, queue = _outputs(redactor)
    logger.info("login password=%s by %s", "hunter2", "ana", extra={"password": "s3cret", "user": "ana"})
    (line,) = [json.loads(text) for text in stream.buffer.getvalue().decode().splitlines()]
    (record,) = queue.items
    assert redactor.calls.count(("text", "login password=hunter2 by ana")) == 1
    assert sorted(call for call in redactor.calls if call[0] == "value") == [("value", "password"), ("value", "user")]
    assert line["message"] == record.body and "hunter2" not in line["message"]
    assert line["password"] == record.attributes["password"] == "[REDACTED]"
    assert line["user"] == record.attributes["user"] == "ana"
    assert ATTRIBUTE not in line and ATTRIBUTE not in record.attributes


def test_another_redactor_or_a_changed_record_is_prepared_again():
    first, second = CountingRedactor(), CountingRedactor()
    logger, stream, queue = _outputs(first, console_redactor=second)
    logger.info("token %s", "x")
    assert first.calls and second.calls  # each output redacted with its own redactor
    record = logging.LogRecord("x", logging.INFO, "f.py", 1, "a %s", ("b",), None)
    one = prepared(record, first)
    assert prepared(record, first) is one
    record.extra_field = "added by a handler filter"
    again = prepared(record, first)
    assert again is not one and again.extra == {"extra_field": "added by a handler filter"}


def test_the_access_line_is_redacted_once_by_its_filter_and_both_outputs_take_that():
    from vitalyst_otel.logs.setup import AccessLogFilter

    redactor = CountingRedactor()
    logger, stream, queue = _outputs(redactor)
    logger.addFilter(AccessLogFilter(None, redactor))
    logger.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", "/nodes?password=hunter2&limit=2", "1.1", 200)
    (line,) = [json.loads(text) for text in stream.buffer.getvalue().decode().splitlines()]
    (record,) = queue.items
    assert [call[0] for call in redactor.calls].count("query") == 1
    assert not [call for call in redactor.calls if call[0] == "value"]  # the filter's fields are not redacted again
    assert "hunter2" not in line["message"] and line["message"] == record.body
    assert line["message"] == '10.0.0.1:5000 - "GET /nodes?password=[REDACTED]&limit=2 HTTP/1.1" 200'
    fields = {"http.request.method": "GET", "url.path": "/nodes", "url.query": "password=[REDACTED]&limit=2",
              "http.response.status_code": 200, "network.protocol.version": "1.1"}
    assert {key: line[key] for key in fields} == fields == record.attributes


def test_an_access_record_someone_added_fields_to_still_gets_them_redacted():
    from vitalyst_otel.logs.setup import AccessLogFilter

    redactor = CountingRedactor()
    logger, stream, queue = _outputs(redactor)

    def add_field(record):
        record.password = "s3cret"
        return True

    logger.addFilter(add_field)  # runs before the access filter
    logger.addFilter(AccessLogFilter(None, redactor))
    logger.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", "/nodes", "1.1", 200)
    (line,) = [json.loads(text) for text in stream.buffer.getvalue().decode().splitlines()]
    (record,) = queue.items
    assert line["password"] == record.attributes["password"] == "[REDACTED]" and line["url.path"] == "/nodes"
