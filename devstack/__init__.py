"""The local stack of real backends for tests and demos: our collector, Prometheus, Alertmanager,
Jaeger v2 (standing in for Tempo) and an Elasticsearch bulk-API stand-in, on loopback, started
and stopped by ``python -m devstack up|down|status``. See docs/operations.md."""
