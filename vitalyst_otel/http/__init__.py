"""HTTP server telemetry: the ASGI middleware (:mod:`.server`), the per-request facts other
signals read (:mod:`.request_context`), and the FastAPI/Starlette integration (:mod:`.fastapi`)."""
