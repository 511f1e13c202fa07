#!/usr/bin/env bash
# Build Jaeger v2 (the OTLP trace backend of the tests, standing in for Tempo) from this tools
# module. The jaeger module cannot be `go install`ed (its go.mod has replace directives), so
# go.mod here names it as a tool (`go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@v1.76.0`,
# which is Jaeger v2.13) and go.sum locks every checksum.
#
# Built like the other tools (tools/lib/build-go-tool.sh: static, -trimpath, the same flags, so
# the packages they share come out of one Go build cache) into a cache OUTSIDE the work tree,
# keyed by the hash of go.mod and go.sum:
#   ${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}/jaeger/<sha256 prefix>/jaeger
# and reused while they are unchanged. Progress goes to stderr; the LAST line on stdout is the
# binary's absolute path. Run it with: jaeger --config tools/jaeger/config.yaml
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../lib/build-go-tool.sh" "$here" jaeger github.com/jaegertracing/jaeger/cmd/jaeger
