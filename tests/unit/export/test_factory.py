from vitalyst_otel.config import Settings
from vitalyst_otel.export.factory import ExporterFactory

from tests.unit.export.test_http_sender import Server


def _exporter(signal: str, environ: dict[str, str], url: str):
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": url.rsplit("/v1/", 1)[0], "OTEL_EXPORTER_OTLP_TIMEOUT": "30000",
               **environ}
    return ExporterFactory(Settings.load({}, environ=environ)).otlp(signal)


def test_the_batch_export_timeout_ends_retries_the_otlp_timeout_would_still_allow():
    # A collector answering 503 for ever: within the 30 s OTLP timeout the sender would retry
    # (backing off 1 s, 2 s, 4 s ...); the 0.5 s span batch timeout leaves no room for a second try.
    server = Server([503] * 50)
    try:
        exporter = _exporter("traces", {"OTEL_BSP_EXPORT_TIMEOUT": "500"}, server.url)
        result = exporter.export([])
        assert result.name == "FAILURE"
        assert len(server.bodies) == 1
    finally:
        server.close()


def test_each_processor_timeout_applies_to_its_own_signal_and_zero_leaves_the_otlp_timeout():
    environ = {"OTEL_BSP_EXPORT_TIMEOUT": "1500", "OTEL_BLRP_EXPORT_TIMEOUT": "0"}
    url = "http://127.0.0.1:4318/v1/traces"
    assert _exporter("traces", environ, url).sender._timeout == 1.5
    assert _exporter("logs", environ, url).sender._timeout == 30.0
    assert _exporter("logs", {"OTEL_BLRP_EXPORT_TIMEOUT": "2500"}, url).sender._timeout == 2.5
