# Two commands for a new machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOAD ?= 20
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: demo test unit compat compat-envs bench collector jaeger tools core-tools deploy-tools system docker-base k8s-schemas stack stack-down clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,bench]"
	touch $@

## demo: the demo service, fully instrumented on the embedded default (no servers needed):
## JSON logs on stdout, spans on stderr, Prometheus metrics at /metrics, LOAD seconds of load.
demo: $(VENV)/.installed
	$(BIN)/python -m vitalyst_otel.demo --embedded --load $(LOAD)

## test: the whole suite and, beside it, the supported-release matrix (compat), in two parts so a
## fresh machine tests while it compiles. First the Debian packages and the tools most tests need
## (core-tools: the collector, Jaeger, the compat environments); then the suite without
## DEPLOY_TESTS runs while deploy-tools (Docker, the docker compose plugin, the base image, helm,
## kubeconform and its schemas, etcd, kube-apiserver: most of a fresh machine's compiling) build
## beside it at lower priority, log in TOOLS_LOG; then DEPLOY_TESTS. compat runs at the lowest
## priority throughout (the integration tests mostly wait on servers; the matrix is CPU-bound unit
## tests), its output printed at the end. What cannot be installed is named and its tests skip
## (under CI=true they fail). Any part failing (either pytest run, a tool build, compat) fails
## `make test`. README.md has the timings.
COMPAT ?= $(BIN)/python tools/compat.py
COMPAT_LOG ?= $(VENV)/compat.log
TOOLS_LOG ?= $(VENV)/tools.log
# The tests that need a deploy-tools part; tests/unit/test_make_test_parts.py checks the list.
DEPLOY_TESTS := tests/unit/deploy tests/integration/deploy tests/integration/test_helm_chart.py \
	tests/integration/test_helm_api_server.py
# With PYTEST_ARGS (say -k) one part may select nothing: pytest's exit 5 is then no failure.
NOTHING_SELECTED_OK := $(if $(strip $(PYTEST_ARGS)),5,0)
test: $(VENV)/.installed core-tools
	@ok() { [ $$1 -eq 0 ] || [ $$1 -eq $(NOTHING_SELECTED_OK) ]; }; \
	nice -n 15 $(COMPAT) >$(COMPAT_LOG) 2>&1 & compat=$$!; \
	$(MAKE) --no-print-directory deploy-tools >$(TOOLS_LOG) 2>&1 & tools=$$!; \
	$(BIN)/python -m pytest $(DEPLOY_TESTS:%=--ignore=%) $(PYTEST_ARGS); suite=$$?; \
	echo "waiting for deploy-tools (log: $(TOOLS_LOG))"; \
	wait $$tools; built=$$?; cat $(TOOLS_LOG); \
	$(BIN)/python -m pytest $(DEPLOY_TESTS) $(PYTEST_ARGS); deploy=$$?; \
	echo "waiting for the compat matrix (tools/compat.py, log: $(COMPAT_LOG))"; \
	wait $$compat; matrix=$$?; cat $(COMPAT_LOG); \
	echo "make test: suite exit $$suite, deploy-tools exit $$built, deploy tests exit $$deploy, compat exit $$matrix"; \
	ok $$suite && [ $$built -eq 0 ] && ok $$deploy && [ $$matrix -eq 0 ]

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
## outside the work tree (~/.cache/vitalyst-otel): core-tools, then deploy-tools (what
## DEPLOY_TESTS alone need; `make test` runs the other tests while these build). The builds of a
## group are independent, so they run side by side (TOOLS_JOBS): downloads and single-threaded link
## steps of one overlap the compiles of others; the download-bound ones (pip for compat-envs, the
## schemas, debootstrap) start first. Without Go (or root for the Docker parts) each says what is
## missing; those tests skip on a laptop and fail under CI=true.
TOOLS_JOBS ?= 4
CORE_GO_TOOLS := collector jaeger
DEPLOY_GO_TOOLS := helm kubeconform etcd kube-apiserver docker healthcheck
GO_TOOLS := $(CORE_GO_TOOLS) $(DEPLOY_GO_TOOLS)
.PHONY: $(GO_TOOLS:%=build-%)

tools: core-tools
	@$(MAKE) --no-print-directory deploy-tools

core-tools: system $(VENV)/.installed
	@$(MAKE) --no-print-directory -j$(TOOLS_JOBS) compat-envs $(CORE_GO_TOOLS:%=build-%)

deploy-tools: system $(VENV)/.installed
	@$(MAKE) --no-print-directory -j$(TOOLS_JOBS) k8s-schemas docker-base $(DEPLOY_GO_TOOLS:%=build-%)

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
