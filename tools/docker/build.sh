#!/usr/bin/env bash
# Build the Docker CLI plugins the deployment tests need, from the Go modules pinned here, and
# link them where the docker CLI finds them (${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/):
#   compose/  docker compose v2 (github.com/docker/compose/v2: `compose up --wait`, and the
#             compose-go loader behind `compose config`), always;
#   buildx/   docker buildx (github.com/docker/buildx), only when asked for (`build.sh buildx`):
#             the image builds need BuildKit for --secret, and Debian 12's docker CLI (docker.io
#             20.10) has it built in (tools/docker/buildkit-build.sh uses either), so a machine
#             with docker.io does not need buildx.
# Two modules, not one: their dependency graphs (moby/buildkit) do not agree. Binaries are
# cached outside the work tree by tools/lib/build-go-tool.sh.
# usage: build.sh [compose] [buildx]   (default: compose)
# stdout gets one line per plugin: "<name> <path>".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugins_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

version_of() {  # the version a module's go.mod requires of a module
  sed -n "s#^[[:space:]]*$2 \(v[^ ]*\).*#\1#p" "$here/$1/go.mod" | head -n1
}

plugin() {  # module-dir package version-variable module
  local binary
  binary="$("$here/../lib/build-go-tool.sh" "$here/$1" "docker-$1" "$2" "-X $3=$(version_of "$1" "$4")" | tail -n1)"
  mkdir -p "$plugins_dir"
  ln -sfn "$binary" "$plugins_dir/docker-$1"
  printf '%s %s\n' "$1" "$binary"
}

[ $# -gt 0 ] || set -- compose
for name in "$@"; do
  case "$name" in
    compose) plugin compose github.com/docker/compose/v2/cmd github.com/docker/compose/v2/internal.Version github.com/docker/compose/v2 ;;
    buildx) plugin buildx github.com/docker/buildx/cmd/buildx github.com/docker/buildx/version.Version github.com/docker/buildx ;;
    *) printf 'tools/docker/build.sh: unknown plugin %s (compose, buildx)\n' "$name" >&2; exit 2 ;;
  esac
done
