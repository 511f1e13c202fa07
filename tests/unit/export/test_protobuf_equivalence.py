"""Our OTLP encoder against the SDK's, on random spans, log records and metrics data.

Both encode the same SDK objects; both results are parsed with the official opentelemetry-proto
classes and must be equal messages, and (stronger: we write fields in the serializer's order)
equal bytes. Where the SDK's encoder raises, ours must raise too, with one exception: text that is
not UTF-8 (a lone surrogate) ours writes escaped (and counts) instead of losing the request.

Examples per test: VITALYST_HYPOTHESIS_EXAMPLES (default 300).
"""

from __future__ import annotations

import logging
import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as sdk_encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics as sdk_encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.unit.export.otlp_strategies import BODY_SIZES, _text_of, bridge_batches, log_batches, metrics_data, span_batches
from vitalyst_otel.export import protobuf as encoder
from vitalyst_otel.export.protobuf import wire

EXAMPLES = int(os.environ.get("VITALYST_HYPOTHESIS_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(autouse=True)
def _quiet_encoders():
    """Both encoders log each attribute they drop; thousands of examples need not print them."""
    loggers = [logging.getLogger(name) for name in
               ("opentelemetry.exporter.otlp.proto.common._internal",
                "opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder",
                "opentelemetry.attributes", "opentelemetry.trace.span", "opentelemetry.trace.status",
                "vitalyst_otel.export")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def assert_equivalent(ours, sdk, message_class, data) -> None:
    wire.take_repairs()
    try:
        repaired_output = ours(data)
    except Exception:  # noqa: BLE001 - judged against the SDK below
        repaired_output = None
    if wire.take_repairs() and repaired_output is not None:
        # Text that is not UTF-8 (a lone surrogate): the SDK refuses the request, ours escapes it.
        event("ours repairs text the SDK refuses")
        message_class.FromString(repaired_output)  # a valid request (the escape: test_protobuf_wire)
        return
    try:
        expected = sdk(data).SerializeToString()
    except Exception as exc:  # the SDK refuses the whole request: so must we
        cause = getattr(exc, "original_exception", exc)
        event(f"both refuse: {type(exc).__name__} ({type(cause).__name__})")
        with pytest.raises(Exception):  # noqa: B017 - the SDK's exception types are incidental
            ours(data)
        return
    event("encoded")
    actual = ours(data)
    assert message_class.FromString(actual) == message_class.FromString(expected)
    assert actual == expected


@SETTINGS
@given(span_batches())
def test_spans_equal_the_sdk_encoding(batch):
    assert_equivalent(encoder.encode_spans, sdk_encode_spans, ExportTraceServiceRequest, batch)


@SETTINGS
@given(log_batches())
def test_log_records_equal_the_sdk_encoding(batch):
    assert_equivalent(encoder.encode_logs, sdk_encode_logs, ExportLogsServiceRequest, batch)


@SETTINGS
@given(bridge_batches())
def test_bridge_records_equal_the_sdk_encoding(batch):
    """The bridge's records (text bodies of every length the encoder's prefix table covers, and
    past it; plain-dict attributes; flags as TraceFlags, plain ints and other numbers)."""
    assert_equivalent(encoder.encode_logs, sdk_encode_logs, ExportLogsServiceRequest, batch)


@pytest.mark.parametrize("char", ["a", "é", "\U0001f600"])
def test_text_bodies_of_every_prefix_length_equal_the_sdk_encoding(char):
    """Each length class of the text-body prefix table, and past its end, byte for byte."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import TraceFlags

    from vitalyst_otel.logs.bridge import BridgeRecord

    resource, scope = Resource({"service.name": "kg"}), InstrumentationScope("app")
    records = [BridgeRecord(1, 2, None, "INFO", _text_of(size, char, ""), {}, 3, 4, TraceFlags(1), resource, scope)
               for size in sorted({*BODY_SIZES, *range(2040, 2056)})]
    for record in records:
        assert encoder.encode_logs([record]) == sdk_encode_logs([record]).SerializeToString(), len(record.body)


@SETTINGS
@given(metrics_data())
def test_metrics_equal_the_sdk_encoding(data):
    assert_equivalent(encoder.encode_metrics, sdk_encode_metrics, ExportMetricsServiceRequest, data)
