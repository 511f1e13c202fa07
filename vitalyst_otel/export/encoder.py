"""OTLP protobuf encoding of spans, metrics and log records: the seam the exporters call.

This first version delegates to the SDK's encoder (opentelemetry-exporter-otlp-proto-common);
a native encoder replaces it behind the same three functions.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as _sdk_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics as _sdk_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as _sdk_spans


def encode_spans(spans: Sequence) -> bytes:
    return _sdk_spans(spans).SerializeToString()


def encode_logs(records: Sequence) -> bytes:
    return _sdk_logs(records).SerializeToString()


def encode_metrics(data) -> bytes:
    return _sdk_metrics(data).SerializeToString()
