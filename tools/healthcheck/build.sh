#!/usr/bin/env bash
# Build the static health probe of the vitalyst-otelcol image (standard library only, seconds).
# Cached OUTSIDE the work tree, keyed by the hash of go.mod and main.go:
#   ${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}/healthcheck/<sha256 prefix>/healthcheck
# Progress goes to stderr; the LAST line on stdout is the binary's absolute path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}"
log() { printf 'tools/healthcheck/build.sh: %s\n' "$*" >&2; }
command -v go >/dev/null 2>&1 || { log "go is not installed (https://go.dev/doc/install)"; exit 2; }

hash="$(cat "$here/go.mod" "$here/main.go" | sha256sum | cut -c1-16)"
out_dir="$cache_root/healthcheck/$hash"
binary="$out_dir/healthcheck"
if [ ! -x "$binary" ]; then
  mkdir -p "$out_dir"
  tmp="$(mktemp "$out_dir/.healthcheck.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  (cd "$here" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp" .) >&2
  mv "$tmp" "$binary"
  log "built $binary"
fi
printf '%s\n' "$binary"
