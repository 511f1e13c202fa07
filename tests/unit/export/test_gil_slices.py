"""The export workers' GIL slices (vitalyst_otel/export/gil_slices.py): a pause whenever a slice's
budget is spent, never in between, and the encoder's output unchanged when fed through them."""

from __future__ import annotations

import threading

from hypothesis import HealthCheck, given, settings

from tests.unit.export.otlp_strategies import log_batches, span_batches
from vitalyst_otel.export import gil_slices
from vitalyst_otel.export import protobuf as encoder


class FakeClock:
    """perf_counter advancing by ``step`` on every read; sleep recorded (a stand-in clock)."""

    def __init__(self, step: float):
        self.now = 0.0
        self.step = step
        self.sleeps: list[float] = []

    def perf_counter(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def test_items_come_through_in_order_with_a_pause_each_time_the_budget_is_spent(monkeypatch):
    clock = FakeClock(step=0.0002)  # each clock read: 0.2 ms of work
    monkeypatch.setattr(gil_slices, "time", clock)
    assert list(gil_slices.yielding(range(10), slice_s=0.0005)) == list(range(10))
    # one clock read at the start, one per item and one after each pause: a pause before items 2, 5, 8
    assert clock.sleeps == [gil_slices.PAUSE_S] * 3


def test_no_pause_within_budget_nor_with_an_infinite_one(monkeypatch):
    clock = FakeClock(step=0.00001)
    monkeypatch.setattr(gil_slices, "time", clock)
    assert list(gil_slices.yielding(range(20), slice_s=0.0005)) == list(range(20))
    assert list(gil_slices.yielding(range(20), slice_s=float("inf"))) == list(range(20))
    assert clock.sleeps == []


def test_a_waiting_thread_runs_during_a_long_iteration():
    ran = threading.Event()
    waiting = threading.Thread(target=ran.set)

    def items():
        waiting.start()
        for _ in range(200):
            sum(range(20000))  # CPU, holding the GIL
            if ran.is_set():
                return
            yield None

    for _ in gil_slices.yielding(items(), slice_s=0.0):
        pass
    waiting.join(5)
    assert ran.is_set()


SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(encode, items):
    try:
        return encode(items)
    except Exception as exc:  # noqa: BLE001 - random input the encoder refuses: refused the same way
        return type(exc)


@SETTINGS
@given(span_batches())
def test_span_bytes_are_the_same_through_slices(batch):
    assert outcome(encoder.encode_spans, gil_slices.yielding(batch, slice_s=0.0)) == outcome(encoder.encode_spans, batch)


@SETTINGS
@given(log_batches())
def test_log_bytes_are_the_same_through_slices(batch):
    assert outcome(encoder.encode_logs, gil_slices.yielding(batch, slice_s=0.0)) == outcome(encoder.encode_logs, batch)
