"""User views beside the series cap (vitalyst_otel/views.py, metrics.build_meter_provider)."""

import logging

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View

from vitalyst_otel.export.factory import ExporterFactory
from vitalyst_otel.metrics import build_meter_provider
from vitalyst_otel.config import Settings


def provider_with(views=(), cap="50"):
    settings = Settings.load({"metrics_exporter": "none", "views": list(views)},
                             environ={"VITALYST_METRIC_CARDINALITY_LIMIT": cap})
    reader = InMemoryMetricReader()
    provider, _ = build_meter_provider(settings, None, ExporterFactory(settings), extra_reader=reader)
    return settings, provider, reader


def streams(reader) -> dict:
    return {metric.name: metric.data.data_points
            for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for metric in sm.metrics}


def test_a_rename_and_an_attribute_drop_replace_the_stream_and_the_cap_still_holds():
    views = [View(instrument_name="graph.lookups", name="vitalyst.graph.lookups"),
             View(instrument_name="http.calls", attribute_keys={"http.request.method"})]
    settings, provider, reader = provider_with(views=views)
    meter = provider.get_meter("t")
    lookups, calls, other = (meter.create_counter(n) for n in ("graph.lookups", "http.calls", "unbounded"))
    for i in range(200):
        lookups.add(1, {"user.id": str(i)})
        calls.add(1, {"http.request.method": "GET", "user.id": str(i)})
        other.add(1, {"user.id": str(i)})
    found = streams(reader)
    assert set(found) == {"vitalyst.graph.lookups", "http.calls", "unbounded"}  # no stream under the old name
    assert len(found["vitalyst.graph.lookups"]) == 51  # the renamed stream is capped too: 50 + overflow
    assert [dict(p.attributes) for p in found["http.calls"]] == [{"http.request.method": "GET"}]
    assert found["http.calls"][0].value == 200
    assert len(found["unbounded"]) == 51 and any(p.attributes.get("otel.metric.overflow") for p in found["unbounded"])
    provider.shutdown()


def test_views_from_settings_apply_and_bad_items_are_one_problem():
    view = View(instrument_name="graph.lookups", name="vitalyst.graph.lookups")
    settings, provider, reader = provider_with(views=[view, "not a view"])
    assert settings.views == (view,)
    (problem,) = settings.problems
    assert problem.variable == "configure(views=...)" and "str" in problem.message()
    provider.get_meter("t").create_counter("graph.lookups").add(3)
    assert set(streams(reader)) == {"vitalyst.graph.lookups"}
    provider.shutdown()


def test_a_view_limit_above_the_cap_is_lowered(caplog):
    views = [View(instrument_name="wide", aggregation_cardinality_limit=10_000)]
    with caplog.at_level(logging.WARNING, logger="vitalyst_otel"):
        _, provider, reader = provider_with(views=views, cap="20")
    counter = provider.get_meter("t").create_counter("wide")
    for i in range(100):
        counter.add(1, {"k": str(i)})
    assert len(streams(reader)["wide"]) == 21
    assert "VITALYST_METRIC_CARDINALITY_LIMIT=20" in caplog.text and "instrument_name='wide'" in caplog.text
    provider.shutdown()
