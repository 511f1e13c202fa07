"""The meter provider: readers (OTLP, Prometheus, console) with the series cap, exemplar filter
and the user's views (:mod:`vitalyst_otel.views`)."""

from __future__ import annotations

from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    MeterProvider,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from vitalyst_otel.config import Settings
from vitalyst_otel.export.factory import ExporterFactory
from vitalyst_otel.views import cap_reader, capped, reader_limits

EXEMPLAR_FILTERS = {
    "always_on": AlwaysOnExemplarFilter,
    "always_off": AlwaysOffExemplarFilter,
    "trace_based": TraceBasedExemplarFilter,
}


def prometheus_reader(cap: int):
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    return PrometheusMetricReader(cardinality_limits=reader_limits(cap))


def build_meter_provider(settings: Settings, resource, factory: ExporterFactory,
                         extra_reader=None, redactor=None) -> tuple[MeterProvider, object | None]:
    cap = settings.metric_cardinality_limit
    readers = [extra_reader] if extra_reader is not None else []
    if extra_reader is not None:
        cap_reader(extra_reader, cap)
    prometheus = None
    for name in settings.metrics_exporter:
        if name == "prometheus":
            prometheus = prometheus_reader(cap)
            readers.append(prometheus)
            continue
        readers.append(PeriodicExportingMetricReader(
            factory.named("metrics", name),
            export_interval_millis=settings.metric_export_interval,
            export_timeout_millis=settings.metric_export_timeout,
            cardinality_limits=reader_limits(cap),
        ))
    if redactor is not None:
        from vitalyst_otel.redaction.metrics import redact_reader

        readers = [redact_reader(reader, redactor) for reader in readers]
    provider = MeterProvider(
        metric_readers=readers,
        resource=resource,
        exemplar_filter=EXEMPLAR_FILTERS[settings.metrics_exemplar_filter](),
        shutdown_on_exit=False,
        views=capped(settings.views, cap),
    )
    return provider, prometheus


def prometheus_endpoint():
    """A Starlette endpoint serving the Prometheus reader's registry in the text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
    from starlette.responses import Response

    async def metrics(request):
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return metrics
