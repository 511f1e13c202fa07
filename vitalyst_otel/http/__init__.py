"""HTTP server telemetry: the pieces the server middleware composes."""
