import io
import logging
import sys

from vitalyst_otel.redaction import Redactor
from vitalyst_otel.redaction.records import RedactingLogProcessor, clean_exception_fields, guard_error_report

SECRET = "Zq7recordsSecret"


class Broken(logging.Handler):
    def emit(self, record):
        try:
            raise OSError(f"disk full while writing password={SECRET}")
        except OSError:
            self.handleError(record)


def test_the_logging_error_report_never_prints_arguments(monkeypatch):
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    handler = guard_error_report(Broken(), Redactor(()))
    record = logging.LogRecord("app", logging.INFO, __file__, 7, "login %s token=%s", ("ana", SECRET), None)
    handler.handle(record)
    report = stderr.getvalue()
    assert report.startswith("--- Logging error ---")
    assert "OSError" in report and "Arguments: 2 (not shown)" in report and "'login %s token=" in report
    assert SECRET not in report and "[REDACTED]" in report


def test_exception_fields_are_redacted_in_place():
    fields = {"exception.type": "ValueError", "exception.message": f"bad api_key={SECRET}",
              "exception.stacktrace": f"Traceback ...\nValueError: bad api_key={SECRET}\n"}
    assert clean_exception_fields(Redactor(()), fields) is fields
    assert SECRET not in repr(fields) and fields["exception.type"] == "ValueError"


def test_the_logs_api_processor_cleans_body_and_attributes():
    class Record:
        body = f"Authorization: Bearer {SECRET}"
        attributes = {"db_password": SECRET, "count": 3}

    record = Record()
    RedactingLogProcessor(Redactor(())).on_emit(record)
    assert SECRET not in record.body and record.attributes == {"db_password": "[REDACTED]", "count": 3}
