import json
import logging
import re
import subprocess
import sys
import textwrap

from vitalyst_otel.logs.setup import AccessLogFilter
from vitalyst_otel.redaction import Redactor
from vitalyst_otel.config.variables import DEFAULT_REDACT_KEYS


def access_record(path):
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                             ("127.0.0.1:5000", "GET", path, "1.1", 200), None)


def test_access_log_lines_get_fields_and_lose_credentials_and_excluded_paths():
    filt = AccessLogFilter(re.compile("^/health/live$"), Redactor(DEFAULT_REDACT_KEYS))
    assert filt.filter(access_record("/health/live")) is False
    record = access_record("/nodes?token=abc&limit=2")
    assert filt.filter(record) is True
    assert "abc" not in record.getMessage() and "limit=2" in record.getMessage()
    assert record.__dict__["url.path"] == "/nodes" and record.__dict__["http.response.status_code"] == 200
    assert AccessLogFilter(None, Redactor(()), enabled=False).filter(access_record("/x")) is False


def run_python(code: str, env=None) -> subprocess.CompletedProcess:
    import os

    environment = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
                   "OTEL_LOGS_EXPORTER": "none", **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environment, timeout=60)


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_one_line_per_record_after_uvicorn_dict_config_and_a_second_configure():
    result = run_python("""
        import logging, logging.config
        from uvicorn.config import LOGGING_CONFIG
        import vitalyst_otel
        vitalyst_otel.configure(service_name="svc")
        logging.config.dictConfig(LOGGING_CONFIG)           # what uvicorn does at start-up
        vitalyst_otel.configure(service_name="svc")          # a second call: a no-op
        logging.getLogger("app").info("app line")
        logging.getLogger("uvicorn.error").info("server line")
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:1", "GET", "/x?password=p", "1.1", 200)
        root = logging.getLogger()
        print("HANDLERS", sum(1 for h in root.handlers if getattr(h, "_vitalyst_otel", False)))
    """)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    messages = [line["message"] for line in lines]
    assert messages.count("app line") == 1 and messages.count("server line") == 1
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert len(access) == 1 and "password=p" not in access[0]["message"]
    assert "HANDLERS 1" in result.stdout
    assert "already configured" in result.stdout  # the second configure() says so, once
    assert all(line["service.name"] == "svc" for line in lines)


def test_an_existing_basic_config_handler_does_not_double_lines():
    result = run_python("""
        import logging, sys
        logging.basicConfig(stream=sys.stdout, level=logging.INFO)
        import vitalyst_otel
        vitalyst_otel.configure(service_name="svc")
        logging.getLogger("app").info("only once")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("only once") == 1
    assert json_lines(result.stdout)[-1]["message"] == "only once"


def test_log_format_none_leaves_logging_alone():
    result = run_python("""
        import logging, sys
        logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="PLAIN %(message)s")
        import vitalyst_otel
        vitalyst_otel.configure(service_name="svc", log_format="none")
        logging.getLogger("app").info("hello")
    """)
    assert "PLAIN hello" in result.stdout and "{" not in result.stdout


def test_file_output_rotates_by_size_and_keeps_the_backup_count(tmp_path):
    log_file = tmp_path / "app.log"
    result = run_python(f"""
        import logging, vitalyst_otel
        vitalyst_otel.configure(service_name="svc", log_file={str(log_file)!r})
        log = logging.getLogger("app")
        for i in range(400):
            log.info("line %d %s", i, "x" * 100)
    """, env={"VITALYST_LOG_FILE_MAX_BYTES": "4KiB", "VITALYST_LOG_FILE_BACKUP_COUNT": "3"})
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["app.log", "app.log.1", "app.log.2", "app.log.3"]
    for path in tmp_path.iterdir():
        assert path.stat().st_size <= 4096 + 400
        for line in path.read_text().splitlines():
            assert json.loads(line)["logger"] == "app"
    last = json.loads(log_file.read_text().splitlines()[-1])
    assert last["message"].startswith("line 399")
