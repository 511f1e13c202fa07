"""A native OTLP protobuf encoder: the wire format written by hand, no protobuf runtime.

Its output is byte-identical to the SDK's encoder (opentelemetry-exporter-otlp-proto-common)
for the same input; tests/unit/export/test_protobuf_equivalence.py checks that on random data.
``fields`` writes the scalar fields, ``wire`` the attributes, resources and scopes (with their
caches), ``envelope`` the request around them; one module per signal builds its items.
"""

from vitalyst_otel.export.protobuf.logs import encode_logs
from vitalyst_otel.export.protobuf.metrics import MetricEncodingError, encode_metrics
from vitalyst_otel.export.protobuf.traces import encode_spans

__all__ = ["MetricEncodingError", "encode_logs", "encode_metrics", "encode_spans"]
