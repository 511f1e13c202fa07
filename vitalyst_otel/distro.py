"""The ``opentelemetry_distro`` entry point: what ``opentelemetry-instrument`` loads first.

The launcher takes the first distro and the first configurator it finds. With another
distribution installed beside us (``opentelemetry-distro``, say) that choice is an accident of
install order, so we say so once and name the two variables that make it explicit:
``OTEL_PYTHON_DISTRO=vitalyst`` and ``OTEL_PYTHON_CONFIGURATOR=vitalyst``.
"""

from __future__ import annotations

import logging
import os

from opentelemetry.instrumentation.distro import BaseDistro

_log = logging.getLogger("vitalyst_otel")
NAME = "vitalyst"

# Contrib instrumentors we replace: loading them too would give a request two server spans
# (fastapi, starlette), a second OTLP log bridge (logging), or uncurated runtime metrics.
REPLACED_INSTRUMENTORS = {
    "fastapi": "HTTP server spans and metrics come from vitalyst_otel's own middleware",
    "starlette": "HTTP server spans and metrics come from vitalyst_otel's own middleware",
    "logging": "vitalyst_otel installs the one OTLP log bridge and the JSON log format",
    "system_metrics": "vitalyst_otel registers a curated set of runtime metrics",
}


def _entry_point_names(group: str) -> list[str]:
    from opentelemetry.util._importlib_metadata import entry_points

    return [ep.name for ep in entry_points(group=group)]


class VitalystDistro(BaseDistro):
    def _configure(self, **kwargs) -> None:
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

    def load_instrumentor(self, entry_point, **kwargs) -> None:
        if entry_point.name in REPLACED_INSTRUMENTORS:
            _log.debug("Not loading instrumentor %s: %s", entry_point.name,
                       REPLACED_INSTRUMENTORS[entry_point.name])
            return
        super().load_instrumentor(entry_point, **kwargs)


def launcher_conflicts(distro_loaded: bool, configurator_loaded: bool,
                       distros: list[str], configurators: list[str],
                       environ=os.environ) -> list[str]:
    """Messages about the launcher's choice of distro and configurator (empty when clean)."""
    messages = []
    for kind, loaded, names, variable in (
        ("distro", distro_loaded, distros, "OTEL_PYTHON_DISTRO"),
        ("configurator", configurator_loaded, configurators, "OTEL_PYTHON_CONFIGURATOR"),
    ):
        others = [name for name in names if name != NAME]
        chosen = environ.get(variable)
        if not loaded:
            messages.append(
                f"opentelemetry-instrument did not load vitalyst_otel's {kind} "
                f"({variable}={chosen!r}; installed: {', '.join(names)}). Set {variable}={NAME} "
                "to use it.")
        elif others and not chosen:
            messages.append(
                f"Several OpenTelemetry {kind}s are installed ({', '.join(names)}); the launcher "
                f"takes the first it finds, which this time was {NAME}. Set {variable}={NAME} to "
                "make that choice explicit.")
    return messages


def check_launcher_selection() -> None:
    """``opentelemetry_pre_instrument`` entry point: runs after the launcher chose its distro and
    configurator, whichever they were, and warns once if the choice was not (reliably) ours."""
    from vitalyst_otel.configurator import VitalystConfigurator

    for message in launcher_conflicts(
        VitalystDistro._instance is not None,
        VitalystConfigurator._instance is not None,
        _entry_point_names("opentelemetry_distro"),
        _entry_point_names("opentelemetry_configurator"),
    ):
        _log.warning("%s", message)
