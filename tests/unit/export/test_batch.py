import threading
import time

from vitalyst_otel.export.batch import BatchQueue


class Recorder:
    """An exporter that keeps what it is given (SUCCESS), or fails when told to."""

    def __init__(self, fail=False, hold: threading.Event | None = None):
        self.batches, self.fail, self.hold, self.shut = [], fail, hold, False
        self.entered = threading.Event()

    def export(self, batch):
        self.entered.set()
        if self.hold is not None:
            self.hold.wait(5)
        self.batches.append(list(batch))
        return type("R", (), {"name": "FAILURE" if self.fail else "SUCCESS"})()

    def shutdown(self):
        self.shut = True
        if self.hold is not None:
            self.hold.set()  # like a real exporter, shutdown aborts an export under way


def test_batches_are_exported_by_the_worker_in_order():
    exporter = Recorder()
    queue = BatchQueue([exporter], "t", max_queue=100, max_batch=10, delay_s=0.05)
    for i in range(25):
        queue.put(i)
    assert queue.force_flush(2)
    assert [i for batch in exporter.batches for i in batch] == list(range(25))
    assert max(len(batch) for batch in exporter.batches) <= 10
    queue.shutdown(1)
    assert exporter.shut


def test_a_full_queue_refuses_without_blocking_and_says_so():
    hold = threading.Event()
    refused = []
    queue = BatchQueue([Recorder(hold=hold)], "t", max_queue=5, max_batch=1, delay_s=0.01, on_full=refused.extend)
    started = time.monotonic()
    for i in range(50):
        queue.put(i)
    assert time.monotonic() - started < 0.5
    assert len(refused) >= 40 and queue.dropped == len(refused)
    hold.set()
    queue.shutdown(2)


def test_failed_batches_go_to_on_failure_and_successes_to_on_success():
    failures, successes = [], []
    queue = BatchQueue([Recorder(fail=True)], "t", synchronous=True,
                       on_failure=lambda batch, reason: failures.append((batch, reason)),
                       on_success=successes.append)
    queue.put("a")
    assert failures == [(["a"], "export failed")] and successes == []
    good = BatchQueue([Recorder()], "t", synchronous=True, on_success=successes.append)
    good.put("b")
    assert successes == [["b"]]


def test_shutdown_does_not_wait_for_a_stuck_export_and_hands_back_the_rest():
    hold = threading.Event()
    refused = []
    exporter = Recorder(hold=hold)
    queue = BatchQueue([exporter], "t", max_queue=100, max_batch=2, delay_s=10, on_full=refused.extend)
    for i in range(10):
        queue.put(i)
    assert exporter.entered.wait(2)  # the worker is stuck in its first export
    started = time.monotonic()
    queue.shutdown(0.3)
    assert time.monotonic() - started < 1.0  # the stuck export is not waited for
    assert sorted(refused) == list(range(2, 10))  # the rest is handed back, not silently lost
    hold.set()
    queue.put("late")
    assert "late" in refused


def test_a_queue_bounded_in_bytes_refuses_what_does_not_fit_and_counts_the_batch_in_flight():
    hold = threading.Event()
    exporter = Recorder(hold=hold)
    refused = []
    queue = BatchQueue([exporter], "t", max_queue=1000, max_batch=4, delay_s=0.01, on_full=refused.extend,
                       max_bytes=100, size_of=len)
    queue.put("a" * 40)
    assert exporter.entered.wait(2)  # the worker holds a batch of one 40-byte item, in flight
    for text in ("b" * 30, "c" * 30, "d" * 30, "e" * 5):
        queue.put(text)
    assert queue.queued_bytes == 40 + 30 + 30
    assert refused == ["d" * 30, "e" * 5]  # 40 in flight + 60 queued: the budget is spent
    hold.set()
    assert queue.force_flush(2)
    assert queue.queued_bytes == 0
    assert [i for batch in exporter.batches for i in batch] == ["a" * 40, "b" * 30, "c" * 30]
    queue.shutdown(1)


def test_an_item_bigger_than_the_whole_budget_is_refused_alone():
    refused = []
    queue = BatchQueue([Recorder()], "t", max_queue=10, max_batch=10, delay_s=5, on_full=refused.extend,
                       max_bytes=10, size_of=len)
    queue.put("x" * 11)
    queue.put("y")
    assert refused == ["x" * 11] and queue.queued_bytes == 1
    queue.shutdown(1)


def test_a_queue_shut_down_before_a_fork_starts_no_worker_in_the_child():
    import os

    queue = BatchQueue([], "stopped-before-fork")
    queue.shutdown(1.0)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the lifecycle's fork hooks have run by now
        try:
            os.write(write, b"alive" if queue._thread is not None else b"none")
        finally:
            os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 16) == b"none"
    finally:
        os.waitpid(pid, 0)
        os.close(read)
