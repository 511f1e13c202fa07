"""The typed settings: resolved once, frozen.

Every variable of the table is an attribute named by its keyword (``settings.traces_sampler``
for ``OTEL_TRACES_SAMPLER``), holding the effective value. A few values are completed here,
once, for every reader: ``service_name`` (never ``unknown_service``), ``resource_attributes``
(with service.name, deployment.environment.name and the resource keywords), ``redact_keys``
(the built-in keys plus the configured ones); ``otlp`` is the effective OTLP configuration of
each signal and ``excluded_paths`` the compiled excluded-URL patterns (the defaults unless
VITALYST_EXCLUDED_URLS_DEFAULTS=false, plus the user's; see vitalyst_otel.http.exclusions).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from vitalyst_otel.config.loader import DEFAULT, ConfigProblem, Source, resolve
from vitalyst_otel.config.parsers import mask_header_list
from vitalyst_otel.config.variables import (
    BY_KEY,
    DEFAULT_ENDPOINTS,
    DEFAULT_EXCLUDED_URLS,
    DEFAULT_REDACT_KEYS,
    RESOURCE_KEYWORDS,
    SIGNALS,
    VARIABLES,
)
from vitalyst_otel.http.exclusions import combine as combine_exclusions


@dataclass(frozen=True, slots=True)
class OtlpSettings:
    endpoint: str
    protocol: str
    headers: Mapping[str, str]
    timeout_s: float
    compression: str
    certificate: str | None


def otlp_endpoint(signal: str, protocol: str, own: str | None, generic: str | None) -> str:
    """The URL one signal is sent to: its own variable as given; else the generic one (or the
    protocol's default) as a base URL, to which http/protobuf appends ``/v1/<signal>``."""
    if own:
        return own
    base = generic or DEFAULT_ENDPOINTS[protocol]
    return base if protocol == "grpc" else base.rstrip("/") + f"/v1/{signal}"


def _otlp(values: Mapping[str, Any], signal: str) -> OtlpSettings:
    def get(suffix: str) -> Any:
        return values[f"exporter_otlp_{signal}_{suffix}"]

    protocol = get("protocol")
    return OtlpSettings(
        endpoint=otlp_endpoint(signal, protocol, get("endpoint"), values["exporter_otlp_endpoint"]),
        protocol=protocol, headers=MappingProxyType(dict(get("headers"))), timeout_s=get("timeout") / 1000.0,
        compression=get("compression"), certificate=get("certificate"))


def _completed(values: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    from vitalyst_otel.resources import guess_service_name

    resource = dict(values["resource_attributes"])
    for keyword, attribute in RESOURCE_KEYWORDS.items():
        if overrides.get(keyword):
            resource[attribute] = str(overrides[keyword])
    if values["environment"]:
        resource["deployment.environment.name"] = values["environment"]
    service_name = values["service_name"] or resource.get("service.name") or guess_service_name()
    resource["service.name"] = service_name
    values["service_name"] = service_name
    values["resource_attributes"] = MappingProxyType(resource)
    values["redact_keys"] = tuple(dict.fromkeys(k.lower() for k in (*DEFAULT_REDACT_KEYS, *values["redact_keys"])))


def _views(given: Any) -> tuple[tuple, tuple[ConfigProblem, ...]]:
    if not given:
        return (), ()
    from vitalyst_otel.views import checked

    kept, others = checked(given)
    if not others:
        return kept, ()
    return kept, (ConfigProblem("configure(views=...)", others, "a list of opentelemetry.sdk.metrics.view.View "
                                "objects", "only the View objects given"),)


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]
    otlp: Mapping[str, OtlpSettings]
    excluded_paths: re.Pattern | None
    sources: Mapping[str, Source]
    problems: tuple[ConfigProblem, ...]
    views: tuple = ()  # OpenTelemetry SDK View objects: configure(views=...) (vitalyst_otel.views)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not fields: the variables, by keyword.
        if name in BY_KEY:
            return object.__getattribute__(self, "values")[name]
        raise AttributeError(f"Settings has no attribute {name!r} (the keywords are in docs/configuration.md)")

    def __dir__(self) -> list[str]:
        return sorted({*object.__dir__(self), *BY_KEY})

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Resolve from arguments, an environment (default ``os.environ``) and the config file it
        names. Never raises for a bad value."""
        overrides = overrides or {}
        resolved = resolve(overrides, os.environ if environ is None else environ)
        values = dict(resolved.values)
        _completed(values, overrides)
        user = values["fastapi_excluded_urls"]
        if overrides.get("excluded_urls") is not None and overrides.get("fastapi_excluded_urls") is None:
            user = values["excluded_urls"]  # an argument beats the environment
        patterns = combine_exclusions(DEFAULT_EXCLUDED_URLS, user, values["excluded_urls_defaults"])
        views, view_problems = _views(overrides.get("views"))
        views = (*views, *resolved.views)
        return cls(values=MappingProxyType(values),
                   otlp=MappingProxyType({signal: _otlp(values, signal) for signal in SIGNALS}),
                   excluded_paths=re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None,
                   sources=MappingProxyType(dict(resolved.sources)),
                   problems=(*resolved.problems, *view_problems), views=views)

    def otlp_over_http(self, signal: str) -> OtlpSettings:
        """The signal's OTLP configuration over http/protobuf (when gRPC is asked for but its
        package is missing): the gRPC endpoint's host on the OTLP/HTTP port."""
        config = self.otlp[signal]
        endpoint = otlp_endpoint(signal, "http/protobuf", None, config.endpoint.replace(":4317", ":4318"))
        return replace(config, protocol="http/protobuf", endpoint=endpoint)

    def describe(self) -> list[tuple[str, str, str]]:
        """(variable, value as given with secrets masked, source) for every variable."""
        rows = []
        for var in VARIABLES:
            source = self.sources.get(var.name)
            if source is None:
                rows.append((var.name, var.default_text(), DEFAULT))
            else:
                rows.append((var.name, mask_header_list(source.raw) if var.secret else source.raw, source.origin))
        return rows
