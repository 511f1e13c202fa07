"""The context propagators OTEL_PROPAGATORS names, as one composite propagator."""

from __future__ import annotations

import logging

from opentelemetry.propagators.composite import CompositePropagator

_log = logging.getLogger("vitalyst_otel")


def composite(names: tuple[str, ...]) -> CompositePropagator:
    """A propagator whose package is not installed is left out, with one warning."""
    chosen = []
    for name in names:
        try:
            chosen.append(propagator(name))
        except ImportError:
            _log.warning("OTEL_PROPAGATORS names %s, whose package is not installed "
                         "(pip install opentelemetry-propagator-%s); it is left out.",
                         name, "jaeger" if name == "jaeger" else "b3")
    return CompositePropagator(chosen)


def propagator(name: str):
    if name == "tracecontext":
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        return TraceContextTextMapPropagator()
    if name == "baggage":
        from vitalyst_otel.baggage import BoundedBaggagePropagator

        return BoundedBaggagePropagator()
    if name in ("b3", "b3multi"):
        from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat

        return B3SingleFormat() if name == "b3" else B3MultiFormat()
    from opentelemetry.propagators.jaeger import JaegerPropagator

    return JaegerPropagator()
