"""The tracer provider: sampler, limits, batch processors and span exporters from the settings."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanLimits, TracerProvider, sampling

from vitalyst_otel.config import Settings
from vitalyst_otel.export.batch import BatchQueue
from vitalyst_otel.export.factory import ExporterFactory
from vitalyst_otel.export.redacting import RedactingSpanExporter
from vitalyst_otel.export.sizes import span_size
from vitalyst_otel.export.span_processor import QueueSpanProcessor
from vitalyst_otel.redaction import Redactor


def build_sampler(settings: Settings) -> sampling.Sampler:
    ratio = settings.traces_sampler_arg
    return {
        "always_on": lambda: sampling.ALWAYS_ON,
        "always_off": lambda: sampling.ALWAYS_OFF,
        "traceidratio": lambda: sampling.TraceIdRatioBased(ratio),
        "parentbased_always_on": lambda: sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": lambda: sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": lambda: sampling.ParentBased(sampling.TraceIdRatioBased(ratio)),
    }[settings.traces_sampler]()


def build_span_limits(settings: Settings) -> SpanLimits:
    def length(value):
        return SpanLimits.UNSET if value is None else value

    return SpanLimits(
        max_attributes=settings.attribute_count_limit,
        max_events=settings.span_event_count_limit,
        max_links=settings.span_link_count_limit,
        max_span_attributes=settings.span_attribute_count_limit,
        max_event_attributes=settings.event_attribute_count_limit,
        max_link_attributes=settings.link_attribute_count_limit,
        max_attribute_length=length(settings.attribute_value_length_limit),
        max_span_attribute_length=length(settings.span_attribute_value_length_limit),
    )


def build_tracer_provider(settings: Settings, resource, redactor: Redactor, factory: ExporterFactory,
                          extra_exporter=None) -> TracerProvider:
    """``extra_exporter`` (the test capture) gets every span synchronously, redacted like the rest."""
    provider = TracerProvider(sampler=build_sampler(settings), resource=resource,
                              span_limits=build_span_limits(settings), shutdown_on_exit=False)
    for name in settings.traces_exporter:
        exporter = factory.named("traces", name)
        status = getattr(exporter, "status", None)
        provider.add_span_processor(QueueSpanProcessor(BatchQueue(
            [RedactingSpanExporter(exporter, redactor)], "traces", max_queue=settings.bsp_max_queue_size,
            max_batch=settings.bsp_max_export_batch_size, delay_s=settings.bsp_schedule_delay / 1000,
            on_full=(lambda items: status.dropped(len(items))) if status is not None else None,
            max_bytes=settings.export_queue_max_bytes, size_of=span_size)))
    if extra_exporter is not None:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(extra_exporter, redactor)))
    return provider
