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

from vitalyst_otel.instrumentors import REPLACED_INSTRUMENTORS

_log = logging.getLogger("vitalyst_otel")
NAME = "vitalyst"
SELECTORS = (("distro", "opentelemetry_distro", "OTEL_PYTHON_DISTRO"),
             ("configurator", "opentelemetry_configurator", "OTEL_PYTHON_CONFIGURATOR"))


def entry_point_names(group: str) -> list[str]:
    """The names in an entry-point group, in the order the launcher sees them."""
    from opentelemetry.util._importlib_metadata import entry_points

    return list(dict.fromkeys(ep.name for ep in entry_points(group=group)))


def predicted_conflicts(environ=os.environ) -> list[str]:
    """:func:`launcher_conflicts` for a launcher started now with ``environ`` (for the doctor):
    the launcher takes the entry point its variable names, else the first it finds."""
    found = {}
    for kind, group, variable in SELECTORS:
        names = entry_point_names(group)
        chosen = environ.get(variable)
        found[kind] = (chosen == NAME if chosen else names[:1] == [NAME]), names
    return launcher_conflicts(found["distro"][0], found["configurator"][0], found["distro"][1],
                              found["configurator"][1], environ)


class VitalystDistro(BaseDistro):
    def _configure(self, **kwargs) -> None:
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

    def load_instrumentor(self, entry_point, **kwargs) -> None:
        if entry_point.name in REPLACED_INSTRUMENTORS:
            _log.debug("Not loading instrumentor %s: %s", entry_point.name,
                       REPLACED_INSTRUMENTORS[entry_point.name])
            return
        from vitalyst_otel.lazy_instrumentors import activate_on_import

        parent = super().load_instrumentor
        activate_on_import(entry_point, lambda: parent(entry_point, **kwargs))


def launcher_conflicts(distro_loaded: bool, configurator_loaded: bool,
                       distros: list[str], configurators: list[str],
                       environ=os.environ) -> list[str]:
    """Messages about the launcher's choice of distro and configurator (empty when clean)."""
    messages = []
    for (kind, _, variable), loaded, names in zip(SELECTORS, (distro_loaded, configurator_loaded),
                                                  (distros, configurators)):
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
    from vitalyst_otel.setup.configure import under_launcher

    for message in launcher_conflicts(
        VitalystDistro._instance is not None,
        under_launcher(),
        entry_point_names("opentelemetry_distro"),
        entry_point_names("opentelemetry_configurator"),
    ):
        _log.warning("%s", message)
