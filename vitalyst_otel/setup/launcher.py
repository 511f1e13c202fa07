"""The ``opentelemetry_configurator`` entry point: the launcher's way into :func:`configure`.

Its own module because its base class's module (``opentelemetry.sdk._configuration``, the SDK's
own auto-configuration, about 1 MiB) is needed only under ``opentelemetry-instrument``; the entry
point still names ``vitalyst_otel.setup.configure:VitalystConfigurator``, which resolves here.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk._configuration import _BaseConfigurator


class VitalystConfigurator(_BaseConfigurator):
    def _configure(self, **kwargs: Any) -> None:
        from vitalyst_otel.setup.configure import configure

        configure()

