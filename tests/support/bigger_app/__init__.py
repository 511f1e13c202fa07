"""A FastAPI app laid out the way FastAPI's tutorial "Bigger Applications" lays one out: routers
in their own modules, included with prefixes and router-level dependencies, plus a mounted
sub-application, a WebSocket route and a streaming (server-sent events) endpoint."""
