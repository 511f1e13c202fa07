"""The app of the shutdown tests: each ``GET /work/{item}`` makes one server span, one log
record and one audit record (resource ``item/<item>``), so a test can count what arrived.

It configures telemetry at import, as a service using the code path does (under the launcher
that call is a no-op). ``python tests/support/shutdown_app.py PORT`` serves it with
``uvicorn.run``: the plain ``python app.py`` case."""

import logging
import sys

from fastapi import FastAPI

import vitalyst_otel
from vitalyst_otel import audit

app = FastAPI()
log = logging.getLogger("shutdown.app")


@app.get("/work/{item}")
async def work(item: str):
    log.info("worked on %s", item, extra={"item": item})
    audit.record("tester", "item.work", f"item/{item}", "success")
    return {"item": item}


vitalyst_otel.configure(app=app, service_name="shutdown-test")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None)
