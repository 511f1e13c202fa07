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


def test_a_retried_attempt_starts_the_outage_at_once_without_counting_a_lost_batch(caplog):
    status = ExportStatus("logs", "http://c/v1/logs")
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel.export"):
        status.attempt_failed("ConnectionRefusedError")
        status.attempt_failed("ConnectionRefusedError")
        status.failed("export timeout reached", items=3)
        status.dropped(40)
        status.succeeded()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "failed (ConnectionRefusedError)" in messages[0]
    assert "recovered" in messages[1] and "1 batch(es) were not delivered, 40 item(s) dropped" in messages[1]


def test_a_full_queue_while_healthy_is_said_at_most_every_five_minutes(caplog):
    now = [0.0]
    status = ExportStatus("traces", "http://c", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel.export"):
        for _ in range(100):
            status.dropped(5)
            now[0] += 1
        now[0] += 300
        status.dropped(7)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "5 item(s) dropped" in messages[0] and "502 item(s) dropped" in messages[1]
