# Two commands for a new machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOAD ?= 20
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: demo test unit compat compat-envs bench collector jaeger tools system docker-base k8s-schemas stack stack-down clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,bench]"
	touch $@

## demo: the demo service, fully instrumented on the embedded default (no servers needed):
## JSON logs on stdout, spans on stderr, Prometheus metrics at /metrics, LOAD seconds of load.
demo: $(VENV)/.installed
	$(BIN)/python -m vitalyst_otel.demo --embedded --load $(LOAD)

## test: the whole suite and, beside it, the supported-release matrix (compat). First `tools`: the
## Debian packages, Docker, the collector, Jaeger and the other Go-built tools (cached outside the
## work tree); what cannot be installed is named, and its tests skip (under CI=true they fail).
## compat runs at lower priority while the suite runs (the integration tests mostly wait on
## servers; the matrix is CPU-bound unit tests), its output printed after the suite's; either
## failing fails `make test`. README.md has the timings.
COMPAT ?= $(BIN)/python tools/compat.py
COMPAT_LOG ?= $(VENV)/compat.log
test: $(VENV)/.installed tools
	@nice -n 10 $(COMPAT) >$(COMPAT_LOG) 2>&1 & compat=$$!; \
	$(BIN)/python -m pytest $(PYTEST_ARGS); suite=$$?; \
	echo "waiting for the compat matrix (tools/compat.py, log: $(COMPAT_LOG))"; \
	wait $$compat; matrix=$$?; cat $(COMPAT_LOG); \
	echo "make test: suite exit $$suite, compat exit $$matrix"; [ $$suite -eq 0 ] && [ $$matrix -eq 0 ]

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

## system: the Debian packages the tests need (tools/install-system.sh; needs root and apt-get).
system:
	@tools/install-system.sh

## tools: everything the integration tests run, built from source where Go is installed and cached
## outside the work tree (~/.cache/vitalyst-otel). The builds are independent, so they run side by
## side (TOOLS_JOBS): downloads and single-threaded link steps of one overlap the compiles of others;
## the download-bound ones (pip for compat-envs, the schemas, debootstrap) start first.
## Without Go (or root for the Docker parts) each says what is missing; those tests skip on a
## laptop and fail under CI=true.
TOOLS_JOBS ?= 4
GO_TOOLS := collector jaeger helm kubeconform etcd kube-apiserver docker healthcheck
.PHONY: $(GO_TOOLS:%=build-%)

tools: system $(VENV)/.installed
	@$(MAKE) --no-print-directory -j$(TOOLS_JOBS) compat-envs k8s-schemas docker-base $(GO_TOOLS:%=build-%)

build-collector:
	@$(call go_build,collector/build.sh)

# A static pattern rule, not `build-%:`: make never searches implicit rules for a .PHONY target,
# so a plain pattern rule left every tool but the collector unbuilt ("Nothing to be done").
$(filter-out build-collector,$(GO_TOOLS:%=build-%)): build-%:
	@$(call go_build,tools/$*/build.sh)

go_build = if command -v go >/dev/null 2>&1; then $(1) >/dev/null; \
	else echo "go is not installed: $(1) cannot build; the tests that need it skip (CI fails instead)"; fi

## docker-base: a running Docker daemon (tools/docker/daemon.sh starts dockerd) and the debootstrap
## base image. The images themselves are built by the tests (deploy/images/build.sh, cached layers).
docker-base: system
	@if tools/docker/daemon.sh; then deploy/images/build-base.sh >/dev/null; \
	else echo "no Docker daemon: the Docker tests will skip (CI fails instead)"; fi

## compat-envs: the environments of the supported-release matrix (tools/compat.py --prepare).
compat-envs: $(VENV)/.installed
	@$(BIN)/python tools/compat.py --prepare >/dev/null

## k8s-schemas: the Kubernetes and CRD JSON schemas kubeconform checks the chart against.
k8s-schemas: $(VENV)/.installed
	@if command -v go >/dev/null 2>&1; then PYTHON=$(BIN)/python tools/kubeconform/schemas.sh >/dev/null; \
	else echo "go is not installed: the kubeconform schemas are not built; the chart's tests will skip (CI fails instead)"; fi

## stack: start the local stack (collector, Prometheus, Alertmanager, Jaeger, Elasticsearch stand-in).
stack: $(VENV)/.installed tools
	$(BIN)/python -m devstack up

stack-down: $(VENV)/.installed
	$(BIN)/python -m devstack down

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis benchmarks/results
