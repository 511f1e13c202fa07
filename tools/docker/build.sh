#!/usr/bin/env bash
# Build the Docker CLI plugins the deployment tests need, from the Go modules pinned here, and
# install them where the docker CLI finds them:
#   compose/  docker compose v2 (github.com/docker/compose/v2, `compose up --wait`, the compose-go
#             loader behind `compose config`)
#   buildx/   docker buildx (github.com/docker/buildx: BuildKit builds with --secret, so pip in an
#             image build gets the host's CA bundle without it landing in a layer)
# Two modules, not one: their dependency graphs (moby/buildkit) do not agree.
#
# Binaries are cached OUTSIDE the work tree, keyed by the hash of each module's go.mod/go.sum:
#   ${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}/docker-plugins/<name>/<sha256 prefix>/docker-<name>
# and linked into ${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/. Progress goes to stderr; stdout
# gets one line per plugin: "<name> <path>".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}"
plugins_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
log() { printf 'tools/docker/build.sh: %s\n' "$*" >&2; }
command -v go >/dev/null 2>&1 || { log "go is not installed (https://go.dev/doc/install)"; exit 2; }

version_of() {  # the version go.mod requires of a module
  sed -n "s#^[[:space:]]*$1 \(v[^ ]*\).*#\1#p" "$2" | head -n1
}

build() {  # name package ldflags-variable module
  local name="$1" package="$2" variable="$3" module="$4"
  local dir="$here/$name"
  local hash version out_dir binary tmp start
  hash="$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-16)"
  version="$(version_of "$module" "$dir/go.mod")"
  out_dir="$cache_root/docker-plugins/$name/$hash"
  binary="$out_dir/docker-$name"
  if [ ! -x "$binary" ]; then
    mkdir -p "$out_dir"
    tmp="$(mktemp "$out_dir/.docker-$name.XXXXXX")"
    log "building docker-$name $version ($hash); the first build takes minutes"
    start=$SECONDS
    if ! (cd "$dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath \
            -ldflags "-s -w -X $variable=$version" -o "$tmp" "$package") >&2; then
      rm -f "$tmp"
      return 1
    fi
    mv "$tmp" "$binary"
    log "built in $((SECONDS - start)) s: $binary"
  fi
  mkdir -p "$plugins_dir"
  ln -sfn "$binary" "$plugins_dir/docker-$name"
  printf '%s %s\n' "$name" "$binary"
}

build compose github.com/docker/compose/v2/cmd github.com/docker/compose/v2/internal.Version github.com/docker/compose/v2
build buildx github.com/docker/buildx/cmd/buildx github.com/docker/buildx/version.Version github.com/docker/buildx
