from types import SimpleNamespace

from vitalyst_otel.export.sizes import ITEM_OVERHEAD, log_record_size, span_size, truncate


def test_truncate_keeps_what_fits_and_marks_what_it_cut():
    assert truncate("short", 10) == "short"
    assert truncate("x" * 100, 10) == "x" * 10 + "…[truncated 90 chars]"


def test_sizes_grow_with_the_text_an_item_holds():
    small = SimpleNamespace(body="hi", attributes={"k": "v"})
    big = SimpleNamespace(body="x" * 10_000, attributes={"k": "v" * 5_000})
    assert log_record_size(small) < ITEM_OVERHEAD + 100
    assert log_record_size(big) >= 15_000
    event = SimpleNamespace(name="e", attributes={"exception.stacktrace": "t" * 3_000})
    assert span_size(SimpleNamespace(name="GET /", attributes={}, events=[event])) >= 3_000
