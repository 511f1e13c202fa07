#!/usr/bin/env bash
# Build Jaeger v2 (the OTLP trace backend of the tests, standing in for Tempo) from this tools
# module. The jaeger module cannot be `go install`ed (its go.mod has replace directives), so
# go.mod here names it as a tool (`go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@v1.76.0`,
# which is Jaeger v2.13) and go.sum locks every checksum.
#
# The binary lands in a cache OUTSIDE the work tree, keyed by the hash of go.mod and go.sum:
#   ${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}/jaeger/<sha256 prefix>/jaeger
# and is reused while they are unchanged. Progress goes to stderr; the LAST line on stdout is the
# binary's absolute path. Run it with: jaeger --config tools/jaeger/config.yaml
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}"

log() { printf 'tools/jaeger/build.sh: %s\n' "$*" >&2; }

command -v go >/dev/null 2>&1 || { log "go is not installed (https://go.dev/doc/install)"; exit 2; }

hash="$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)"
out_dir="$cache_root/jaeger/$hash"
binary="$out_dir/jaeger"

if [ -x "$binary" ]; then
  log "go.mod/go.sum unchanged ($hash): reusing $binary"
  printf '%s\n' "$binary"
  exit 0
fi

mkdir -p "$out_dir"
tmp="$(mktemp "$out_dir/.jaeger.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
log "building Jaeger v2 ($hash); the first build takes minutes"
start=$SECONDS
(cd "$here" && go build -mod=readonly -o "$tmp" github.com/jaegertracing/jaeger/cmd/jaeger) >&2
mv "$tmp" "$binary"
log "built in $((SECONDS - start)) s: $binary"
printf '%s\n' "$binary"
