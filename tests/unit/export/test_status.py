import logging

from vitalyst_otel.export.status import ExportStatus


def test_one_warning_when_an_outage_starts_and_one_when_it_ends(caplog):
    clock = iter(range(100)).__next__
    status = ExportStatus("traces", "http://c:4318/v1/traces", clock=lambda: float(clock()))
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel.export"):
        status.succeeded()
        for _ in range(50):
            status.failed("ConnectionRefusedError", items=10)
        status.succeeded()
        status.succeeded()
        status.failed("HTTP 503")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert "failed (ConnectionRefusedError)" in messages[0] and "traces" in messages[0]
    assert "recovered" in messages[1] and "50 batch" in messages[1]
    assert "HTTP 503" in messages[2]
    snap = status.snapshot()
    assert snap.failed_batches == 51 and snap.dropped_items == 500 and not snap.healthy
