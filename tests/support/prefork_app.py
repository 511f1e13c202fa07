"""An app that configures telemetry at import time, as a service using the code path would:
under gunicorn --preload that happens in the master, before the workers fork."""

import os

from fastapi import FastAPI

import vitalyst_otel

app = FastAPI()


@app.get("/whoami")
async def whoami():
    return {"pid": os.getpid()}


vitalyst_otel.configure(app=app, service_name="prefork-test")
