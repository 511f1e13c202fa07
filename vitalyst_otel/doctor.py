"""``vitalyst-otel doctor``: what this process would do, where each value came from, what looks
wrong, and (``--send``) whether the configured endpoints accept one span, metric and log record.

It reads the same settings as ``configure()`` (never configures the process itself) and masks
every header value, so its output can be pasted into a ticket.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from vitalyst_otel import variable_typos
from vitalyst_otel.config import Settings
from vitalyst_otel.config.parsers import mask_header_list
from vitalyst_otel.config.variables import BY_NAME, SIGNALS

CONTRIB_BRIDGES = {
    "opentelemetry-instrumentation-logging": "its LoggingInstrumentor adds a second OTLP log bridge "
    "if you call it yourself (the launcher does not load it next to vitalyst_otel)",
}


def conflicts(settings: Settings, environ=os.environ) -> list[str]:
    from vitalyst_otel.distro import predicted_conflicts

    found = predicted_conflicts(environ)
    for package, why in CONTRIB_BRIDGES.items():
        try:
            metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
        found.append(f"{package} is installed: {why}")
    if environ.get("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "").lower() == "true":
        found.append("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED=true asks the plain SDK "
                     "configurator for a log bridge; vitalyst_otel installs its own and ignores it")
    return found


def problems(settings: Settings, environ=os.environ) -> list[str]:
    """Every value that is not used as given, each with the signals it affects, and every
    misspelt or unknown variable."""
    found = []
    for problem in settings.problems:
        affected = affected_signals(problem.variable, settings, environ)
        found.append(problem.message() + (f" Affects: {', '.join(affected)}." if affected else ""))
    found.extend(variable_typos.unknown_variable_message(given, meant) for given, meant in find_typos(environ))
    return found


def affected_signals(variable: str, settings: Settings, environ=os.environ) -> list[str]:
    """The OTLP signals a generic OTEL_EXPORTER_OTLP_<X> reaches: those exporting over OTLP with
    no OTEL_EXPORTER_OTLP_<SIGNAL>_<X> of their own."""
    prefix = "OTEL_EXPORTER_OTLP_"
    suffix = variable[len(prefix):] if variable.startswith(prefix) else ""
    if not suffix or suffix.split("_", 1)[0] in ("TRACES", "METRICS", "LOGS"):
        return []
    exporters = {"traces": settings.traces_exporter, "metrics": settings.metrics_exporter,
                 "logs": settings.logs_exporter}
    return [signal for signal in SIGNALS if "otlp" in exporters[signal]
            and not environ.get(f"{prefix}{signal.upper()}_{suffix}", "").strip()]


def find_typos(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """Misspelt or unknown OTEL_*/VITALYST_* names: (given, probably meant, or "")."""
    return variable_typos.find_typos(environ, BY_NAME)


def signal_summary(settings: Settings) -> dict[str, dict[str, Any]]:
    exporters = {"traces": settings.traces_exporter, "metrics": settings.metrics_exporter,
                 "logs": settings.logs_exporter}
    summary = {}
    for signal in SIGNALS:
        otlp = settings.otlp[signal]
        entry: dict[str, Any] = {"exporters": list(exporters[signal]) or ["none"]}
        if "otlp" in exporters[signal]:
            entry.update(endpoint=otlp.endpoint, protocol=otlp.protocol, timeout_s=otlp.timeout_s,
                         compression=otlp.compression,
                         headers=mask_header_list(",".join(f"{k}={v}" for k, v in otlp.headers.items())))
        summary[signal] = entry
    summary["traces"]["sampler"] = settings.traces_sampler + (
        f" ({settings.traces_sampler_arg})" if "ratio" in settings.traces_sampler else "")
    return summary


def send_test(settings: Settings) -> dict[str, str]:
    """Export one span, one metric and one log record through the configured OTLP exporters."""
    import logging

    from vitalyst_otel.export.factory import ExporterFactory
    from vitalyst_otel.resources import build_resource

    logging.getLogger("vitalyst_otel.export").disabled = True  # the report says it instead
    resource = build_resource(settings.resource_attributes, settings.service_name,
                              settings.experimental_resource_detectors)
    results: dict[str, str] = {}
    factory = ExporterFactory(settings)
    wanted = {"traces": "otlp" in settings.traces_exporter, "metrics": "otlp" in settings.metrics_exporter,
              "logs": "otlp" in settings.logs_exporter}
    for signal, enabled in wanted.items():
        if not enabled:
            results[signal] = "skipped (exporter is not otlp)"
            continue
        exporter = factory.otlp(signal)
        begin = getattr(exporter, "begin_shutdown", None)
        if begin is not None:  # one attempt within OTEL_EXPORTER_OTLP_*TIMEOUT: a refusal is said at once
            begin(time.monotonic() + settings.otlp[signal].timeout_s)
        try:
            batch = _sample(signal, resource)
            outcome = exporter.export(batch)
            status = factory.statuses[signal].snapshot()
            accepted = getattr(outcome, "name", str(outcome)) == "SUCCESS"
            results[signal] = ("accepted by " + status.endpoint) if accepted else (
                f"NOT accepted by {status.endpoint}: {status.last_error}")
        except Exception as exc:  # noqa: BLE001 - the doctor reports, it does not crash
            results[signal] = f"NOT sent: {type(exc).__name__}: {exc}"
        finally:
            exporter.shutdown()
    return results


def _sample(signal: str, resource):
    if signal == "traces":
        from opentelemetry.sdk.trace import TracerProvider

        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        span = provider.get_tracer("vitalyst_otel.doctor").start_span("vitalyst-otel doctor")
        span.set_attribute("vitalyst.doctor", True)
        span.end()
        return [span]
    if signal == "metrics":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        reader = InMemoryMetricReader()
        provider = MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)
        provider.get_meter("vitalyst_otel.doctor").create_counter("vitalyst.doctor.checks").add(1)
        return reader.get_metrics_data()
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    provider.get_logger("vitalyst_otel.doctor").emit(
        body="vitalyst-otel doctor test record", severity_number=SeverityNumber.INFO,
        severity_text="INFO", timestamp=time.time_ns())
    return list(memory.get_finished_logs())


def _service_name_source(settings: Settings) -> str:
    for name in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        source = settings.sources.get(name)
        if source is not None and (name == "OTEL_SERVICE_NAME" or "service.name=" in source.raw):
            return source.origin
    return "derived from the program"


def report(settings: Settings, send: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "service.name": settings.service_name,
        "service.name source": _service_name_source(settings),
        "sdk_disabled": settings.sdk_disabled,
        "signals": signal_summary(settings),
        "problems": problems(settings),
        "conflicts": conflicts(settings),
        "settings": [{"variable": name, "value": value, "source": source}
                     for name, value, source in settings.describe()],
    }
    if send:
        data["send"] = send_test(settings)
    failed = [f"{signal}: {outcome}" for signal, outcome in data.get("send", {}).items()
              if not outcome.startswith(("accepted", "skipped"))]
    data["verdict"] = {"ok": not data["problems"] and not failed, "problems": len(data["problems"]),
                       "failed_sends": failed}
    return data


def verdict_line(verdict: dict[str, Any]) -> str:
    if verdict["ok"]:
        return "Verdict: OK (no problems" + (", every test send accepted)" if verdict.get("sent") else ")")
    parts = []
    if verdict["problems"]:
        parts.append(f"{verdict['problems']} problem(s) above")
    if verdict["failed_sends"]:
        parts.append(f"{len(verdict['failed_sends'])} test send(s) not accepted "
                     f"({', '.join(f.split(':', 1)[0] for f in verdict['failed_sends'])})")
    return "Verdict: NOT OK: " + "; ".join(parts)


def _print_text(data: dict[str, Any], out=sys.stdout) -> None:
    print(f"vitalyst-otel doctor: service.name={data['service.name']} ({data['service.name source']})"
          + ("  (OTEL_SDK_DISABLED: telemetry off)" if data["sdk_disabled"] else ""), file=out)
    print("\nSignals", file=out)
    for signal, entry in data["signals"].items():
        details = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "exporters" and v not in ("", None))
        print(f"  {signal:<8} {'+'.join(entry['exporters']):<12} {details}", file=out)
    for title in ("problems", "conflicts"):
        print(f"\n{title.capitalize()}: {'none' if not data[title] else ''}", file=out)
        for line in data[title]:
            print(f"  - {line}", file=out)
    if "send" in data:
        print("\nTest send", file=out)
        for signal, outcome in data["send"].items():
            print(f"  {signal:<8} {outcome}", file=out)
    print("\nSettings (not default)", file=out)
    for row in data["settings"]:
        if row["source"] != "default":
            print(f"  {row['variable']:<52} {row['value']:<40} {row['source']}", file=out)
    print("\n" + verdict_line({**data["verdict"], "sent": "send" in data}), file=out)


def run(send: bool = False, as_json: bool = False) -> int:
    settings = Settings.load()
    data = report(settings, send)
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        _print_text(data)
    return 0 if data["verdict"]["ok"] else 1
