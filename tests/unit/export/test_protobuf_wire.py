"""Targeted tests of the native OTLP encoder: wire primitives, AnyValue edge cases against the
SDK, the caches (never a wrong pair, always bounded), grouping, the public-interface fallback,
threads, and that the encode path needs no protobuf runtime."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import threading
from enum import IntEnum

import pytest
from opentelemetry.exporter.otlp.proto.common._internal import _encode_value as sdk_encode_value
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as sdk_encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from vitalyst_otel.export import protobuf as encoder
from vitalyst_otel.export.protobuf import traces, wire


@pytest.fixture(autouse=True)
def _fresh_caches():
    wire.clear_caches()
    yield
    wire.clear_caches()


class Colour(IntEnum):
    RED = 7


# --- primitives -------------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "encoded"), [
    (0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"),
    (4095, b"\xff\x1f"), (4096, b"\x80\x20"), (2**64 - 1, b"\xff" * 9 + b"\x01"),
])
def test_varint(n, encoded):
    assert wire.varint(n) == encoded


def test_varint_refuses_negative_numbers():
    with pytest.raises(ValueError):
        wire.varint(-1)


@pytest.mark.parametrize(("n", "encoded"), [(0, b"\x00"), (-1, b"\x01"), (1, b"\x02"), (-2, b"\x03"),
                                            (2**31 - 1, b"\xfe\xff\xff\xff\x0f"),
                                            (-(2**31), b"\xff\xff\xff\xff\x0f")])
def test_zigzag32(n, encoded):
    assert wire.zigzag32(n) == encoded


def test_zigzag32_refuses_out_of_range():
    with pytest.raises(ValueError):
        wire.zigzag32(2**31)


# --- AnyValue edge cases, against the SDK -----------------------------------------------------

SAME_AS_SDK = [None, "", "é✓ 名前", False, True, 0, -1, 2**63 - 1, -(2**63), 0.0, -0.0, math.inf, math.nan,
               1e-310, b"", b"\x00\xff", [], (), {}, [1, 2], ["a", "b"], [1, "a", None, 2.5, [True]],
               [[1], [[2]]], {"a": 1, "b": {"c": [None]}}, {1: "int key", None: "none key"},
               bytearray(b"ab"), Colour.RED, ["x" * 5000]]


@pytest.mark.parametrize("value", SAME_AS_SDK, ids=repr)
def test_any_value_matches_the_sdk(value):
    assert wire.any_value(value) == sdk_encode_value(value).SerializeToString()


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**64, object(), {1, 2}, {"k": 2**70}], ids=repr)
def test_any_value_refuses_what_the_sdk_refuses(value):
    with pytest.raises(Exception):  # noqa: B017
        sdk_encode_value(value)
    with pytest.raises((ValueError, TypeError, UnicodeEncodeError)):
        wire.any_value(value)


@pytest.mark.parametrize(("value", "escaped"), [("\ud800", "\\ud800"), ([1, "a\udfff"], "a\\udfff")], ids=repr)
def test_any_value_escapes_lone_surrogates_the_sdk_refuses_and_counts_them(value, escaped):
    with pytest.raises(Exception):  # noqa: B017
        sdk_encode_value(value)
    wire.take_repairs()
    assert escaped.encode() in wire.any_value(value)
    assert wire.take_repairs() == 1


def test_key_value_with_an_empty_key_leaves_the_key_out():
    encoded = wire.key_value("", "v")
    assert KeyValue.FromString(encoded[1:]) == KeyValue(key="", value={"string_value": "v"})
    assert encoded[1:] == KeyValue(key="", value={"string_value": "v"}).SerializeToString()


def test_bad_attributes_are_left_out_and_reported_once(caplog):
    wire._reported.clear()  # reports are capped per process; other tests may have used them up
    attrs = {"ok": 1, "too.big": 2**64, "after": "x"}
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel.export"):
        for _ in range(3):
            encoded = wire.attributes(b"\x4a", attrs)
    assert encoded == wire.attributes(b"\x4a", {"ok": 1, "after": "x"})
    assert [r.getMessage() for r in caplog.records if "too.big" in r.getMessage()] == [
        "Attribute 'too.big' not exported: ValueError: Value out of range: 18446744073709551616"]


# --- the pair cache ---------------------------------------------------------------------------

def _uncached(key, value) -> bytes:
    return b"\x4a" + wire.key_value(key, value)


EQUAL_BUT_DIFFERENT = [1, True, 1.0, "1", Colour.RED, 7, 0, False, 0.0, -0.0, "", b"", None, [1], (1,)]


@pytest.mark.parametrize("order", [EQUAL_BUT_DIFFERENT, EQUAL_BUT_DIFFERENT[::-1]], ids=["forward", "backward"])
def test_a_cached_pair_is_never_served_for_another_value(order):
    for _ in range(2):  # the second pass is served from the cache where it may be
        for value in order:
            assert wire.attributes(b"\x4a", {"k": value}) == _uncached("k", value), value


def test_a_new_value_for_a_cached_key_is_encoded_afresh():
    assert wire.attributes(b"\x4a", {"k": "a"}) == _uncached("k", "a")
    assert wire.attributes(b"\x4a", {"k": "b"}) == _uncached("k", "b")
    assert wire.attributes(b"\x4a", {"k": "a", "j": "a"}) == _uncached("k", "a") + _uncached("j", "a")


def test_floats_long_values_and_odd_keys_are_not_cached():
    wire.attributes(b"\x4a", {"f": 0.5, "long": "x" * 1000})
    wire.attributes(b"\x0a", {str.__new__(type("S", (str,), {}), "sub"): "v"})
    assert wire.cache_sizes()["pairs"] == 0


def test_the_pair_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(wire, "PAIR_CACHE_KEYS", 4)
    monkeypatch.setattr(wire, "PAIR_CACHE_VALUES", 3)
    for round_ in range(2):
        for k in range(20):
            for v in range(10):
                attrs = {f"k{k}": f"v{v}", f"n{k}": v, f"b{k}": bool(v % 2)}
                expected = b"".join(_uncached(key, value) for key, value in attrs.items())
                assert wire.attributes(b"\x4a", attrs) == expected, (round_, k, v)
                sizes = wire.cache_sizes()
                assert sizes["pair_keys"] <= 2 * 4
                assert sizes["pairs"] <= 2 * 4 * 3


def test_the_default_bounds_hold_under_high_cardinality():
    for i in range(20_000):
        wire.attributes(b"\x4a", {f"key{i % 500}": f"value{i}", "url.path": f"/items/{i}"})
    sizes = wire.cache_sizes()
    assert sizes["pair_keys"] <= wire.PAIR_CACHE_KEYS
    assert sizes["pairs"] <= wire.PAIR_CACHE_KEYS * wire.PAIR_CACHE_VALUES


def test_the_span_name_cache_is_bounded():
    for i in range(3000):
        assert traces._name(f"GET /r{i}") == wire.string_field(b"\x2a", f"GET /r{i}")
    assert len(traces._name.cache) <= 1024


# --- resources, scopes and grouping -----------------------------------------------------------

def _span(name, resource, scope, **kw):
    context = SpanContext(0x1234, 0x5678 + len(name), is_remote=False)
    return ReadableSpan(name, context, resource=resource, instrumentation_scope=scope, start_time=1, end_time=2, **kw)


def _check_spans(batch):
    expected = sdk_encode_spans(batch).SerializeToString()
    actual = encoder.encode_spans(batch)
    assert ExportTraceServiceRequest.FromString(actual) == ExportTraceServiceRequest.FromString(expected)
    assert actual == expected
    return ExportTraceServiceRequest.FromString(actual)


def test_equal_resources_and_scopes_share_a_group_represented_by_the_first():
    # Distinct but equal objects share a group (the SDK keys dicts by them). Resource({"n": 1})
    # == Resource({"n": True}) too, but their hashes differ, so those are two groups.
    r_one, r_same = Resource({"n": 1}), Resource({"n": 1})
    s_a, s_same = InstrumentationScope("lib", "1", "", {"a": 1}), InstrumentationScope("lib", "1", "", {"a": 1})
    s_other = InstrumentationScope("lib", "1", "", {"b": 2})
    request = _check_spans([_span("1", r_one, s_a), _span("2", r_same, s_same), _span("3", r_one, None),
                            _span("4", r_same, s_other), _span("5", Resource({"n": True}), s_a)])
    assert len(request.resource_spans) == 2
    first = request.resource_spans[0]
    assert [len(ss.spans) for ss in first.scope_spans] == [2, 1, 1]
    assert first.scope_spans[1].scope == type(first.scope_spans[1].scope)()  # empty for None
    assert request.resource_spans[1].resource.attributes[0].value.bool_value is True


def test_the_object_cache_is_bounded_and_keyed_by_identity():
    for i in range(3 * wire.OBJECT_CACHE_SIZE):
        resource = Resource({"i": i})
        scope = InstrumentationScope(f"lib{i}", attributes={"i": i})
        _check_spans([_span("s", resource, scope)])
        assert wire.cache_sizes()["objects"] <= wire.OBJECT_CACHE_SIZE


def test_spans_of_a_subclass_go_through_the_public_interface():
    class MySpan(ReadableSpan):
        @property
        def attributes(self):
            return {"via": "property"}

    context = SpanContext(1, 2, is_remote=True)
    span = MySpan("sub", SpanContext(1, 3, False), parent=context, resource=Resource({}), kind=SpanKind.CLIENT,
                  status=Status(StatusCode.ERROR, "bad"), start_time=5, end_time=None)
    request = _check_spans([span])
    assert request.resource_spans[0].scope_spans[0].spans[0].attributes[0].value.string_value == "property"


def test_the_fast_paths_are_active_with_this_sdk():
    # They read SDK internals, checked at import; an SDK that changes them falls back to the
    # public interface (slower, still right), and this test says so.
    from opentelemetry.attributes import BoundedAttributes

    assert traces._ReadableSpan is ReadableSpan
    assert wire._BoundedAttributes is BoundedAttributes


def test_without_the_fast_paths_the_encoding_is_the_same(monkeypatch):
    batch = _sdk_spans(20, "public")
    expected = sdk_encode_spans(batch).SerializeToString()
    monkeypatch.setattr(traces, "_ReadableSpan", None)
    monkeypatch.setattr(traces, "_SpanContext", None)
    monkeypatch.setattr(wire, "_BoundedAttributes", None)
    assert encoder.encode_spans(batch) == expected


def test_flags_carry_only_the_remote_bits_as_in_the_sdk():
    remote = SpanContext(1, 2, is_remote=True, trace_flags=1)
    span = ReadableSpan("x", SpanContext(1, 3, False, trace_flags=1), parent=remote, resource=Resource({}))
    assert _check_spans([span]).resource_spans[0].scope_spans[0].spans[0].flags == 0x300


def test_an_empty_batch_is_an_empty_request():
    assert encoder.encode_spans([]) == b""
    assert encoder.encode_logs([]) == b""


# --- through the SDK pipeline, and concurrently -----------------------------------------------

def _sdk_spans(n: int, tag: str):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": tag}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t", "1")
    for i in range(n):
        with tracer.start_as_current_span(f"GET /{tag}", kind=SpanKind.SERVER,
                                          attributes={"http.route": f"/{tag}", "url.path": f"/{tag}/{i}",
                                                      "http.response.status_code": 200 + i % 3}) as span:
            span.add_event("e", {"i": i})
    return list(memory.get_finished_spans())


def test_concurrent_encoders_share_the_caches_safely():
    batches = [_sdk_spans(200, f"t{t}") for t in range(4)]
    expected = [sdk_encode_spans(b).SerializeToString() for b in batches]
    failures = []

    def work(i):
        for _ in range(20):
            if encoder.encode_spans(batches[i]) != expected[i]:
                failures.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_log_records_from_the_logging_handler():
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "logs"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = logging.Logger("encoder-test")
    with pytest.warns(DeprecationWarning):  # the SDK's handler, deprecated in 1.45 for the contrib one
        logger.addHandler(LoggingHandler(logger_provider=provider))
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("in-span"):
        logger.warning("inside %s", "a span", extra={"user.id": 7, "tags": ["a", "b"]})
    logger.error("outside", exc_info=ValueError("boom"))
    logger.info({"structured": {"body": [1, 2.5, None]}})
    records = list(memory.get_finished_logs())
    assert len(records) == 3
    assert encoder.encode_logs(records) == sdk_encode_logs(records).SerializeToString()


def test_the_encode_path_needs_no_protobuf_runtime():
    code = ("import sys; import vitalyst_otel.export.protobuf, vitalyst_otel.export.otlp; "
            "bad = [m for m in sys.modules if m.startswith(('google.protobuf', 'opentelemetry.proto', "
            "'opentelemetry.exporter.otlp'))]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
