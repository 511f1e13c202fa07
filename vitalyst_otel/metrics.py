"""The meter provider: readers (OTLP, Prometheus, console), exemplar filter and views."""

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

EXEMPLAR_FILTERS = {
    "always_on": AlwaysOnExemplarFilter,
    "always_off": AlwaysOffExemplarFilter,
    "trace_based": TraceBasedExemplarFilter,
}


def build_meter_provider(settings: Settings, resource, factory: ExporterFactory,
                         extra_reader=None, redactor=None) -> tuple[MeterProvider, object | None]:
    readers = [extra_reader] if extra_reader is not None else []
    prometheus = None
    for name in settings.metrics_exporter:
        if name == "prometheus":
            from opentelemetry.exporter.prometheus import PrometheusMetricReader

            prometheus = PrometheusMetricReader()
            readers.append(prometheus)
            continue
        readers.append(PeriodicExportingMetricReader(
            factory.named("metrics", name),
            export_interval_millis=settings.metric_export_interval,
            export_timeout_millis=settings.metric_export_timeout,
        ))
    from opentelemetry.sdk.metrics.view import View

    # One view for every instrument: it changes nothing but the cap on series per instrument.
    cap = View(instrument_name="*", aggregation_cardinality_limit=settings.metric_cardinality_limit)
    if redactor is not None:
        from vitalyst_otel.redaction.metrics import redact_reader

        readers = [redact_reader(reader, redactor) for reader in readers]
    provider = MeterProvider(
        metric_readers=readers,
        resource=resource,
        exemplar_filter=EXEMPLAR_FILTERS[settings.metrics_exemplar_filter](),
        shutdown_on_exit=False,
        views=[cap],
    )
    return provider, prometheus


def prometheus_endpoint():
    """A Starlette endpoint serving the Prometheus reader's registry in the text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
    from starlette.responses import Response

    async def metrics(request):
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return metrics
