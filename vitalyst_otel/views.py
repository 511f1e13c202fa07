"""User views (OpenTelemetry SDK ``View`` objects from ``configure(views=[...])`` or the
configuration file) beside the distribution's cap on series per instrument.

The cap is set on every metric reader (``cardinality_limits`` per instrument class), not as a
catch-all view: a catch-all view would match every instrument a user view matches too, and the
SDK makes one stream per matching view, so a renamed metric would also appear under its old
name and a view dropping an attribute would still export it. A user view that sets its own
``aggregation_cardinality_limit`` above the cap is lowered to the cap, with a warning.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
    _Gauge,
)
from opentelemetry.sdk.metrics.view import View

_log = logging.getLogger("vitalyst_otel")
# The configuration file's instrument type names, and the SDK classes they stand for.
INSTRUMENT_TYPES = {"counter": Counter, "up_down_counter": UpDownCounter, "histogram": Histogram, "gauge": _Gauge,
                    "observable_counter": ObservableCounter, "observable_up_down_counter": ObservableUpDownCounter,
                    "observable_gauge": ObservableGauge}
INSTRUMENT_CLASSES = tuple(INSTRUMENT_TYPES.values())


def reader_limits(cap: int) -> dict[type, int]:
    """``cardinality_limits`` for a metric reader: ``cap`` series for every instrument class."""
    return dict.fromkeys(INSTRUMENT_CLASSES, cap)


def cap_reader(reader, cap: int) -> None:
    """Apply the cap to a reader built elsewhere (the test capture's in-memory reader)."""
    limits = getattr(reader, "_instrument_class_cardinality_limit", None)
    if isinstance(limits, dict):
        for cls in list(limits):
            limits[cls] = min(limits[cls], cap)


def capped(views: Iterable[View], cap: int) -> list[View]:
    """The user's views, each with a cardinality limit of at most ``cap``."""
    out = []
    for view in views:
        limit = view._aggregation_cardinality_limit  # noqa: SLF001 - the SDK keeps it only there
        if limit is not None and limit > cap:
            _log.warning("A view for %s sets aggregation_cardinality_limit=%d, above "
                         "VITALYST_METRIC_CARDINALITY_LIMIT=%d; the view is capped at %d.",
                         describe(view), limit, cap, cap)
            view = copy.copy(view)
            view._aggregation_cardinality_limit = cap  # noqa: SLF001
        out.append(view)
    return out


def checked(given) -> tuple[tuple[View, ...], str]:
    """The View objects of ``configure(views=...)``, and the type names of anything else given."""
    items = list(given) if isinstance(given, (list, tuple)) else [given]
    kept = tuple(view for view in items if isinstance(view, View))
    return kept, ", ".join(type(item).__name__ for item in items if not isinstance(item, View))


def describe(view: View) -> str:
    criteria = [f"{key}={value!r}" for key, value in (
        ("instrument_name", view._instrument_name), ("meter_name", view._meter_name),  # noqa: SLF001
        ("instrument_type", getattr(view._instrument_type, "__name__", None))) if value]  # noqa: SLF001
    return "View(" + ", ".join(criteria) + ")"
