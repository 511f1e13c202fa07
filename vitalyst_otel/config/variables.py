"""The variable table: every setting, declared once.

One row per variable: its name, default, parser, accepted values and meaning. The row's
keyword (``OTEL_TRACES_SAMPLER`` -> ``traces_sampler``) is the ``configure()`` keyword and the
:class:`~vitalyst_otel.config.settings.Settings` attribute. docs/configuration.md is generated
from this table (tools/gen_config_doc.py). ``OTEL_*`` names come from the OpenTelemetry packages
where they define them; ``VITALYST_*`` exist only where OpenTelemetry has none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import environment_variables as api
from opentelemetry.instrumentation import environment_variables as instrumentation
from opentelemetry.sdk import environment_variables as sdk

from vitalyst_otel.config import parsers as p

SIGNALS = ("traces", "metrics", "logs")
_PREFIXES = ("OTEL_PYTHON_", "OTEL_", "VITALYST_")


def keyword_of(name: str) -> str:
    """The keyword of a variable: its name without the prefix, in lower case."""
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):].lower()
    return name.lower()


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    default: Any
    parse: Callable[[Any], Any]
    accepted: str
    doc: str
    secret: bool = False
    shown_default: str | None = None
    inherits: str | None = None  # unset: the value of this variable (declared earlier)
    fallback: str | None = None  # what a bad value falls back to, in words
    keyword: str | None = None  # only where the rule would give two variables one keyword

    @property
    def key(self) -> str:
        return self.keyword or keyword_of(self.name)

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if self.inherits is not None:
            return f"value of {self.inherits}"
        if self.default is None or self.default == () or self.default == {}:
            return "(unset)"
        return p.render(self.default)

    def fallback_text(self) -> str:
        if self.fallback is not None:
            return self.fallback
        if self.inherits is not None:
            return f"the value of {self.inherits}"
        return f"the default ({self.default_text()})"


TRACES_EXPORTERS = ("otlp", "console", "none")
METRICS_EXPORTERS = ("otlp", "prometheus", "console", "none")
LOGS_EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("http/protobuf", "grpc")
SAMPLERS = ("always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off",
            "parentbased_traceidratio")
PROPAGATORS = ("tracecontext", "baggage", "b3", "b3multi", "jaeger", "none")
DEFAULT_EXCLUDED_URLS = ("^/health/live$", "^/health/ready$", "^/metrics$")
DEFAULT_REDACT_KEYS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "password", "passwd",
                       "token", "access_token", "refresh_token", "id_token", "api_key", "apikey", "x-api-key",
                       "secret", "client_secret")
DEFAULT_ENDPOINTS = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}
CONFIG_FILE = "VITALYST_CONFIG_FILE"
# Ours (vitalyst_otel.resource_detectors); the SDK's entry points and contrib's can be named too.
DEFAULT_RESOURCE_DETECTORS = ("vitalyst_kubernetes", "vitalyst_container", "vitalyst_aws", "vitalyst_gcp",
                              "vitalyst_azure")

_OTLP = [  # suffix, default, parser, accepted, what, secret, shown default
    ("ENDPOINT", None, p.url, "an absolute http:// or https:// URL", "endpoint", False,
     "http://localhost:4318 (http/protobuf) or http://localhost:4317 (grpc)"),
    ("PROTOCOL", "http/protobuf", p.choice(*PROTOCOLS), "http/protobuf, grpc (needs the [grpc] extra)",
     "transport protocol", False, None),
    ("HEADERS", {}, p.key_value_list, "comma-separated key=value pairs, values URL-encoded",
     "request headers (credentials: masked in every report)", True, None),
    ("TIMEOUT", 10000, p.int_at_least(0), "a non-negative integer (milliseconds)",
     "timeout of one export request", False, None),
    ("COMPRESSION", "none", p.choice("gzip", "none"), "gzip, none", "payload compression", False, None),
    ("CERTIFICATE", None, p.optional_text, "a path to a PEM file of trusted certificates",
     "trusted CA certificates for TLS", False, None),
]


def _otlp_rows() -> list[Var]:
    rows = []
    for suffix, default, parse, accepted, what, secret, shown in _OTLP:
        generic = f"OTEL_EXPORTER_OTLP_{suffix}"
        rows.append(Var(generic, default, parse, accepted,
                        f"OTLP exporter {what} for all signals; the per-signal variable wins where set.",
                        secret=secret, shown_default=shown))
        for signal in SIGNALS:
            endpoint = suffix == "ENDPOINT"
            rows.append(Var(
                f"OTEL_EXPORTER_OTLP_{signal.upper()}_{suffix}", None, parse, accepted,
                f"OTLP exporter {what} for {signal} only; falls back to {generic}.", secret=secret,
                inherits=None if endpoint else generic,
                shown_default=f"value of {generic} + /v1/{signal}" if endpoint else None,
                fallback=f"the value of {generic}, else the default" if endpoint else None))
    return rows


def _limit(name: str, what: str, default: int | None = None, inherits: str | None = None) -> Var:
    return Var(name, default, p.optional_int, "a non-negative integer", f"Maximum {what}.",
               inherits=inherits, shown_default="no limit" if default is None and inherits is None else None)


VARIABLES: tuple[Var, ...] = (
    Var("OTEL_CONFIG_FILE", None, p.optional_text, "a path to a YAML or JSON file (file_format 1.x)",
        "OpenTelemetry configuration file; when given it is the whole configuration: the environment is "
        "read only through ${VAR} substitution in the file (docs/configuration.md#configuration-file).",
        fallback="no configuration file", keyword="otel_config_file"),
    Var("OTEL_EXPERIMENTAL_CONFIG_FILE", None, p.optional_text, "a path to a YAML or JSON file",
        "Deprecated spelling of OTEL_CONFIG_FILE (used when that is unset).", fallback="no configuration file"),
    Var(CONFIG_FILE, None, p.optional_text, "a path to a TOML file",
        "Deprecated: our TOML config file (keys spelled as the variables), read after the environment and "
        "before the defaults; use OTEL_CONFIG_FILE with distribution.vitalyst instead.",
        fallback="no config file"),
    Var(sdk.OTEL_SDK_DISABLED, False, p.boolean, "true, false",
        "Disable all OpenTelemetry signals; JSON logging on stdout stays on.", fallback="false (the SDK stays on)"),
    Var(sdk.OTEL_SERVICE_NAME, None, p.optional_text, "any non-empty string",
        "service.name; wins over service.name in OTEL_RESOURCE_ATTRIBUTES. When neither is set, "
        "the name of the installed distribution that runs (or the main module) is used, never "
        "unknown_service.", shown_default="derived from the program"),
    Var(sdk.OTEL_RESOURCE_ATTRIBUTES, {}, p.key_value_list, "comma-separated key=value pairs, values URL-encoded",
        "Extra resource attributes, e.g. service.namespace=vitalyst,service.version=1.4.2.",
        fallback="no extra resource attributes"),
    Var("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", DEFAULT_RESOURCE_DETECTORS, p.detector_names,
        "comma-separated names of installed opentelemetry_resource_detector entry points (ours: "
        f"{', '.join(DEFAULT_RESOURCE_DETECTORS)}; the SDK's host, os, process; contrib's), * for all, none",
        "Resource detectors to run; later ones win on a conflict, OTEL_RESOURCE_ATTRIBUTES wins over all. "
        "Ours read only the environment and local files (docs/configuration.md#resource-detection)."),
    Var("VITALYST_ENVIRONMENT", None, p.optional_text, "any string, e.g. production, staging",
        "deployment.environment.name (OpenTelemetry has no variable of its own for it)."),
    Var(api.OTEL_TRACES_EXPORTER, ("otlp",), p.names(*TRACES_EXPORTERS), ", ".join(TRACES_EXPORTERS),
        "Span exporters, comma-separated."),
    Var(api.OTEL_METRICS_EXPORTER, ("otlp",), p.names(*METRICS_EXPORTERS), ", ".join(METRICS_EXPORTERS),
        "Metric exporters, comma-separated; prometheus serves /metrics on the app (or "
        "OTEL_EXPORTER_PROMETHEUS_HOST:PORT without an app)."),
    Var(api.OTEL_LOGS_EXPORTER, ("otlp",), p.names(*LOGS_EXPORTERS), ", ".join(LOGS_EXPORTERS),
        "Log record exporters of the OTLP log bridge; stdout JSON logs are independent of this."),
    *_otlp_rows(),
    Var(sdk.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, "cumulative",
        p.choice("cumulative", "delta", "lowmemory"), "cumulative, delta, lowmemory",
        "Aggregation temporality of OTLP metrics; Prometheus needs cumulative."),
    Var(sdk.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION, "explicit_bucket_histogram",
        p.choice("explicit_bucket_histogram", "base2_exponential_bucket_histogram"),
        "explicit_bucket_histogram, base2_exponential_bucket_histogram",
        "Default histogram aggregation of OTLP metrics."),
    Var(sdk.OTEL_EXPORTER_PROMETHEUS_HOST, "localhost", p.text, "a host name or address",
        "Listen address of the Prometheus exporter's own server (only without an app)."),
    Var(sdk.OTEL_EXPORTER_PROMETHEUS_PORT, 9464, p.int_at_least(1), "a port number",
        "Listen port of the Prometheus exporter's own server (only without an app)."),
    Var(sdk.OTEL_TRACES_SAMPLER, "parentbased_always_on", p.choice(*SAMPLERS), ", ".join(SAMPLERS),
        "Head sampler."),
    Var(sdk.OTEL_TRACES_SAMPLER_ARG, 1.0, p.ratio, "a number from 0 to 1",
        "Ratio of the traceidratio samplers.", fallback="1.0 (sample every trace)"),
    Var(api.OTEL_PROPAGATORS, ("tracecontext", "baggage"), p.names(*PROPAGATORS),
        ", ".join(PROPAGATORS) + " (b3, b3multi and jaeger need their propagator packages)",
        "Context propagators, comma-separated."),
    Var(sdk.OTEL_BSP_SCHEDULE_DELAY, 5000, p.int_at_least(0), "a non-negative integer (ms)",
        "Delay between two span batch exports."),
    Var(sdk.OTEL_BSP_EXPORT_TIMEOUT, 30000, p.int_at_least(0), "a non-negative integer (ms)",
        "Maximum time one span batch export may take, retries included (the shorter of this and the "
        "OTLP timeout applies; 0: the OTLP timeout alone)."),
    Var(sdk.OTEL_BSP_MAX_QUEUE_SIZE, 2048, p.int_at_least(1), "a positive integer",
        "Spans held for export; when full, new spans are dropped (and counted), never blocking."),
    Var(sdk.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512, p.int_at_least(1), "a positive integer",
        "Spans per export request."),
    Var(sdk.OTEL_BLRP_SCHEDULE_DELAY, 1000, p.int_at_least(0), "a non-negative integer (ms)",
        "Delay between two log batch exports."),
    Var(sdk.OTEL_BLRP_EXPORT_TIMEOUT, 30000, p.int_at_least(0), "a non-negative integer (ms)",
        "Maximum time one log batch export may take, retries included (the shorter of this and the "
        "OTLP timeout applies; 0: the OTLP timeout alone)."),
    Var(sdk.OTEL_BLRP_MAX_QUEUE_SIZE, 2048, p.int_at_least(1), "a positive integer",
        "Log records held for export; when full, new records are dropped (and counted)."),
    Var(sdk.OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, 512, p.int_at_least(1), "a positive integer",
        "Log records per export request."),
    Var(sdk.OTEL_METRIC_EXPORT_INTERVAL, 60000, p.int_at_least(1), "a positive integer (ms)",
        "Interval between two metric exports."),
    Var(sdk.OTEL_METRIC_EXPORT_TIMEOUT, 30000, p.int_at_least(0), "a non-negative integer (ms)",
        "Maximum time one metric export may take."),
    Var(sdk.OTEL_METRICS_EXEMPLAR_FILTER, "trace_based", p.choice("trace_based", "always_on", "always_off"),
        "trace_based, always_on, always_off", "Which measurements may become exemplars."),
    _limit(sdk.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, "length of an attribute value"),
    _limit(sdk.OTEL_ATTRIBUTE_COUNT_LIMIT, "attributes per span, event, link or log record", default=128),
    _limit(sdk.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, "length of a span attribute value",
           inherits=sdk.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT),
    _limit(sdk.OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, "attributes per span", inherits=sdk.OTEL_ATTRIBUTE_COUNT_LIMIT),
    _limit(sdk.OTEL_SPAN_EVENT_COUNT_LIMIT, "events per span", default=128),
    _limit(sdk.OTEL_SPAN_LINK_COUNT_LIMIT, "links per span", default=128),
    _limit(sdk.OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, "attributes per span event", inherits=sdk.OTEL_ATTRIBUTE_COUNT_LIMIT),
    _limit(sdk.OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, "attributes per span link", inherits=sdk.OTEL_ATTRIBUTE_COUNT_LIMIT),
    _limit("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",  # SDK 1.42 has no constant for it
           "length of a log record attribute value",
           inherits=sdk.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT),
    _limit("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "attributes per log record",
           inherits=sdk.OTEL_ATTRIBUTE_COUNT_LIMIT),
    Var(sdk.OTEL_LOG_LEVEL, "INFO", p.level, "debug, info, warn, error",
        "Level of the SDK's and the distribution's own diagnostics (not the application's logs).",
        keyword="otel_log_level"),
    Var(instrumentation.OTEL_SEMCONV_STABILITY_OPT_IN, ("http",), p.name_list,
        "comma-separated: http, http/dup, and any other semantic-convention group",
        "Semantic-convention opt-in passed to contrib instrumentations. Our server instrumentation "
        "always emits the stable HTTP conventions."),
    Var("OTEL_PYTHON_EXCLUDED_URLS", None, p.regex_list, "comma-separated regular expressions",
        "Requests that get no span, no HTTP metrics and no access log line, in addition to the "
        "defaults (VITALYST_EXCLUDED_URLS_DEFAULTS). Each is searched (re.search, as contrib does) "
        "in the URL contrib matches (scheme://host[:port]/path, no query) and in the path, so "
        "contrib patterns (example.com/ping, healthcheck) and path patterns (^/ping$) both work.",
        fallback="the other patterns"),
    Var("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", None, p.regex_list, "comma-separated regular expressions",
        "As OTEL_PYTHON_EXCLUDED_URLS, for FastAPI apps; when set, OTEL_PYTHON_EXCLUDED_URLS is not "
        "used (contrib's precedence). Adds to the defaults too.",
        inherits="OTEL_PYTHON_EXCLUDED_URLS", fallback="the other patterns"),
    Var("VITALYST_EXCLUDED_URLS_DEFAULTS", True, p.boolean, "true, false",
        f"Keep the built-in exclusions ({', '.join(DEFAULT_EXCLUDED_URLS)}) in addition to the "
        "user's excluded URLs; false leaves only the user's list."),
    Var("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", (), p.regex_list,
        "comma-separated header names or regular expressions, matched case-insensitively against "
        "the whole name (x-.* captures every x- header)",
        "Request headers recorded on the server span as http.request.header.<lowercase name>, a "
        "list of strings (one per occurrence). Credentials (names matching the redaction keys or "
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS) are recorded as [REDACTED]; "
        "other values are redacted like free text and capped at 1024 characters, 16 values.",
        fallback="the other patterns"),
    Var("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", (), p.regex_list,
        "comma-separated header names or regular expressions, as for the request",
        "Response headers recorded on the server span as http.response.header.<lowercase name>, "
        "masked and capped like request headers.", fallback="the other patterns"),
    Var("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", (), p.regex_list,
        "comma-separated header names or regular expressions",
        "Captured headers recorded as [REDACTED], in addition to those matching the redaction keys "
        "(VITALYST_REDACT_KEYS and the built-in ones).", fallback="the other patterns"),
    Var("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", False, p.genai_capture,
        "true, false (span_only and span_and_event mean true, event_only and no_content false)",
        "Record prompt and completion content on GenAI spans (redacted, truncated); contrib's GenAI "
        "instrumentors read the same variable."),
    Var("VITALYST_LOG_FORMAT", "json", p.choice("json", "text", "none"), "json, text, none",
        "Format of the application's log lines on stdout; none leaves logging alone."),
    Var("VITALYST_LOG_LEVEL", "INFO", p.level, "debug, info, warning, error, critical",
        "Level of the root logger (the application's logs)."),
    Var("VITALYST_LOG_FILE", None, p.optional_text, "a file path",
        "Also write JSON log lines to this file, rotated."),
    Var("VITALYST_LOG_FILE_ROTATION", "size", p.choice("size", "time"), "size, time",
        "Rotate the log file by size (VITALYST_LOG_FILE_MAX_BYTES) or by time (VITALYST_LOG_FILE_WHEN)."),
    Var("VITALYST_LOG_FILE_MAX_BYTES", 10 * 1024 * 1024, p.byte_size,
        "a positive size in bytes, or with a unit: 512KiB, 10MiB, 1GB", "Size at which the log file rotates.",
        shown_default="10MiB"),
    Var("VITALYST_LOG_FILE_WHEN", "midnight", p.choice("s", "m", "h", "d", "midnight"),
        "S, M, H, D, midnight (as logging.handlers.TimedRotatingFileHandler)",
        "Interval at which the log file rotates."),
    Var("VITALYST_LOG_FILE_BACKUP_COUNT", 5, p.int_at_least(0), "a non-negative integer",
        "Rotated log files kept."),
    Var("VITALYST_ACCESS_LOG", True, p.boolean, "true, false",
        "Log one JSON line per request (uvicorn's access log, reshaped)."),
    Var("VITALYST_ACCESS_LOG_OTLP", True, p.boolean, "true, false",
        "Also send each access line as an OTLP log record (with OTEL_LOGS_EXPORTER=otlp). false: the "
        "JSON line on stdout only, for when a log agent collects stdout anyway; the request's span "
        "and duration histogram are exported either way (docs/performance.md has what it saves)."),
    Var("VITALYST_REDACT_KEYS", (), p.name_list, "comma-separated names (case-insensitive)",
        "Extra sensitive keys, masked in headers, query strings, log fields, span and metric attributes "
        f"on top of the built-in ones ({', '.join(DEFAULT_REDACT_KEYS)} and more, docs/security.md); "
        "matched by whole key parts, like them (tenant_pin masks x.tenant_pin, not tenant_pins)."),
    Var("VITALYST_REDACT_MAX_CHARS", 16384, p.int_at_least(1024), "an integer of at least 1024",
        "Longest string (characters) redaction looks at: a longer message, attribute or exception "
        "text is cut to this size (its first and last halves around a marker) before any pattern runs (docs/security.md)."),
    Var("VITALYST_METRICS_ROUTE", "/metrics", p.text, "a path",
        "Route on the app that serves Prometheus metrics when OTEL_METRICS_EXPORTER has prometheus."),
    Var("VITALYST_RUNTIME_METRICS", True, p.boolean, "true, false",
        "Process metrics (CPU time, memory, threads, file descriptors, context switches, GC) and "
        "the container memory limit."),
    Var("VITALYST_HOST_METRICS", False, p.boolean, "true, false",
        "Also host-level system.* metrics (CPU, memory, network, disk of the whole host)."),
    Var("VITALYST_METRIC_CARDINALITY_LIMIT", 1000, p.int_at_least(1), "a positive integer",
        "Most attribute sets (series) one instrument keeps; the rest aggregate into one overflow series."),
    Var("VITALYST_HEALTH_ROUTES", True, p.boolean, "true, false",
        "Serve /health/live and /health/ready on every instrumented app."),
    Var("VITALYST_HEALTH_CACHE_TTL", 2000, p.int_at_least(0), "a non-negative integer (ms)",
        "How long a readiness result is reused, so a probe storm cannot overload a dependency."),
    Var("VITALYST_AUDIT_FALLBACK_FILE", "vitalyst-audit-fallback.jsonl", p.text, "a file path",
        "Append-only file (rotated) for audit records the exporter could not deliver; put it on a volume."),
    Var("VITALYST_AUDIT_FALLBACK_MAX_BYTES", 10 * 1024 * 1024, p.byte_size,
        "a positive size in bytes, or with a unit: 512KiB, 10MiB, 1GB",
        "Size at which the audit fallback file starts a new segment.", shown_default="10MiB"),
    Var("VITALYST_AUDIT_FALLBACK_BACKUP_COUNT", 10, p.int_at_least(1), "a positive integer",
        "Segments of the audit fallback file kept besides the current one; past them the oldest is "
        "deleted and its unsent records are counted as lost (one error line says so)."),
    Var("VITALYST_HASH_CLIENT_IP", False, p.boolean, "true, false",
        "Replace client addresses in logs and spans by a keyed hash."),
    Var("VITALYST_HASH_SALT", None, p.optional_text, "any secret string",
        "Key of the client-address hash; without it each process draws its own (hashes then do "
        "not match across processes).", secret=True),
    Var("VITALYST_SECURITY_LOG_RATE", 10, p.int_at_least(1), "a positive integer",
        "Security log lines per second and event type; a flood beyond it is counted, not logged line by line."),
    Var("VITALYST_GC_FREEZE", True, p.boolean, "true, false",
        "Freeze the objects that exist once the app has started (gc.freeze()), so full garbage "
        "collections stop walking them: shorter pauses in the tail latency."),
    Var("VITALYST_EXPORT_QUEUE_MAX_BYTES", 16 * 1024 * 1024, p.byte_size,
        "a positive size in bytes, or with a unit: 512KiB, 16MiB, 1GB",
        "Most memory each export queue (spans, logs, audit) may hold, estimated from the text of "
        "what is queued (log records already encoded: their bytes); past it new items are refused like on a full queue (counted; audit records "
        "go to the fallback file).", shown_default="16MiB"),
    Var("VITALYST_RECORD_MAX_LENGTH", 65536, p.int_at_least(1), "a positive integer (characters)",
        "Longest text a log record body, a log record attribute or an audit field keeps on its way "
        "to the exporter; longer text is cut and ends with the marker …[truncated N chars]."),
    Var("VITALYST_SHUTDOWN_TIMEOUT", 5000, p.int_at_least(0), "a non-negative integer (ms)",
        "Bound on flushing and shutting down at exit, whatever the state of the collector."),
)

BY_NAME: dict[str, Var] = {var.name: var for var in VARIABLES}
BY_KEY: dict[str, Var] = {var.key: var for var in VARIABLES}
# Keywords of configure() that are no variable of their own: OTEL_RESOURCE_ATTRIBUTES carries them.
RESOURCE_KEYWORDS = {"service_namespace": "service.namespace", "service_version": "service.version"}
# Keywords of configure() that take objects, not values of a variable.
OBJECT_KEYWORDS = ("views",)
