"""Library instrumentation for ``configure()``, the way the launcher does it.

``opentelemetry-instrument`` loads every installed ``opentelemetry_instrumentor`` entry point
(httpx, requests, sqlalchemy, redis, ...); without this, an app set up in code got none of them.
Same rules as the launcher: OTEL_PYTHON_DISABLED_INSTRUMENTATIONS (names, or ``*`` for none)
is honoured, an instrumentor whose library is missing or whose versions conflict is skipped, one
that fails is reported and skipped, and the ones we replace (REPLACED_INSTRUMENTORS:
fastapi, starlette, logging, system_metrics; asgi has no entry point) are never loaded. Under the
launcher this does nothing: the launcher loads them itself, after the configurator.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

_log = logging.getLogger("vitalyst_otel")

# Contrib instrumentors we replace: loading them too would give a request two server spans
# (fastapi, starlette), a second OTLP log bridge (logging), or uncurated runtime metrics.
REPLACED_INSTRUMENTORS = {
    "fastapi": "HTTP server spans and metrics come from vitalyst_otel's own middleware",
    "starlette": "HTTP server spans and metrics come from vitalyst_otel's own middleware",
    "logging": "vitalyst_otel installs the one OTLP log bridge and the JSON log format",
    "system_metrics": "vitalyst_otel registers a curated set of runtime metrics",
}


def disabled_names(environ: Mapping[str, str]) -> set[str]:
    return {name.strip() for name in environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",") if name.strip()}


def load_installed(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Instrument the installed libraries; returns the names of the instrumentors enabled (each
    activated now, or when the app first imports its library: :mod:`vitalyst_otel.lazy_instrumentors`;
    a deferred one whose library turns out to be a version it does not support is skipped then)."""
    from opentelemetry.util._importlib_metadata import entry_points

    from vitalyst_otel.lazy_instrumentors import VersionConflict, activate_on_import

    disabled = disabled_names(environ)
    if "*" in disabled:
        return []
    loaded = []
    for entry_point in entry_points(group="opentelemetry_instrumentor"):
        if entry_point.name in disabled or entry_point.name in REPLACED_INSTRUMENTORS:
            continue
        try:
            activate_on_import(entry_point, lambda entry_point=entry_point: _activate(entry_point))
            loaded.append(entry_point.name)
        except (ModuleNotFoundError, VersionConflict) as exc:  # the library is missing, or not a supported version
            _log.debug("Not instrumenting %s: %s", entry_point.name, exc)
        except Exception as exc:  # noqa: BLE001 - one bad instrumentor must not stop the others
            _log.warning("Instrumenting %s failed (%s: %s); it runs uninstrumented.",
                         entry_point.name, type(exc).__name__, exc)
    return loaded


def _activate(entry_point) -> None:
    """Load and instrument, as the launcher does, after the version check: done when the
    library is imported, since the check needs packaging (about 0.5 MiB of RSS)."""
    from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts

    from vitalyst_otel.lazy_instrumentors import VersionConflict

    dist = getattr(entry_point, "dist", None)
    conflict = get_dist_dependency_conflicts(dist) if dist is not None else None
    if conflict:
        raise VersionConflict(str(conflict))
    entry_point.load()().instrument(skip_dep_check=True)
