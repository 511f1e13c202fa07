# Two commands for a new machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOAD ?= 20
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: demo test unit compat bench collector jaeger tools k8s-tools stack stack-down clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,bench]"
	touch $@

## demo: the demo service, fully instrumented on the embedded default (no servers needed):
## JSON logs on stdout, spans on stderr, Prometheus metrics at /metrics, LOAD seconds of load.
demo: $(VENV)/.installed
	$(BIN)/python -m vitalyst_otel.demo --embedded --load $(LOAD)

## test: the whole suite, then the supported-release matrix (compat). Builds the collector and
## Jaeger first where Go is installed (cached).
test: $(VENV)/.installed tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python tools/compat.py

## compat: unit and HTTP integration tests on the oldest/newest FastAPI and OpenTelemetry releases
## we claim, FastAPI 0.136, and Python 3.12 and 3.13 (one cached venv each, tools/compat.py).
compat: $(VENV)/.installed
	$(BIN)/python tools/compat.py

## unit: the fast tests only (no servers).
unit: $(VENV)/.installed
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

## bench: the benchmarks; writes benchmarks/results/summary.json.
bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

## collector: build vitalyst-otelcol from collector/manifest.yaml (cached by manifest hash).
collector:
	@collector/build.sh

## jaeger: build Jaeger v2 (the OTLP trace backend of the tests) from tools/jaeger (cached).
jaeger:
	@tools/jaeger/build.sh

tools:
	@if command -v go >/dev/null 2>&1; then \
		collector/build.sh >/dev/null && tools/jaeger/build.sh >/dev/null; \
	else \
		echo "go is not installed: the collector and Jaeger are not built; integration tests will skip (CI fails instead)"; \
	fi

## k8s-tools: helm, kubeconform and its schemas, etcd and kube-apiserver for the Helm chart's
## tests (tools/*/build.sh, cached outside the work tree; about 15 min on a fresh machine).
k8s-tools: $(VENV)/.installed
	@if command -v go >/dev/null 2>&1; then \
		for t in helm kubeconform etcd kube-apiserver; do tools/$$t/build.sh >/dev/null || exit 1; done; \
		PYTHON=$(BIN)/python tools/kubeconform/schemas.sh >/dev/null; \
	else \
		echo "go is not installed: helm, kubeconform, etcd and kube-apiserver are not built; the chart's tests will skip (CI fails instead)"; \
	fi
tools: k8s-tools

## stack: start the local stack (collector, Prometheus, Alertmanager, Jaeger, Elasticsearch stand-in).
stack: $(VENV)/.installed tools
	$(BIN)/python -m devstack up

stack-down: $(VENV)/.installed
	$(BIN)/python -m devstack down

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis benchmarks/results
