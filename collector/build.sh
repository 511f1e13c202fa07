#!/usr/bin/env bash
# Build vitalyst-otelcol from collector/manifest.yaml with the OpenTelemetry Collector Builder.
#
# The binary lands in a cache OUTSIDE the work tree, keyed by the hash of the build inputs
# (manifest.yaml and go.sum):
#   ${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}/collector/<sha256 prefix>/vitalyst-otelcol
# and is reused while they are unchanged. The builder is `go install`ed at the release the
# manifest pins (read from its otlpreceiver line) when it is not in the cache yet.
#
# collector/go.sum is the checksum lock of every module the build uses. It is copied into the
# generated program before the builder runs, so the go command verifies each download against
# it; the public checksum database is not needed for modules it lists (see docs/collector.md:
# the one reachable here does not know several of them). A build that had to add checksums
# says so and leaves the new go.sum next to the binary, to be reviewed and committed.
#
# Progress goes to stderr; the LAST line on stdout is the binary's absolute path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="${VITALYST_COLLECTOR_MANIFEST:-$here/manifest.yaml}"
lock="$(dirname "$manifest")/go.sum"
cache_root="${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}"

log() { printf 'collector/build.sh: %s\n' "$*" >&2; }

command -v go >/dev/null 2>&1 || { log "go is not installed (https://go.dev/doc/install)"; exit 2; }
[ -f "$manifest" ] || { log "no manifest at $manifest"; exit 2; }

inputs=("$manifest")
[ -f "$lock" ] && inputs+=("$lock")
hash="$(cat "${inputs[@]}" | sha256sum | cut -c1-16)"
out_dir="$cache_root/collector/$hash"
binary="$out_dir/vitalyst-otelcol"

if [ -x "$binary" ]; then
  log "inputs unchanged ($hash): reusing $binary"
  printf '%s\n' "$binary"
  exit 0
fi

version="$(sed -n 's#^ *- gomod: go.opentelemetry.io/collector/receiver/otlpreceiver \(v[0-9.]*\).*#\1#p' "$manifest" | head -n1)"
[ -n "$version" ] || { log "cannot read the collector release from the otlpreceiver line of $manifest"; exit 2; }

builder_dir="$cache_root/builder/$version"
builder="$builder_dir/builder"
if [ ! -x "$builder" ]; then
  log "installing the collector builder $version into $builder_dir"
  mkdir -p "$builder_dir"
  GOBIN="$builder_dir" go install "go.opentelemetry.io/collector/cmd/builder@$version" >&2
fi

# Build in a scratch directory and move the result in place only when the build succeeded, so an
# interrupted build never leaves a half-written binary that looks cached.
mkdir -p "$cache_root/collector"
work="$(mktemp -d "$cache_root/collector/.build-$hash.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
sed "s#^\( *output_path:\).*#\1 $work/src#" "$manifest" >"$work/manifest.yaml"
if [ -f "$lock" ]; then
  cp "$lock" "$work/src/go.sum"
else
  log "no $lock: checksums come from the checksum database (GOSUMDB=${GOSUMDB:-default})"
fi

log "building vitalyst-otelcol (collector $version, inputs $hash); the first build takes minutes"
start=$SECONDS
"$builder" --config "$work/manifest.yaml" >&2
mkdir -p "$out_dir/src"
cp "$work/manifest.yaml" "$work/src/go.mod" "$work/src/go.sum" "$work/src/"*.go "$out_dir/src/"
if [ -f "$lock" ] && ! cmp -s "$lock" "$work/src/go.sum"; then
  log "WARNING: the module graph differs from $lock (new or dropped checksums); review and commit $out_dir/src/go.sum"
fi
mv "$work/src/vitalyst-otelcol" "$binary.tmp"
mv "$binary.tmp" "$binary"
log "built in $((SECONDS - start)) s: $binary"
printf '%s\n' "$binary"
