"""Configuration: the variable table (:mod:`.variables`), its parsers (:mod:`.parsers`), the
resolution of every variable by precedence (:mod:`.loader`) and the frozen :class:`Settings`."""

from vitalyst_otel.config.loader import ConfigProblem, Source
from vitalyst_otel.config.settings import OtlpSettings, Settings

__all__ = ["ConfigProblem", "OtlpSettings", "Settings", "Source"]
