"""Resolving every variable of the table, the same way for each.

Precedence: explicit ``configure()`` argument > environment > config file > default (or, for a
variable that inherits, the value of its parent: a per-signal OTLP variable falls back to the
generic one). An OpenTelemetry configuration file (``OTEL_CONFIG_FILE``, :mod:`.declarative`) is
the whole configuration: while one is given the environment is not read (only substituted into
the file); arguments still win. The deprecated ``VITALYST_CONFIG_FILE`` (TOML, keys spelled as
the variables) is the config-file layer otherwise.

A value that does not parse never raises: it becomes a :class:`ConfigProblem` naming the
variable, the value (masked if secret), what is accepted and what is used instead.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vitalyst_otel.config.parsers import Invalid, mask_header_list, render
from vitalyst_otel.config.variables import (
    BY_KEY,
    BY_NAME,
    CONFIG_FILE,
    OBJECT_KEYWORDS,
    RESOURCE_KEYWORDS,
    VARIABLES,
    Var,
)

ARGUMENT = "argument"
ENVIRONMENT = "environment"
DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    variable: str
    value: str
    accepted: str
    fallback: str
    note: str = ""  # a message of its own (configuration-file notices)
    severity: str = "warning"

    def message(self) -> str:
        if self.note:
            return self.note
        return (f"{self.variable}={self.value!r} is not valid; accepted: {self.accepted}. "
                f"Using {self.fallback} instead.")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a variable's value came from (``argument``, ``environment``, ``file <path>``) and
    the value as given there, rendered as the variable would spell it."""

    origin: str
    raw: str


@dataclass(frozen=True, slots=True)
class Resolved:
    values: Mapping[str, Any]  # keyword -> parsed value
    sources: Mapping[str, Source]  # variable -> source, for the variables that were set
    problems: tuple[ConfigProblem, ...]
    views: tuple = ()  # SDK View objects from the configuration file


def _notice(variable: str, text: str, severity: str = "warning") -> ConfigProblem:
    return ConfigProblem(variable, "", "", "", note=text, severity=severity)


def _read_declarative(path: str, variable: str, environ: Mapping[str, str],
                      problems: list[ConfigProblem]) -> tuple[dict[str, Any], tuple]:
    """The variables and views of an OpenTelemetry configuration file (config/declarative.py reads it, config/file_mapping.py maps it)."""
    from vitalyst_otel.config import declarative, file_mapping

    if variable == "OTEL_EXPERIMENTAL_CONFIG_FILE":
        problems.append(_notice(variable, "OTEL_EXPERIMENTAL_CONFIG_FILE is deprecated; name the file in "
                                          "OTEL_CONFIG_FILE (same meaning)."))
    try:
        document = declarative.read(path, environ)
    except declarative.FileError as exc:
        problems.append(_notice(variable, f"Configuration file {path} ({variable}) is not valid: {exc.where}: "
                                          f"{exc.what}; accepted: {exc.accepted}. Telemetry uses the defaults "
                                          "(environment variables are not read while a configuration file is "
                                          "given).", severity="error"))
        return {}, ()
    mapped = file_mapping.to_variables(document, {var.key: var.name for var in VARIABLES if var.name != CONFIG_FILE})
    for part, instead in mapped.unsupported:
        problems.append(_notice(variable, f"Configuration file {path}: {part} is not supported by vitalyst_otel; "
                                          f"{instead} (docs/configuration.md#configuration-file lists what is)."))
    return mapped.variables, tuple(mapped.views)


def _read_file(path: str, problems: list[ConfigProblem]) -> tuple[dict[str, Any], str]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        problems.append(ConfigProblem(CONFIG_FILE, str(path), f"a readable TOML file ({exc})", "no config file"))
        return {}, ""
    known = {}
    for name, value in data.items():
        if name in BY_NAME and name != CONFIG_FILE:
            known[name] = value
        else:
            problems.append(ConfigProblem(f"{CONFIG_FILE} key {name}", str(value),
                                          "the name of a variable in docs/configuration.md", "nothing for this key"))
    return known, f"file {path}"


def _shown(var: Var, raw: str) -> str:
    return mask_header_list(raw) if var.secret else raw


def resolve(overrides: Mapping[str, Any], environ: Mapping[str, str]) -> Resolved:
    """Every variable's value, where it came from, and what was wrong."""
    problems: list[ConfigProblem] = []
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    file_values: dict[str, Any] = {}
    file_label = ""
    file_views: tuple = ()
    from vitalyst_otel.config.declarative import file_of

    declarative_path, declarative_variable = file_of(environ)
    if overrides.get("otel_config_file"):
        declarative_path, declarative_variable = str(overrides["otel_config_file"]), "OTEL_CONFIG_FILE"
    if declarative_path:
        # The file is the configuration: the environment counts only through ${VAR} substitution.
        file_values, file_views = _read_declarative(declarative_path, declarative_variable, environ, problems)
        file_label = f"config file {declarative_path}"
        environ = {declarative_variable: declarative_path}

    def lookup(var: Var) -> tuple[Any, str] | None:
        if overrides.get(var.key) is not None:
            return overrides[var.key], ARGUMENT
        value = environ.get(var.name)
        if value is not None and value.strip() != "":
            return value, ENVIRONMENT
        if var.name in file_values:
            return file_values[var.name], file_label
        return None

    for var in VARIABLES:  # a parent row comes before the rows that inherit from it
        fallback = values[BY_NAME[var.inherits].key] if var.inherits else var.default
        found = lookup(var)
        if found is None:
            values[var.key] = fallback
            continue
        raw, origin = found
        rendered = raw if isinstance(raw, str) else render(raw)
        try:
            values[var.key] = var.parse(raw)
        except Invalid as exc:
            problems.append(ConfigProblem(var.name, _shown(var, rendered), var.accepted, var.fallback_text()))
            values[var.key] = fallback if exc.partial is None else exc.partial
            if exc.partial is None:
                continue
        sources[var.name] = Source(origin, rendered)
        if var.name == CONFIG_FILE and values[var.key]:
            problems.append(_notice(f"{CONFIG_FILE} (deprecated)", f"{CONFIG_FILE} is deprecated: write an OpenTelemetry configuration "
                                                 "file (OTEL_CONFIG_FILE) with our options under distribution.vitalyst "
                                                 "(docs/configuration.md#configuration-file)."))
            file_values, file_label = _read_file(values[var.key], problems)

    for key in sorted(set(overrides) - set(BY_KEY) - set(RESOURCE_KEYWORDS) - set(OBJECT_KEYWORDS)):
        problems.append(ConfigProblem(f"configure({key}=...)", render(overrides[key]),
                                      "the keywords listed in docs/configuration.md", "nothing for this keyword"))
    return Resolved(values, sources, tuple(problems), file_views)
