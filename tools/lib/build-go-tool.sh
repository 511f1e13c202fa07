#!/usr/bin/env bash
# Build one Go tool named in a tools module (a directory with go.mod + go.sum whose go.mod lists
# the package with a `tool` directive) into a cache OUTSIDE the work tree:
#   ${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}/<name>/<sha256 prefix>/<name>
# The key is the hash of go.mod, go.sum and the ldflags, so a binary is reused while they are
# unchanged. Progress goes to stderr; the LAST line on stdout is the binary's absolute path.
#
# usage: build-go-tool.sh <module dir> <binary name> <package> [ldflags]
set -euo pipefail

module_dir="$(cd "$1" && pwd)"
name="$2"
package="$3"
ldflags="${4:-}"
cache_root="${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}"

log() { printf 'tools/%s/build.sh: %s\n' "$name" "$*" >&2; }

command -v go >/dev/null 2>&1 || { log "go is not installed (https://go.dev/doc/install)"; exit 2; }

hash="$( { cat "$module_dir/go.mod" "$module_dir/go.sum"; printf '%s' "$ldflags"; } | sha256sum | cut -c1-16)"
out_dir="$cache_root/$name/$hash"
binary="$out_dir/$name"

if [ -x "$binary" ]; then
  log "inputs unchanged ($hash): reusing $binary"
  printf '%s\n' "$binary"
  exit 0
fi

mkdir -p "$out_dir"
tmp="$(mktemp "$out_dir/.$name.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
log "building $package ($hash); the first build takes minutes"
start=$SECONDS
(cd "$module_dir" && CGO_ENABLED=0 nice go build -mod=readonly -trimpath -ldflags "-s -w $ldflags" -o "$tmp" "$package") >&2
mv "$tmp" "$binary"
log "built in $((SECONDS - start)) s: $binary"
printf '%s\n' "$binary"
