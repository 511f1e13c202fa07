"""Every setting, declared once and parsed once into one typed :class:`Settings` object.

Precedence, the same for every variable: explicit ``configure()`` argument > environment >
config file (``VITALYST_CONFIG_FILE``, TOML, keys spelled as the variables) > default.
``OTEL_*`` variables keep the meaning the OpenTelemetry specification gives them; ``VITALYST_*``
exist only where OpenTelemetry has none.

A value that does not parse never raises: it becomes a :class:`ConfigProblem` naming the
variable, the value and what is accepted, and the setting falls back to a safe value that the
problem also names. :func:`vitalyst_otel.configurator` reports each problem once.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from vitalyst_otel import env

SIGNALS = ("traces", "metrics", "logs")

EXPLICIT = "argument"
ENVIRONMENT = "environment"
DEFAULT = "default"


class Invalid(ValueError):
    """Raised by a parser; the registry turns it into a ConfigProblem."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    variable: str
    value: str
    accepted: str
    fallback: str

    def message(self) -> str:
        return (
            f"{self.variable}={self.value!r} is not valid; accepted: {self.accepted}. "
            f"Using {self.fallback} instead."
        )


# --- parsers: each takes the raw value (a string, or a typed value from configure()) ---------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid
    return value.strip()


def _optional_text(value: Any) -> str | None:
    return _text(value) or None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text not in ("true", "false"):
        raise Invalid
    return text == "true"


def _int_at_least(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise Invalid
        if isinstance(value, int):
            number = value
        else:
            try:
                number = int(_text(value))
            except ValueError as exc:
                raise Invalid from exc
        if number < minimum:
            raise Invalid
        return number

    return parse


def _optional_int(value: Any) -> int | None:
    return None if value in ("", None) else _int_at_least(0)(value)


def _ratio(value: Any) -> float:
    try:
        number = float(value if not isinstance(value, str) else value.strip())
    except (TypeError, ValueError) as exc:
        raise Invalid from exc
    if not (0.0 <= number <= 1.0) or math.isnan(number):
        raise Invalid
    return number


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value).lower()
        if text not in choices:
            raise Invalid
        return text

    return parse


def _names(*choices: str, exclusive: str = "none") -> Callable[[Any], tuple[str, ...]]:
    """A comma-separated list of names from a fixed set; ``exclusive`` may only stand alone."""

    def parse(value: Any) -> tuple[str, ...]:
        items = value if isinstance(value, (list, tuple)) else _text(value).split(",")
        names = tuple(dict.fromkeys(str(item).strip().lower() for item in items if str(item).strip()))
        if not names or any(name not in choices for name in names):
            raise Invalid
        if exclusive in names and len(names) > 1:
            raise Invalid
        return () if names == (exclusive,) else names

    return parse


def _name_list(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else _text(value).split(",")
    return tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


DEFAULT_RESOURCE_DETECTORS = ("vitalyst_kubernetes", "vitalyst_container", "vitalyst_aws", "vitalyst_gcp",
                              "vitalyst_azure")


def _detector_names(value: Any) -> tuple[str, ...]:
    names = _name_list(value)
    if not names or any(not re.fullmatch(r"[A-Za-z0-9_.*-]+", name) for name in names):
        raise Invalid
    return () if names == ("none",) else names


def _key_value_list(value: Any) -> dict[str, str]:
    """W3C-baggage-like ``k1=v1,k2=v2`` with percent-decoded values (OTEL_RESOURCE_ATTRIBUTES and
    the OTLP headers variables)."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    pairs: dict[str, str] = {}
    for item in _text(value).split(","):
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        key = unquote(key.strip())
        if not sep or not key or any(c.isspace() for c in key):
            raise Invalid
        pairs[key] = unquote(val.strip())
    return pairs


def _url(value: Any) -> str:
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise Invalid from exc
    return text


def _genai_capture(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _choice("true", "false", "span_only", "span_and_event", "event_only", "no_content")(value)
    return text in ("true", "span_only", "span_and_event")


def _level(value: Any) -> str:
    text = _text(value).upper()
    text = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(text, text)
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise Invalid
    return text


def _byte_size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return _int_at_least(1)(value)
    text = _text(value).replace(" ", "")
    units = {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "B": 1}
    for suffix, factor in units.items():
        if text.upper().endswith(suffix):
            return _int_at_least(1)(text[: -len(suffix)]) * factor
    return _int_at_least(1)(text)


# --- the registry --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    default: Any
    parse: Callable[[Any], Any]
    accepted: str
    doc: str
    key: str | None = None
    secret: bool = False
    shown_default: str | None = None

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None or self.default == () or self.default == {}:
            return "(unset)"
        if isinstance(self.default, tuple):
            return ",".join(self.default)
        if isinstance(self.default, bool):
            return str(self.default).lower()
        return str(self.default)


TRACES_EXPORTERS = ("otlp", "console", "none")
METRICS_EXPORTERS = ("otlp", "prometheus", "console", "none")
LOGS_EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("http/protobuf", "grpc")
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
PROPAGATORS = ("tracecontext", "baggage", "b3", "b3multi", "jaeger", "none")
DEFAULT_EXCLUDED_URLS = ("^/health/live$", "^/health/ready$", "^/metrics$")
DEFAULT_REDACT_KEYS = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "password",
    "passwd",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "x-api-key",
    "secret",
    "client_secret",
)

_OTLP_DOC = "OTLP exporter {what} for all signals; the per-signal variable wins where set."
_OTLP_SIGNAL_DOC = "OTLP exporter {what} for {signal} only; falls back to {generic}."


def _otlp_vars() -> list[Var]:
    fields = [
        ("ENDPOINT", None, _url, "an absolute http:// or https:// URL", "endpoint", False,
         "http://localhost:4318 (http/protobuf) or http://localhost:4317 (grpc)"),
        ("PROTOCOL", None, _choice(*PROTOCOLS), "http/protobuf, grpc (needs the [grpc] extra)",
         "transport protocol", False, "http/protobuf"),
        ("HEADERS", None, _key_value_list, "comma-separated key=value pairs, values URL-encoded",
         "request headers (credentials: masked in every report)", True, None),
        ("TIMEOUT", None, _int_at_least(0), "a non-negative integer (milliseconds)",
         "timeout of one export request", False, "10000"),
        ("COMPRESSION", None, _choice("gzip", "none"), "gzip, none", "payload compression",
         False, "none"),
        ("CERTIFICATE", None, _optional_text, "a path to a PEM file of trusted certificates",
         "trusted CA certificates for TLS", False, None),
    ]
    out = []
    for suffix, default, parse, accepted, what, secret, shown in fields:
        generic = f"OTEL_EXPORTER_OTLP_{suffix}"
        out.append(Var(generic, default, parse, accepted, _OTLP_DOC.format(what=what),
                       secret=secret, shown_default=shown))
        for signal in SIGNALS:
            out.append(
                Var(f"OTEL_EXPORTER_OTLP_{signal.upper()}_{suffix}", None, parse, accepted,
                    _OTLP_SIGNAL_DOC.format(what=what, signal=signal, generic=generic),
                    secret=secret, shown_default=f"value of {generic}")
            )
    return out


def _limit(name: str, what: str, fallback: str) -> Var:
    return Var(name, None, _optional_int, "a non-negative integer", f"Maximum {what}.",
               shown_default=fallback)


VARIABLES: tuple[Var, ...] = (
    Var(env.OTEL_SDK_DISABLED, False, _bool, "true, false",
        "Disable all OpenTelemetry signals; JSON logging on stdout stays on.", key="sdk_disabled"),
    Var(env.OTEL_SERVICE_NAME, None, _optional_text, "any non-empty string",
        "service.name; wins over service.name in OTEL_RESOURCE_ATTRIBUTES. When neither is set, "
        "the name of the installed distribution that runs (or the main module) is used, never "
        "unknown_service.", key="service_name", shown_default="derived from the program"),
    Var(env.OTEL_RESOURCE_ATTRIBUTES, {}, _key_value_list,
        "comma-separated key=value pairs, values URL-encoded",
        "Extra resource attributes, e.g. service.namespace=vitalyst,service.version=1.4.2.",
        key="resource_attributes"),
    Var(env.OTEL_EXPERIMENTAL_RESOURCE_DETECTORS, DEFAULT_RESOURCE_DETECTORS, _detector_names,
        "comma-separated names of installed opentelemetry_resource_detector entry points (ours: "
        f"{', '.join(DEFAULT_RESOURCE_DETECTORS)}; the SDK's host, os, process; contrib's), * for all, none",
        "Resource detectors to run; later ones win on a conflict, OTEL_RESOURCE_ATTRIBUTES wins over all. "
        "Ours read only the environment and local files (docs/configuration.md#resource-detection).",
        key="resource_detectors"),
    Var(env.VITALYST_ENVIRONMENT, None, _optional_text, "any string, e.g. production, staging",
        "deployment.environment.name (OpenTelemetry has no variable of its own for it).",
        key="environment"),
    Var(env.OTEL_TRACES_EXPORTER, ("otlp",), _names(*TRACES_EXPORTERS), ", ".join(TRACES_EXPORTERS),
        "Span exporters, comma-separated.", key="traces_exporter"),
    Var(env.OTEL_METRICS_EXPORTER, ("otlp",), _names(*METRICS_EXPORTERS), ", ".join(METRICS_EXPORTERS),
        "Metric exporters, comma-separated; prometheus serves /metrics on the app (or "
        "OTEL_EXPORTER_PROMETHEUS_HOST:PORT without an app).", key="metrics_exporter"),
    Var(env.OTEL_LOGS_EXPORTER, ("otlp",), _names(*LOGS_EXPORTERS), ", ".join(LOGS_EXPORTERS),
        "Log record exporters of the OTLP log bridge; stdout JSON logs are independent of this.",
        key="logs_exporter"),
    *_otlp_vars(),
    Var(env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, "cumulative",
        _choice("cumulative", "delta", "lowmemory"), "cumulative, delta, lowmemory",
        "Aggregation temporality of OTLP metrics; Prometheus needs cumulative."),
    Var(env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION, "explicit_bucket_histogram",
        _choice("explicit_bucket_histogram", "base2_exponential_bucket_histogram"),
        "explicit_bucket_histogram, base2_exponential_bucket_histogram",
        "Default histogram aggregation of OTLP metrics."),
    Var(env.OTEL_EXPORTER_PROMETHEUS_HOST, "localhost", _text, "a host name or address",
        "Listen address of the Prometheus exporter's own server (only without an app)."),
    Var(env.OTEL_EXPORTER_PROMETHEUS_PORT, 9464, _int_at_least(1), "a port number",
        "Listen port of the Prometheus exporter's own server (only without an app)."),
    Var(env.OTEL_TRACES_SAMPLER, "parentbased_always_on", _choice(*SAMPLERS), ", ".join(SAMPLERS),
        "Head sampler.", key="traces_sampler"),
    Var(env.OTEL_TRACES_SAMPLER_ARG, None, _ratio, "a number from 0 to 1",
        "Ratio of the traceidratio samplers.", key="traces_sampler_arg", shown_default="1.0"),
    Var(env.OTEL_PROPAGATORS, ("tracecontext", "baggage"), _names(*PROPAGATORS),
        ", ".join(PROPAGATORS) + " (b3, b3multi and jaeger need their propagator packages)",
        "Context propagators, comma-separated.", key="propagators"),
    Var(env.OTEL_BSP_SCHEDULE_DELAY, 5000, _int_at_least(0), "a non-negative integer (ms)",
        "Delay between two span batch exports."),
    Var(env.OTEL_BSP_EXPORT_TIMEOUT, 30000, _int_at_least(0), "a non-negative integer (ms)",
        "Maximum time one span batch export may take."),
    Var(env.OTEL_BSP_MAX_QUEUE_SIZE, 2048, _int_at_least(1), "a positive integer",
        "Spans held for export; when full, new spans are dropped (and counted), never blocking."),
    Var(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512, _int_at_least(1), "a positive integer",
        "Spans per export request."),
    Var(env.OTEL_BLRP_SCHEDULE_DELAY, 1000, _int_at_least(0), "a non-negative integer (ms)",
        "Delay between two log batch exports."),
    Var(env.OTEL_BLRP_EXPORT_TIMEOUT, 30000, _int_at_least(0), "a non-negative integer (ms)",
        "Maximum time one log batch export may take."),
    Var(env.OTEL_BLRP_MAX_QUEUE_SIZE, 2048, _int_at_least(1), "a positive integer",
        "Log records held for export; when full, new records are dropped (and counted)."),
    Var(env.OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, 512, _int_at_least(1), "a positive integer",
        "Log records per export request."),
    Var(env.OTEL_METRIC_EXPORT_INTERVAL, 60000, _int_at_least(1), "a positive integer (ms)",
        "Interval between two metric exports.", key="metric_export_interval"),
    Var(env.OTEL_METRIC_EXPORT_TIMEOUT, 30000, _int_at_least(0), "a non-negative integer (ms)",
        "Maximum time one metric export may take."),
    Var(env.OTEL_METRICS_EXEMPLAR_FILTER, "trace_based", _choice("trace_based", "always_on", "always_off"),
        "trace_based, always_on, always_off", "Which measurements may become exemplars."),
    _limit(env.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, "length of an attribute value", "no limit"),
    _limit(env.OTEL_ATTRIBUTE_COUNT_LIMIT, "attributes per span, event, link or log record", "128"),
    _limit(env.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, "length of a span attribute value",
           "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
    _limit(env.OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, "attributes per span", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
    _limit(env.OTEL_SPAN_EVENT_COUNT_LIMIT, "events per span", "128"),
    _limit(env.OTEL_SPAN_LINK_COUNT_LIMIT, "links per span", "128"),
    _limit(env.OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, "attributes per span event", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
    _limit(env.OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, "attributes per span link", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
    _limit(env.OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT, "length of a log record attribute value",
           "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
    _limit(env.OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT, "attributes per log record", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
    Var(env.OTEL_LOG_LEVEL, "INFO", _level, "debug, info, warn, error",
        "Level of the SDK's and the distribution's own diagnostics (not the application's logs)."),
    Var(env.OTEL_SEMCONV_STABILITY_OPT_IN, ("http",), _name_list,
        "comma-separated: http, http/dup, and any other semantic-convention group",
        "Semantic-convention opt-in passed to contrib instrumentations. Our server instrumentation "
        "always emits the stable HTTP conventions."),
    Var(env.OTEL_PYTHON_FASTAPI_EXCLUDED_URLS, None, _name_list,
        "comma-separated regular expressions, searched in the request path",
        "Requests that get no span and no HTTP metrics; wins over OTEL_PYTHON_EXCLUDED_URLS.",
        shown_default="value of OTEL_PYTHON_EXCLUDED_URLS"),
    Var(env.OTEL_PYTHON_EXCLUDED_URLS, DEFAULT_EXCLUDED_URLS, _name_list,
        "comma-separated regular expressions, searched in the request path",
        "Requests that get no span, no HTTP metrics and no access log line.",
        key="excluded_urls", shown_default="^/health/live$,^/health/ready$,^/metrics$"),
    Var(env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, False, _genai_capture,
        "true, false (span_only and span_and_event mean true, event_only and no_content false)",
        "Record prompt and completion content on GenAI spans (redacted, truncated); contrib's GenAI "
        "instrumentors read the same variable.", key="genai_capture_content"),
    Var(env.VITALYST_LOG_FORMAT, "json", _choice("json", "text", "none"), "json, text, none",
        "Format of the application's log lines on stdout; none leaves logging alone.",
        key="log_format"),
    Var(env.VITALYST_LOG_LEVEL, "INFO", _level, "debug, info, warning, error, critical",
        "Level of the root logger (the application's logs).", key="log_level"),
    Var(env.VITALYST_LOG_FILE, None, _optional_text, "a file path",
        "Also write JSON log lines to this file, rotated.", key="log_file"),
    Var(env.VITALYST_LOG_FILE_ROTATION, "size", _choice("size", "time"), "size, time",
        "Rotate the log file by size (VITALYST_LOG_FILE_MAX_BYTES) or by time (VITALYST_LOG_FILE_WHEN)."),
    Var(env.VITALYST_LOG_FILE_MAX_BYTES, 10 * 1024 * 1024, _byte_size,
        "a positive size in bytes, or with a unit: 512KiB, 10MiB, 1GB", "Size at which the log file rotates.",
        shown_default="10MiB"),
    Var(env.VITALYST_LOG_FILE_WHEN, "midnight", _choice("s", "m", "h", "d", "midnight"),
        "S, M, H, D, midnight (as logging.handlers.TimedRotatingFileHandler)",
        "Interval at which the log file rotates."),
    Var(env.VITALYST_LOG_FILE_BACKUP_COUNT, 5, _int_at_least(0), "a non-negative integer",
        "Rotated log files kept."),
    Var(env.VITALYST_ACCESS_LOG, True, _bool, "true, false",
        "Log one JSON line per request (uvicorn's access log, reshaped).", key="access_log"),
    Var(env.VITALYST_REDACT_KEYS, (), _name_list, "comma-separated names (case-insensitive)",
        "Extra sensitive keys, masked in headers, query strings, log fields and span attributes "
        f"on top of the built-in ones ({', '.join(DEFAULT_REDACT_KEYS)}).", key="redact_keys"),
    Var(env.VITALYST_METRICS_ROUTE, "/metrics", _text, "a path",
        "Route on the app that serves Prometheus metrics when OTEL_METRICS_EXPORTER has prometheus."),
    Var(env.VITALYST_RUNTIME_METRICS, True, _bool, "true, false",
        "Process metrics (CPU time, memory, threads, file descriptors, context switches, GC) and "
        "the container memory limit.", key="runtime_metrics"),
    Var(env.VITALYST_HOST_METRICS, False, _bool, "true, false",
        "Also host-level system.* metrics (CPU, memory, network, disk of the whole host).",
        key="host_metrics"),
    Var(env.VITALYST_METRIC_CARDINALITY_LIMIT, 1000, _int_at_least(1), "a positive integer",
        "Most attribute sets (series) one instrument keeps; the rest aggregate into one overflow series."),
    Var(env.VITALYST_HEALTH_ROUTES, True, _bool, "true, false",
        "Serve /health/live and /health/ready on every instrumented app.", key="health_routes"),
    Var(env.VITALYST_HEALTH_CACHE_TTL, 2000, _int_at_least(0), "a non-negative integer (ms)",
        "How long a readiness result is reused, so a probe storm cannot overload a dependency."),
    Var(env.VITALYST_AUDIT_FALLBACK_FILE, "vitalyst-audit-fallback.jsonl", _text, "a file path",
        "Append-only file (rotated) for audit records the exporter could not deliver; put it on a volume.",
        key="audit_fallback_file"),
    Var(env.VITALYST_HASH_CLIENT_IP, False, _bool, "true, false",
        "Replace client addresses in logs and spans by a keyed hash.", key="hash_client_ip"),
    Var(env.VITALYST_HASH_SALT, None, _optional_text, "any secret string",
        "Key of the client-address hash; without it each process draws its own (hashes then do "
        "not match across processes).", secret=True),
    Var(env.VITALYST_SECURITY_LOG_RATE, 10, _int_at_least(1), "a positive integer",
        "Security log lines per second and event type; a flood beyond it is counted, not logged line by line."),
    Var(env.VITALYST_GC_FREEZE, True, _bool, "true, false",
        "Freeze the objects that exist once the app has started (gc.freeze()), so full garbage "
        "collections stop walking them: shorter pauses in the tail latency.", key="gc_freeze"),
    Var(env.VITALYST_SHUTDOWN_TIMEOUT, 5000, _int_at_least(0), "a non-negative integer (ms)",
        "Bound on flushing and shutting down at exit, whatever the state of the collector.",
        key="shutdown_timeout"),
)

BY_NAME: dict[str, Var] = {var.name: var for var in VARIABLES}
BY_KEY: dict[str, Var] = {var.key: var for var in VARIABLES if var.key}
# Keywords of configure() that have no variable: OTEL_RESOURCE_ATTRIBUTES carries them.
RESOURCE_KEYWORDS = {"service_namespace": "service.namespace", "service_version": "service.version"}


# --- the typed result ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OtlpSettings:
    endpoint: str
    protocol: str
    headers: Mapping[str, str]
    timeout_s: float
    compression: str
    certificate: str | None


@dataclass(frozen=True, slots=True)
class BatchSettings:
    schedule_delay_ms: int
    export_timeout_ms: int
    max_queue_size: int
    max_export_batch_size: int


@dataclass(frozen=True, slots=True)
class LimitSettings:
    attribute_count: int | None
    attribute_value_length: int | None
    span_attribute_count: int | None
    span_attribute_value_length: int | None
    span_event_count: int | None
    span_link_count: int | None
    event_attribute_count: int | None
    link_attribute_count: int | None
    log_attribute_count: int | None
    log_attribute_value_length: int | None


@dataclass(frozen=True, slots=True)
class LogFileSettings:
    path: str
    rotation: str
    max_bytes: int
    when: str
    backup_count: int


@dataclass(frozen=True)
class Settings:
    sdk_disabled: bool
    service_name: str
    resource_attributes: Mapping[str, str]
    traces_exporters: tuple[str, ...]
    metrics_exporters: tuple[str, ...]
    logs_exporters: tuple[str, ...]
    otlp: Mapping[str, OtlpSettings]
    metrics_temporality: str
    metrics_histogram_aggregation: str
    prometheus_host: str
    prometheus_port: int
    sampler: str
    sampler_ratio: float
    propagators: tuple[str, ...]
    span_batch: BatchSettings
    log_batch: BatchSettings
    metric_export_interval_ms: int
    metric_export_timeout_ms: int
    exemplar_filter: str
    limits: LimitSettings
    otel_log_level: str
    semconv_opt_in: tuple[str, ...]
    excluded_urls: tuple[str, ...]
    log_format: str
    log_level: str
    log_file: LogFileSettings | None
    access_log: bool
    redact_keys: tuple[str, ...]
    metrics_route: str
    shutdown_timeout_s: float
    runtime_metrics: bool = True
    host_metrics: bool = False
    metric_cardinality_limit: int = 1000
    health_routes: bool = True
    health_cache_ttl_s: float = 2.0
    audit_fallback_file: str = "vitalyst-audit-fallback.jsonl"
    hash_client_ip: bool = False
    hash_salt: str | None = None
    security_log_rate: int = 10
    gc_freeze: bool = True
    genai_capture_content: bool = False
    resource_detectors: tuple[str, ...] = DEFAULT_RESOURCE_DETECTORS
    views: tuple = ()  # OpenTelemetry SDK View objects (configure(views=...) or the config file)
    problems: tuple[ConfigProblem, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    unknown_variables: tuple[tuple[str, str], ...] = ()

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build the settings from arguments, an environment (default ``os.environ``) and the
        config file it names. Never raises for a bad value."""
        return _Builder(overrides or {}, os.environ if environ is None else environ).build()

    def describe(self) -> list[tuple[str, str, str]]:
        """(variable, effective raw value with secrets masked, source) for every variable."""
        rows = []
        for var in VARIABLES:
            source = self.sources.get(var.name, DEFAULT)
            rows.append((var.name, self._shown(var), source))
        return rows

    def _shown(self, var: Var) -> str:
        raw = self.sources.get(f"{var.name}#raw")
        if raw is None:
            return var.default_text()
        if var.secret:
            return mask_header_list(raw)
        return raw


def mask_header_list(raw: str) -> str:
    """``Authorization=Bearer abc,x-tenant=t1`` -> ``Authorization=***,x-tenant=***``."""
    shown = []
    for item in raw.split(","):
        key, sep, _ = item.partition("=")
        key = key.strip()
        if item.strip():
            shown.append(f"{key}=***" if sep and key and not any(c.isspace() for c in key) else "***")
    return ",".join(shown)


class _Builder:
    def __init__(self, overrides: Mapping[str, Any], environ: Mapping[str, str]):
        self.overrides = dict(overrides)
        self.environ = environ
        self.problems: list[ConfigProblem] = []
        self.sources: dict[str, str] = {}
        self.file_values: dict[str, Any] = {}
        self.file_label = ""
        self._load_file()

    def _load_file(self) -> None:
        path = self.overrides.pop("config_file", None) or self.environ.get(env.VITALYST_CONFIG_FILE)
        if not path:
            return
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            self.problems.append(ConfigProblem(env.VITALYST_CONFIG_FILE, str(path),
                                               f"a readable TOML file ({exc})", "no config file"))
            return
        self.file_label = f"file {path}"
        for name, value in data.items():
            if name in BY_NAME:
                self.file_values[name] = value
            else:
                self.problems.append(ConfigProblem(
                    f"{env.VITALYST_CONFIG_FILE} key {name}", str(value),
                    "the name of a variable in docs/configuration.md", "nothing for this key"))

    def raw(self, var: Var) -> tuple[Any, str] | None:
        if var.key and self.overrides.get(var.key) is not None:
            return self.overrides[var.key], EXPLICIT
        value = self.environ.get(var.name)
        if value is not None and value.strip() != "":
            return value, ENVIRONMENT
        if var.name in self.file_values:
            return self.file_values[var.name], self.file_label
        return None

    def get(self, name: str, fallback: Any = None, fallback_text: str | None = None) -> Any:
        """The parsed value, or on a bad value: record the problem and return the fallback
        (the variable's default unless given)."""
        var = BY_NAME[name]
        found = self.raw(var)
        if found is None:
            return var.default
        value, source = found
        try:
            parsed = var.parse(value)
        except Invalid:
            shown = mask_header_list(str(value)) if var.secret else str(value)
            if not any(p.variable == name for p in self.problems):
                self.problems.append(ConfigProblem(
                    name, shown, var.accepted,
                    fallback_text or f"the default ({var.default_text()})",
                ))
            return var.default if fallback is None else fallback
        self.sources[name] = source
        self.sources[f"{name}#raw"] = value if isinstance(value, str) else _render(value)
        return parsed

    def is_set(self, name: str) -> bool:
        return self.raw(BY_NAME[name]) is not None

    def build(self) -> Settings:
        get = self.get
        disabled = get(env.OTEL_SDK_DISABLED, fallback_text="false (the SDK stays on)")
        resource = dict(get(env.OTEL_RESOURCE_ATTRIBUTES, fallback={},
                            fallback_text="no extra resource attributes"))
        for keyword, attribute in RESOURCE_KEYWORDS.items():
            if self.overrides.get(keyword):
                resource[attribute] = str(self.overrides[keyword])
        environment = get(env.VITALYST_ENVIRONMENT)
        if environment:
            resource["deployment.environment.name"] = environment
        service_name = get(env.OTEL_SERVICE_NAME) or resource.get("service.name") or guess_service_name()
        resource["service.name"] = service_name

        exporters = {}
        for signal in SIGNALS:
            name = f"OTEL_{signal.upper()}_EXPORTER"
            exporters[signal] = get(name, fallback_text="the default (otlp) for this signal")

        sampler = get(env.OTEL_TRACES_SAMPLER)
        ratio = get(env.OTEL_TRACES_SAMPLER_ARG, fallback=1.0, fallback_text="1.0 (sample every trace)")
        if ratio is None:
            ratio = 1.0

        propagators = get(env.OTEL_PROPAGATORS)
        log_file_path = get(env.VITALYST_LOG_FILE)
        log_file = LogFileSettings(  # parsed even when unused, so a bad value is reported
            path=log_file_path or "",
            rotation=get(env.VITALYST_LOG_FILE_ROTATION),
            max_bytes=get(env.VITALYST_LOG_FILE_MAX_BYTES),
            when=get(env.VITALYST_LOG_FILE_WHEN),
            backup_count=get(env.VITALYST_LOG_FILE_BACKUP_COUNT),
        )
        excluded = get(env.OTEL_PYTHON_FASTAPI_EXCLUDED_URLS) or get(env.OTEL_PYTHON_EXCLUDED_URLS)
        checked: list[str] = []
        for pattern in excluded:
            try:
                re.compile(pattern)
                checked.append(pattern)
            except re.error:
                self.problems.append(ConfigProblem(env.OTEL_PYTHON_EXCLUDED_URLS, pattern,
                                                   "regular expressions", "the other patterns"))

        settings = Settings(
            sdk_disabled=disabled,
            service_name=service_name,
            resource_attributes=resource,
            traces_exporters=exporters["traces"],
            metrics_exporters=exporters["metrics"],
            logs_exporters=exporters["logs"],
            otlp={signal: self._otlp(signal) for signal in SIGNALS},
            metrics_temporality=get(env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE),
            metrics_histogram_aggregation=get(env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION),
            prometheus_host=get(env.OTEL_EXPORTER_PROMETHEUS_HOST),
            prometheus_port=get(env.OTEL_EXPORTER_PROMETHEUS_PORT),
            sampler=sampler,
            sampler_ratio=ratio,
            propagators=propagators,
            span_batch=self._batch("BSP"),
            log_batch=self._batch("BLRP"),
            metric_export_interval_ms=get(env.OTEL_METRIC_EXPORT_INTERVAL),
            metric_export_timeout_ms=get(env.OTEL_METRIC_EXPORT_TIMEOUT),
            exemplar_filter=get(env.OTEL_METRICS_EXEMPLAR_FILTER),
            limits=self._limits(),
            otel_log_level=get(env.OTEL_LOG_LEVEL),
            semconv_opt_in=get(env.OTEL_SEMCONV_STABILITY_OPT_IN),
            excluded_urls=tuple(checked),
            log_format=get(env.VITALYST_LOG_FORMAT),
            log_level=get(env.VITALYST_LOG_LEVEL),
            log_file=log_file if log_file_path else None,
            access_log=get(env.VITALYST_ACCESS_LOG),
            redact_keys=tuple(dict.fromkeys(
                k.lower() for k in (*DEFAULT_REDACT_KEYS, *get(env.VITALYST_REDACT_KEYS)))),
            metrics_route=get(env.VITALYST_METRICS_ROUTE),
            shutdown_timeout_s=get(env.VITALYST_SHUTDOWN_TIMEOUT) / 1000.0,
            runtime_metrics=get(env.VITALYST_RUNTIME_METRICS),
            host_metrics=get(env.VITALYST_HOST_METRICS),
            metric_cardinality_limit=get(env.VITALYST_METRIC_CARDINALITY_LIMIT),
            health_routes=get(env.VITALYST_HEALTH_ROUTES),
            health_cache_ttl_s=get(env.VITALYST_HEALTH_CACHE_TTL) / 1000.0,
            audit_fallback_file=get(env.VITALYST_AUDIT_FALLBACK_FILE),
            hash_client_ip=get(env.VITALYST_HASH_CLIENT_IP),
            hash_salt=get(env.VITALYST_HASH_SALT),
            security_log_rate=get(env.VITALYST_SECURITY_LOG_RATE),
            gc_freeze=get(env.VITALYST_GC_FREEZE),
            genai_capture_content=get(env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT),
            resource_detectors=get(env.OTEL_EXPERIMENTAL_RESOURCE_DETECTORS),
            views=self._views(),
            problems=(),
            sources=self.sources,
            unknown_variables=tuple(find_typos(self.environ)),
        )
        unknown_keys = set(self.overrides) - set(BY_KEY) - set(RESOURCE_KEYWORDS) - {"app", "config_file", "views"}
        for key in sorted(unknown_keys):
            self.problems.append(ConfigProblem(f"configure({key}=...)", _render(self.overrides[key]),
                                               "the keywords listed in docs/configuration.md",
                                               "nothing for this keyword"))
        object.__setattr__(settings, "problems", tuple(self.problems))
        return settings

    def _views(self) -> tuple:
        given = self.overrides.get("views")
        if not given:
            return ()
        from opentelemetry.sdk.metrics.view import View

        items = list(given) if isinstance(given, (list, tuple)) else [given]
        kept = tuple(view for view in items if isinstance(view, View))
        if len(kept) != len(items):
            self.problems.append(ConfigProblem(
                "configure(views=...)", ", ".join(type(v).__name__ for v in items if not isinstance(v, View)),
                "a list of opentelemetry.sdk.metrics.view.View objects", "only the View objects given"))
        self.sources["views"] = EXPLICIT
        return kept

    def _first(self, names: Iterable[str], fallback_text: str) -> tuple[Any, str | None]:
        """The first of ``names`` that is set and valid; a set but invalid one is reported and
        the next one (the generic variable, then the default) is used."""
        names = list(names)
        for index, name in enumerate(names):
            if self.is_set(name):
                rest = names[index + 1:]
                text = f"{' or '.join(rest)}, else {fallback_text}" if rest else fallback_text
                before = len(self.problems)
                value = self.get(name, fallback_text=text)
                if len(self.problems) == before:
                    return value, name
        return None, None

    def _otlp(self, signal: str) -> OtlpSettings:
        upper = signal.upper()

        def pair(suffix: str, fallback_text: str) -> tuple[Any, str | None]:
            return self._first(
                (f"OTEL_EXPORTER_OTLP_{upper}_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}"), fallback_text
            )

        protocol, _ = pair("PROTOCOL", "http/protobuf")
        protocol = protocol or "http/protobuf"
        default_endpoint = "http://localhost:4317" if protocol == "grpc" else "http://localhost:4318"
        endpoint, from_name = pair("ENDPOINT", f"the default endpoint for {signal}")
        if endpoint is None:
            endpoint = default_endpoint
            from_name = None
        if protocol != "grpc" and from_name in (None, env.OTEL_EXPORTER_OTLP_ENDPOINT):
            # The generic (or default) endpoint is a base URL: the signal path is appended.
            endpoint = endpoint.rstrip("/") + f"/v1/{signal}"
        headers, _ = pair("HEADERS", f"no headers for {signal}")
        timeout, _ = pair("TIMEOUT", "10000 ms")
        compression, _ = pair("COMPRESSION", "none")
        certificate, _ = pair("CERTIFICATE", "the system's trusted certificates")
        return OtlpSettings(
            endpoint=endpoint,
            protocol=protocol,
            headers=headers or {},
            timeout_s=(10000 if timeout is None else timeout) / 1000.0,
            compression=compression or "none",
            certificate=certificate,
        )

    def _batch(self, prefix: str) -> BatchSettings:
        return BatchSettings(
            schedule_delay_ms=self.get(f"OTEL_{prefix}_SCHEDULE_DELAY"),
            export_timeout_ms=self.get(f"OTEL_{prefix}_EXPORT_TIMEOUT"),
            max_queue_size=self.get(f"OTEL_{prefix}_MAX_QUEUE_SIZE"),
            max_export_batch_size=self.get(f"OTEL_{prefix}_MAX_EXPORT_BATCH_SIZE"),
        )

    def _limits(self) -> LimitSettings:
        g = self.get
        return LimitSettings(
            attribute_count=g(env.OTEL_ATTRIBUTE_COUNT_LIMIT),
            attribute_value_length=g(env.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT),
            span_attribute_count=g(env.OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT),
            span_attribute_value_length=g(env.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT),
            span_event_count=g(env.OTEL_SPAN_EVENT_COUNT_LIMIT),
            span_link_count=g(env.OTEL_SPAN_LINK_COUNT_LIMIT),
            event_attribute_count=g(env.OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT),
            link_attribute_count=g(env.OTEL_LINK_ATTRIBUTE_COUNT_LIMIT),
            log_attribute_count=g(env.OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT),
            log_attribute_value_length=g(env.OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT),
        )


def _render(value: Any) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


# --- derived defaults ----------------------------------------------------------------------

_SERVERS = {"uvicorn", "gunicorn", "hypercorn", "granian", "daphne", "fastapi", "opentelemetry-instrument"}


def guess_service_name(argv: list[str] | None = None, main_module: str | None = None) -> str:
    """The distribution (or module) the program runs, so a service is never ``unknown_service``:
    ``uvicorn shop.api:app`` -> the distribution providing ``shop`` (or ``shop``),
    ``python -m vitalyst_otel.demo`` -> vitalyst-otel, ``python tool.py`` -> tool."""
    import sys

    if argv is None:
        argv = list(sys.argv)
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        main_module = spec.name if spec is not None and spec.name else None
    program = os.path.basename(argv[0]).removesuffix(".py") if argv else ""
    module = None
    if program in _SERVERS or (main_module or "").split(".")[0] in _SERVERS:
        for arg in argv[1:]:
            if ":" in arg and not arg.startswith("-") and "/" not in arg:
                module = arg.split(":")[0].split(".")[0]
                break
    elif main_module:
        module = main_module.split(".")[0]
    elif program not in ("", "-c", "-m"):
        module = program
    if not module or module in ("__main__", "python", "python3"):
        return "python-service"
    try:
        from importlib.metadata import packages_distributions

        dists = packages_distributions().get(module)
        if dists:
            return dists[0]
    except Exception:  # pragma: no cover - metadata of a broken environment
        pass
    return module.replace("_", "-")


def _known_names() -> set[str]:
    names = set(BY_NAME) | {env.OTEL_PYTHON_DISTRO, env.OTEL_PYTHON_CONFIGURATOR}
    for module_name in (
        "opentelemetry.sdk.environment_variables",
        "opentelemetry.environment_variables",
        "opentelemetry.instrumentation.environment_variables",
    ):
        try:
            module = __import__(module_name, fromlist=["_"])
        except ImportError:  # pragma: no cover
            continue
        names.update(value for key, value in vars(module).items()
                     if key.startswith(("OTEL_", "_OTEL_")) and isinstance(value, str))
    return names


def find_typos(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """Variables that look like a misspelt OTEL_*/VITALYST_* name: (given, probably meant)."""
    candidates = [name for name in environ if name.startswith(("OTEL_", "VITALYST_", "OTLP_", "OTEL"))]
    if not candidates:
        return []
    known = _known_names()
    typos = []
    for name in candidates:
        if name in known or name.startswith(("OTEL_PYTHON_", "OTEL_INSTRUMENTATION_")):
            continue
        match = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
        if match:
            typos.append((name, match[0]))
    return typos
