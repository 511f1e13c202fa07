"""An item that cannot be encoded is dropped alone and counted; its batch is sent (decoded by a
real OTLP receiver, tests/support/otlp_receiver.py)."""

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from tests.support.otlp_receiver import OtlpReceiver
from vitalyst_otel.export.otlp import OtlpLogExporter
from vitalyst_otel.logs.bridge import BridgeRecord
from vitalyst_otel.config import OtlpSettings


def _record(body) -> BridgeRecord:
    return BridgeRecord(1, 1, SeverityNumber.INFO, "INFO", body, {}, 0, 0, 0, Resource.get_empty(),
                        InstrumentationScope("t"))


def test_one_unencodable_record_is_dropped_alone_and_counted():
    with OtlpReceiver() as receiver:
        exporter = OtlpLogExporter(OtlpSettings(receiver.endpoint + "/v1/logs", "http/protobuf", {}, 5, "none", None))
        batch = [_record(f"r{i}") for i in range(200)]
        batch[17] = _record(2**70)  # beyond int64: no encoder can write it
        batch[33] = _record("lone \udcff")
        assert exporter.export(batch).name == "SUCCESS"
        exporter.shutdown()
    bodies = [r.body.string_value for _, r in receiver.received.log_records()]
    assert len(bodies) == 199 and "r17" not in bodies and "lone \\udcff" in bodies
    snapshot = exporter.status.snapshot()
    assert (snapshot.invalid_items, snapshot.repaired_items) == (1, 1)


def test_a_batch_of_nothing_but_bad_records_sends_nothing():
    with OtlpReceiver() as receiver:
        exporter = OtlpLogExporter(OtlpSettings(receiver.endpoint + "/v1/logs", "http/protobuf", {}, 5, "none", None))
        assert exporter.export([_record(2**70), _record(-(2**70))]).name == "SUCCESS"
        exporter.shutdown()
    assert receiver.received.requests == []
    assert exporter.status.snapshot().invalid_items == 2
