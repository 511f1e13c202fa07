"""HTTP server telemetry: the ASGI middleware (:mod:`.server`) and the pieces it composes (route
templates, exclusions, header capture, WebSockets), the per-request facts other signals read
(:mod:`.request_context`), and the FastAPI/Starlette integration (:mod:`.fastapi`)."""
