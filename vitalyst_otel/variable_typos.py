"""Misspelt and unknown variables: names that look like ours or OpenTelemetry's but that nothing
installed reads.

Known names are the distribution's table, the constants of the SDK, API, instrumentation and
util-http ``environment_variables`` modules, those of every installed instrumentor's package, and
the per-instrumentor names contrib derives (``OTEL_PYTHON_<NAME>_EXCLUDED_URLS``, ...). Under
``OTEL_PYTHON_*`` and ``OTEL_INSTRUMENTATION_*`` (contrib's prefixes) a name nothing installed
reads is reported even without a close match; elsewhere only close matches are, since other
software also uses ``OTEL``-like names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib import import_module
from importlib.metadata import entry_points
from importlib.util import find_spec
from pathlib import Path

CONTRIB_PREFIXES = ("OTEL_PYTHON_", "OTEL_INSTRUMENTATION_")
_MODULES = (
    "opentelemetry.sdk.environment_variables",
    "opentelemetry.environment_variables",
    "opentelemetry.instrumentation.environment_variables",
    "opentelemetry.util.http",
)
_DECLARED = re.compile(r'^\w+\s*=\s*["\'](OTEL_\w+)["\']', re.MULTILINE)
# Derived per instrumentor by contrib (opentelemetry-util-http, the instrumentors' docs).
_PER_INSTRUMENTOR = ("OTEL_PYTHON_{}_EXCLUDED_URLS", "OTEL_PYTHON_{}_TRACED_REQUEST_ATTRS")


def _constants(module_name: str) -> set[str]:
    try:
        module = import_module(module_name)
    except Exception:  # an optional package, or a broken one: it reads nothing then
        return set()
    return {value for key, value in vars(module).items()
            if key.startswith(("OTEL_", "_OTEL_")) and isinstance(value, str) and value.startswith("OTEL_")}


def _contrib_packages() -> list[Path]:
    """The installed opentelemetry.instrumentation.* packages, found without importing them."""
    try:
        spec = find_spec("opentelemetry.instrumentation")
    except (ImportError, ValueError):
        return []
    roots = spec.submodule_search_locations if spec is not None else None
    return [child for root in roots or () for child in Path(root).iterdir()
            if child.is_dir() and (child / "__init__.py").is_file()]


def known_names(declared: Iterable[str]) -> set[str]:
    names = set(declared) | {"OTEL_PYTHON_DISTRO", "OTEL_PYTHON_CONFIGURATOR"}
    for module_name in _MODULES:
        names |= _constants(module_name)
    names.update(pattern.format(point.name.upper()) for point in entry_points(group="opentelemetry_instrumentor")
                 for pattern in _PER_INSTRUMENTOR)
    for package in _contrib_packages():
        names.update(pattern.format(package.name.upper()) for pattern in _PER_INSTRUMENTOR)
        declared_file = package / "environment_variables.py"
        if declared_file.is_file():  # read, not imported: importing would import the instrumented library
            names.update(_DECLARED.findall(declared_file.read_text(errors="replace")))
    return names


def find_typos(environ: Mapping[str, str], declared: Iterable[str]) -> list[tuple[str, str]]:
    """``(given, probably meant)`` for each suspicious name; meant is "" when nothing is close."""
    candidates = [name for name in environ if name.startswith(("OTEL", "VITALYST_", "OTLP_"))]
    if not candidates:
        return []
    known = known_names(declared)
    typos = []
    for name in candidates:
        if name in known:
            continue
        import difflib  # only for a name nothing knows: 0.2 MiB of RSS otherwise

        match = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
        if match:
            typos.append((name, match[0]))
        elif name.startswith(CONTRIB_PREFIXES):
            typos.append((name, ""))
    return typos


def unknown_variable_message(given: str, meant: str) -> str:
    if meant:
        return f"{given} is not a variable vitalyst_otel or OpenTelemetry knows; did you mean {meant}?"
    return f"{given} is not read by vitalyst_otel or any installed OpenTelemetry package (misspelt, or its instrumentation is not installed)"
