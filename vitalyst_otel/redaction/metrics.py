"""Metric point attributes redacted before any reader hands them on (OTLP export, Prometheus,
the test capture): a counter recorded with ``{"api_key": ...}`` exports ``[REDACTED]``."""

from __future__ import annotations

import dataclasses

from vitalyst_otel.redaction.redactor import Redactor
from vitalyst_otel.redaction.spans import clean_attributes


def clean_metrics_data(redactor: Redactor, data):
    """``data`` itself when no point attribute is masked, else a cleaned copy."""
    changed = False
    resource_metrics = []
    for rm in data.resource_metrics:
        scope_metrics = []
        for sm in rm.scope_metrics:
            metrics = []
            for metric in sm.metrics:
                points = []
                touched = False
                for point in metric.data.data_points:
                    attributes = clean_attributes(redactor, point.attributes)
                    exemplars = getattr(point, "exemplars", None)
                    new_exemplars = exemplars
                    if exemplars:
                        new_exemplars = [_clean_exemplar(redactor, e) for e in exemplars]
                        if all(a is b for a, b in zip(new_exemplars, exemplars)):
                            new_exemplars = exemplars
                    if attributes is not point.attributes or new_exemplars is not exemplars:
                        touched = True
                        changes = {"attributes": attributes}
                        if new_exemplars is not exemplars:
                            changes["exemplars"] = new_exemplars
                        point = dataclasses.replace(point, **changes)
                    points.append(point)
                if touched:
                    changed = True
                    metric = dataclasses.replace(metric, data=dataclasses.replace(metric.data, data_points=points))
                metrics.append(metric)
            scope_metrics.append(dataclasses.replace(sm, metrics=metrics))
        resource_metrics.append(dataclasses.replace(rm, scope_metrics=scope_metrics))
    if not changed:
        return data
    return dataclasses.replace(data, resource_metrics=resource_metrics)


def _clean_exemplar(redactor: Redactor, exemplar):
    attributes = clean_attributes(redactor, exemplar.filtered_attributes)
    if attributes is exemplar.filtered_attributes:
        return exemplar
    return dataclasses.replace(exemplar, filtered_attributes=attributes)


def redact_reader(reader, redactor: Redactor):
    """Wrap ``reader`` so that what it receives at each collection is redacted first (every
    SDK reader, in-memory, periodic or Prometheus, gets its data through ``_receive_metrics``)."""
    receive = reader._receive_metrics

    def receive_redacted(metrics_data, *args, **kwargs):
        return receive(clean_metrics_data(redactor, metrics_data), *args, **kwargs)

    reader._receive_metrics = receive_redacted
    return reader
