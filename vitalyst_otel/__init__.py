"""vitalyst_otel: an OpenTelemetry distribution for FastAPI services.

Two ways in, one behaviour:

- ``opentelemetry-instrument uvicorn myapp:app`` with ``OTEL_*`` variables, or
- ``vitalyst_otel.configure(app=app)`` in code.

Everything else a service needs is here too::

    configure(app=None, **overrides) -> Telemetry   set up traces, metrics, JSON logs (once)
    shutdown(timeout=None) -> bool                   flush and stop within a bound
    instrument_app(app) -> bool                      instrument an app created elsewhere
"""

from __future__ import annotations

from vitalyst_otel.setup.configure import configure, current, shutdown
from vitalyst_otel.setup.handle import Telemetry


def instrument_app(app) -> bool:
    """Instrument a Starlette/FastAPI ``app`` with the configured telemetry (configuring from
    the environment first if nothing is configured yet)."""
    handle = current() or configure()
    return handle.instrument_app(app)


__all__ = ["Telemetry", "configure", "current", "instrument_app", "shutdown"]
