"""Benchmarks of vitalyst_otel against baselines measured in the same run: ``make bench`` or
``python -m benchmarks --help``; the method is in docs/performance.md."""
