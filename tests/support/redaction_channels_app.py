"""Child process of tests/integration/test_redaction_channels.py: configures vitalyst_otel from
the environment (OTLP to the test's receiver, or to a closed port for the audit fallback run) and
sends every shape of the redaction corpus through every channel: log messages, arguments, extra
fields, logger.exception, the OpenTelemetry logs API, span names/attributes/events/exceptions,
metric attributes, audit details, unhandled exceptions in requests (span event + the
error-fingerprint line), and failed log calls (their fallback line, and stderr)."""

from __future__ import annotations

import asyncio
import logging
import sys

import httpx
from fastapi import FastAPI

import vitalyst_otel
from tests.unit.redaction.corpus import FIELDS, LOOKALIKE_FIELDS, LOOKALIKE_TEXTS, NESTED, TEXTS
from vitalyst_otel import audit

SEPARATORS = "line\u2028separator\u2029paragraph\u0085next"


def main() -> None:
    app = FastAPI()

    @app.get("/boom/{index}")
    async def boom(index: int):
        raise ValueError(f"request failed: {TEXTS[index].text}")

    handle = vitalyst_otel.configure(app=app)
    from opentelemetry import _logs, metrics, trace

    log = logging.getLogger("corpus")
    tracer = trace.get_tracer("corpus")
    counter = metrics.get_meter("corpus").create_counter("corpus.events")
    otel_logger = _logs.get_logger("corpus.api")

    def everywhere(index: int, text: str) -> None:
        tag = {"shape": index}
        log.info(text, extra=tag)
        log.info("note: %s", text, extra=tag)
        log.warning("detail", extra={**tag, "detail": text})
        try:
            raise ValueError(text)
        except ValueError:
            log.exception("operation failed", extra=tag)
        otel_logger.emit(body=text, attributes={"shape": index, "detail": text})
        with tracer.start_as_current_span(f"op {text}") as span:
            span.set_attribute("shape", index)
            span.set_attribute("app.note", text)
            span.set_attribute("app.notes", [text, "plain"])
            span.add_event("note", {"detail": text})
            span.record_exception(ValueError(text))
        counter.add(1, {"app.note": text})
        audit.record("svc", "corpus.check", f"shape/{index}", "success", note=text)
        log.info("%d items", text)  # a failed log call: one line with the template, the argument not shown

    for index, shape in enumerate(TEXTS):
        everywhere(index, shape.text)
    for index, shape in enumerate(FIELDS):
        tag = {"field_shape": index}
        log.info("field", extra={**tag, shape.key: shape.value})
        with tracer.start_as_current_span("field") as span:
            span.set_attribute("field_shape", index)
            span.set_attribute(shape.key, shape.value)
        counter.add(1, {shape.key: shape.value})
        otel_logger.emit(body="field", attributes={shape.key: shape.value})
        audit.record("svc", "corpus.field", f"field/{index}", "success", **{shape.key: shape.value})
    for index, shape in enumerate(NESTED):
        log.info("nested", extra={"nested_shape": index, shape.key: shape.value})
        audit.record("svc", "corpus.nested", f"nested/{index}", "success", **{shape.key: shape.value})
    for index, text in enumerate(LOOKALIKE_TEXTS):
        log.info(text, extra={"lookalike": index})
        with tracer.start_as_current_span("lookalike") as span:
            span.set_attribute("lookalike", index)
            span.set_attribute("app.note", text)
        audit.record("svc", "corpus.lookalike", f"lookalike/{index}", "success", note=text)
    for index, (key, value) in enumerate(LOOKALIKE_FIELDS):
        log.info("lookalike field", extra={"lookalike_field": index, key: value})
        with tracer.start_as_current_span("lookalike field") as span:
            span.set_attribute("lookalike_field", index)
            span.set_attribute(key, value)
        audit.record("svc", "corpus.lookalike_field", f"lookalike_field/{index}", "success", **{key: value})
    log.info(SEPARATORS)

    async def requests() -> None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for index in range(len(TEXTS)):
                await client.get(f"/boom/{index}")

    asyncio.run(requests())
    handle.force_flush(10)
    handle.shutdown(10)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
