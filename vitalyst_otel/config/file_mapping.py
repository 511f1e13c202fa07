"""The parts of an OpenTelemetry configuration file (read by ``config/declarative.py``) mapped
onto the variables of the table, so the loader treats the file as one more source; our own
options sit under ``distribution.vitalyst``. Parts we do not implement are listed by their path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

IGNORED = "it is ignored"
EXTENSION_KEY = "vitalyst"  # distribution.vitalyst


@dataclass
class Mapped:
    variables: dict[str, Any] = field(default_factory=dict)  # variable name -> value
    views: list = field(default_factory=list)  # SDK View objects
    unsupported: list[tuple[str, str]] = field(default_factory=list)  # (path in the file, what happens instead)


_EXPORTER_PROTOCOLS = {"otlp_http": "http/protobuf", "otlp_grpc": "grpc"}
_PROPAGATORS = ("tracecontext", "baggage", "b3", "b3multi", "jaeger")
# The schema's detector names -> entry points; other names are entry-point names (vitalyst_kubernetes).
_DETECTORS = {"container": "vitalyst_container", "host": "host", "process": "process"}


def to_variables(document: dict, known_keywords: Mapping[str, str]) -> Mapped:
    """``known_keywords``: keyword -> variable name, for ``distribution.vitalyst``."""
    out = Mapped()
    mapper = _Mapper(out)
    # What the file leaves out is off, as the specification says (a noop provider or propagator,
    # no resource detector), not the environment's or our default.
    out.variables.update({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
                          "OTEL_LOGS_EXPORTER": "none", "OTEL_PROPAGATORS": "none",
                          "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "none"})
    for key, value in document.items():
        if value is None or key == "file_format":
            continue
        handler = _TOP.get(key)
        if handler is None:
            out.unsupported.append((key, IGNORED))
        else:
            handler(mapper, value, key)
    extension = (document.get("distribution") or {}).get(EXTENSION_KEY) or {}
    for keyword, value in extension.items():
        name = known_keywords.get(keyword)
        if name is None:
            out.unsupported.append((f"distribution.{EXTENSION_KEY}.{keyword}", IGNORED))
        else:
            out.variables[name] = value
    return out


class _Mapper:
    def __init__(self, out: Mapped):
        self.out = out

    def set(self, name: str, value: Any) -> None:
        if value is not None:
            self.out.variables[name] = value

    def unsupported(self, path: str, instead: str = "") -> None:
        self.out.unsupported.append((path, instead or IGNORED))

    def rest(self, data: Mapping, known: set[str], path: str) -> None:
        for key, value in data.items():
            if key not in known and value is not None:
                self.unsupported(f"{path}.{key}")

    # -- top level
    def disabled(self, value, path):
        self.set("OTEL_SDK_DISABLED", bool(value))

    def log_level(self, value, path):
        self.set("OTEL_LOG_LEVEL", str(value))

    def attribute_limits(self, value, path):
        self.set("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", value.get("attribute_value_length_limit"))
        self.set("OTEL_ATTRIBUTE_COUNT_LIMIT", value.get("attribute_count_limit"))
        self.rest(value, {"attribute_value_length_limit", "attribute_count_limit"}, path)

    def resource(self, value, path):
        attributes: dict[str, str] = {}
        if value.get("attributes_list"):
            from vitalyst_otel.config.parsers import key_value_list

            attributes.update(key_value_list(value["attributes_list"]))
        for item in value.get("attributes") or []:
            raw = item.get("value")
            attributes[str(item["name"])] = ",".join(map(str, raw)) if isinstance(raw, list) else str(raw)
            if item.get("type") not in (None, "string"):
                self.unsupported(f"{path}.attributes[{item['name']}].type", "the value is sent as a string")
        if attributes:
            self.set("OTEL_RESOURCE_ATTRIBUTES", attributes)
        detection = value.get("detection/development") or {}
        if detection.get("detectors") is not None:
            names = []
            for detector in detection["detectors"]:
                for kind in (detector or {}):
                    if kind == "service":
                        continue  # service.instance.id and service.name are always set
                    names.append(_DETECTORS.get(kind, kind))  # ours and installed ones by entry-point name
            self.set("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", ",".join(names) or "none")
        self.rest(detection, {"detectors"}, f"{path}.detection/development")
        self.rest(value, {"attributes", "attributes_list", "detection/development"}, path)

    def propagator(self, value, path):
        names = [n.strip() for n in (value.get("composite_list") or "").split(",") if n.strip()]
        for index, item in enumerate(value.get("composite") or []):
            for kind in (item or {}):
                if kind in _PROPAGATORS:
                    names.append(kind)
                else:
                    self.unsupported(f"{path}.composite[{index}].{kind}")
        self.set("OTEL_PROPAGATORS", ",".join(dict.fromkeys(names)) or "none")
        self.rest(value, {"composite", "composite_list"}, path)

    def tracer_provider(self, value, path):
        self._processors(value.get("processors") or [], "traces", "OTEL_BSP", f"{path}.processors")
        limits = value.get("limits") or {}
        for key, name in (("attribute_value_length_limit", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
                          ("attribute_count_limit", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"),
                          ("event_count_limit", "OTEL_SPAN_EVENT_COUNT_LIMIT"),
                          ("link_count_limit", "OTEL_SPAN_LINK_COUNT_LIMIT"),
                          ("event_attribute_count_limit", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"),
                          ("link_attribute_count_limit", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT")):
            self.set(name, limits.get(key))
        if value.get("sampler") is not None:
            self._sampler(value["sampler"], f"{path}.sampler")
        self.rest(value, {"processors", "limits", "sampler"}, path)

    def logger_provider(self, value, path):
        self._processors(value.get("processors") or [], "logs", "OTEL_BLRP", f"{path}.processors")
        limits = value.get("limits") or {}
        self.set("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", limits.get("attribute_value_length_limit"))
        self.set("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", limits.get("attribute_count_limit"))
        self.rest(value, {"processors", "limits"}, path)

    def meter_provider(self, value, path):
        exporters = []
        for index, reader in enumerate(value.get("readers") or []):
            where = f"{path}.readers[{index}]"
            if reader.get("periodic") is not None:
                periodic = reader["periodic"]
                self.set("OTEL_METRIC_EXPORT_INTERVAL", periodic.get("interval"))
                self.set("OTEL_METRIC_EXPORT_TIMEOUT", periodic.get("timeout"))
                self._cardinality(periodic.get("cardinality_limits"), f"{where}.periodic.cardinality_limits")
                for kind, config in (periodic.get("exporter") or {}).items():
                    if kind in _EXPORTER_PROTOCOLS:
                        exporters.append("otlp")
                        self._otlp("metrics", kind, config or {}, f"{where}.periodic.exporter.{kind}")
                    elif kind == "console":
                        exporters.append("console")
                    else:
                        self.unsupported(f"{where}.periodic.exporter.{kind}")
                self.rest(periodic, {"interval", "timeout", "exporter", "cardinality_limits"}, f"{where}.periodic")
            elif reader.get("pull") is not None:
                pull = reader["pull"]
                self._cardinality(pull.get("cardinality_limits"), f"{where}.pull.cardinality_limits")
                for kind, config in (pull.get("exporter") or {}).items():
                    if kind == "prometheus/development":
                        exporters.append("prometheus")
                        config = config or {}
                        self.set("OTEL_EXPORTER_PROMETHEUS_HOST", config.get("host"))
                        self.set("OTEL_EXPORTER_PROMETHEUS_PORT", config.get("port"))
                        self.rest(config, {"host", "port"}, f"{where}.pull.exporter.{kind}")
                    else:
                        self.unsupported(f"{where}.pull.exporter.{kind}")
                self.rest(pull, {"exporter", "cardinality_limits"}, f"{where}.pull")
            else:
                self.unsupported(where)
        self.set("OTEL_METRICS_EXPORTER", ",".join(dict.fromkeys(exporters)) or "none")
        if value.get("exemplar_filter") is not None:
            self.set("OTEL_METRICS_EXEMPLAR_FILTER", value["exemplar_filter"])
        for index, view in enumerate(value.get("views") or []):
            made = _view(view, f"{path}.views[{index}]", self)
            if made is not None:
                self.out.views.append(made)
        self.rest(value, {"readers", "views", "exemplar_filter"}, path)

    def instrumentation(self, value, path):
        general = value.get("general") or {}
        server = ((general.get("http") or {}).get("server")) or {}
        for key, name in (("request_captured_headers", "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"),
                          ("response_captured_headers", "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE")):
            if server.get(key) is not None:
                self.set(name, list(server[key]))
        self.rest(server, {"request_captured_headers", "response_captured_headers"}, f"{path}.general.http.server")
        http = general.get("http") or {}
        self.rest(http, {"server"}, f"{path}.general.http")
        if general.get("stability_opt_in_list") is not None:
            self.set("OTEL_SEMCONV_STABILITY_OPT_IN", general["stability_opt_in_list"])
        self.rest(general, {"http", "stability_opt_in_list"}, f"{path}.general")
        python = value.get("python") or {}
        fastapi = python.get("fastapi") or {}
        if fastapi.get("excluded_urls") is not None:
            urls = fastapi["excluded_urls"]
            self.set("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", urls if isinstance(urls, str) else list(urls))
        self.rest(fastapi, {"excluded_urls"}, f"{path}.python.fastapi")
        self.rest(python, {"fastapi"}, f"{path}.python")
        self.rest(value, {"general", "python"}, path)

    def distribution(self, value, path):
        self.rest(value, {EXTENSION_KEY}, path)  # the extension itself is read by to_variables

    # -- parts
    def _processors(self, processors, signal, prefix, path):
        exporters = []
        for index, processor in enumerate(processors):
            for kind, config in (processor or {}).items():
                where = f"{path}[{index}].{kind}"
                config = config or {}
                if kind not in ("batch", "simple"):
                    self.unsupported(where)
                    continue
                if kind == "simple":
                    self.unsupported(where, "its exporter is used behind a batch processor with the batch defaults")
                else:
                    for key, suffix in (("schedule_delay", "SCHEDULE_DELAY"), ("export_timeout", "EXPORT_TIMEOUT"),
                                        ("max_queue_size", "MAX_QUEUE_SIZE"),
                                        ("max_export_batch_size", "MAX_EXPORT_BATCH_SIZE")):
                        self.set(f"{prefix}_{suffix}", config.get(key))
                    self.rest(config, {"schedule_delay", "export_timeout", "max_queue_size",
                                       "max_export_batch_size", "exporter"}, where)
                for exporter, options in (config.get("exporter") or {}).items():
                    if exporter in _EXPORTER_PROTOCOLS:
                        if "otlp" in exporters:
                            self.unsupported(f"{where}.exporter.{exporter}", "it is ignored: one OTLP destination "
                                             "per signal, the first one")
                            continue
                        exporters.append("otlp")
                        self._otlp(signal, exporter, options or {}, f"{where}.exporter.{exporter}")
                    elif exporter == "console":
                        exporters.append("console")
                    else:
                        self.unsupported(f"{where}.exporter.{exporter}")
        self.set(f"OTEL_{signal.upper()}_EXPORTER", ",".join(dict.fromkeys(exporters)) or "none")

    def _otlp(self, signal, kind, config, path):
        upper = f"OTEL_EXPORTER_OTLP_{signal.upper()}"
        self.set(f"{upper}_PROTOCOL", _EXPORTER_PROTOCOLS[kind])
        self.set(f"{upper}_ENDPOINT", config.get("endpoint"))
        headers = {}
        if config.get("headers_list"):
            from vitalyst_otel.config.parsers import key_value_list

            headers.update(key_value_list(config["headers_list"]))
        for pair in config.get("headers") or []:
            headers[str(pair["name"])] = str(pair.get("value") or "")
        if headers:
            self.set(f"{upper}_HEADERS", headers)
        self.set(f"{upper}_COMPRESSION", config.get("compression"))
        self.set(f"{upper}_TIMEOUT", config.get("timeout"))
        tls = config.get("tls") or {}
        self.set(f"{upper}_CERTIFICATE", tls.get("ca_file"))
        self.rest(tls, {"ca_file"}, f"{path}.tls")
        if signal == "metrics":
            self.set("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", config.get("temporality_preference"))
            self.set("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                     config.get("default_histogram_aggregation"))
        known = {"endpoint", "headers", "headers_list", "compression", "timeout", "tls"}
        if signal == "metrics":
            known |= {"temporality_preference", "default_histogram_aggregation"}
        if config.get("encoding") not in (None, "protobuf"):
            self.unsupported(f"{path}.encoding")
        self.rest(config, known | {"encoding"}, path)

    def _cardinality(self, limits, path):
        if not limits:
            return
        self.set("VITALYST_METRIC_CARDINALITY_LIMIT", limits.get("default"))
        self.rest(limits, {"default"}, path)

    def _sampler(self, sampler, path):
        kind, config = next(iter(sampler.items()))
        config = config or {}
        if kind == "parent_based":
            root = config.get("root") or {"always_on": {}}
            others = [k for k in config if k != "root" and config[k] is not None]
            for other in others:
                self.unsupported(f"{path}.parent_based.{other}", "the parent's decision is followed")
            root_kind, root_config = next(iter(root.items()))
            simple = self._simple_sampler(root_kind, root_config or {}, f"{path}.parent_based.root")
            if simple:
                self.set("OTEL_TRACES_SAMPLER", f"parentbased_{simple}")
        else:
            simple = self._simple_sampler(kind, config, path)
            if simple:
                self.set("OTEL_TRACES_SAMPLER", simple)

    def _simple_sampler(self, kind, config, path):
        if kind in ("always_on", "always_off"):
            return kind
        if kind == "trace_id_ratio_based":
            self.set("OTEL_TRACES_SAMPLER_ARG", config.get("ratio", 1.0))
            return "traceidratio"
        self.unsupported(f"{path}.{kind}")
        return None


_TOP = {
    "disabled": _Mapper.disabled, "log_level": _Mapper.log_level, "attribute_limits": _Mapper.attribute_limits,
    "resource": _Mapper.resource, "propagator": _Mapper.propagator, "tracer_provider": _Mapper.tracer_provider,
    "meter_provider": _Mapper.meter_provider, "logger_provider": _Mapper.logger_provider,
    "instrumentation/development": _Mapper.instrumentation, "distribution": _Mapper.distribution,
}


def _view(config: Mapping, path: str, mapper: _Mapper):
    from opentelemetry.sdk.metrics.view import (
        DefaultAggregation,
        DropAggregation,
        ExplicitBucketHistogramAggregation,
        ExponentialBucketHistogramAggregation,
        LastValueAggregation,
        SumAggregation,
        View,
    )

    from vitalyst_otel.views import INSTRUMENT_TYPES as types

    selector, stream = config.get("selector") or {}, config.get("stream") or {}
    aggregation = None
    for kind, options in (stream.get("aggregation") or {}).items():
        options = options or {}
        if kind == "explicit_bucket_histogram":
            aggregation = ExplicitBucketHistogramAggregation(
                boundaries=options.get("boundaries"), record_min_max=options.get("record_min_max", True))
        elif kind == "base2_exponential_bucket_histogram":
            aggregation = ExponentialBucketHistogramAggregation(
                max_size=options.get("max_size") or 160, max_scale=options.get("max_scale") or 20)
        else:
            aggregation = {"default": DefaultAggregation, "drop": DropAggregation, "sum": SumAggregation,
                           "last_value": LastValueAggregation}[kind]()
    keys = stream.get("attribute_keys") or {}
    if keys.get("excluded"):
        mapper.unsupported(f"{path}.stream.attribute_keys.excluded", "it is ignored: list the kept keys under included")
    try:
        return View(
            instrument_type=types.get(selector.get("instrument_type")),
            instrument_name=selector.get("instrument_name"), instrument_unit=selector.get("unit"),
            meter_name=selector.get("meter_name"), meter_version=selector.get("meter_version"),
            meter_schema_url=selector.get("meter_schema_url"),
            name=stream.get("name"), description=stream.get("description"),
            attribute_keys=set(keys["included"]) if keys.get("included") is not None else None,
            aggregation=aggregation, aggregation_cardinality_limit=stream.get("aggregation_cardinality_limit"))
    except Exception as exc:  # noqa: BLE001 - the SDK rejects some combinations (a wildcard with a name)
        mapper.unsupported(path, f"the view is left out ({exc})")
        return None
