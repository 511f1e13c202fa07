#!/usr/bin/env bash
# `docker build` with BuildKit (what deploy/images/build.sh needs for --secret), from whichever
# client has it:
#   - the buildx CLI plugin, where it is installed (`docker buildx build`);
#   - else a docker CLI older than 23.0, which has the BuildKit client built in
#     (`DOCKER_BUILDKIT=1 docker build`): Debian 12's docker.io (20.10) is one. Newer CLIs
#     refuse BuildKit without buildx, so every docker on PATH is tried, not only the first.
# Either way the build runs on the daemon's own BuildKit, with the same Dockerfile frontend.
# usage: buildkit-build.sh --check | <docker build arguments>
# --check exits 0 (and names the client on stdout) when one of them is there, else 2.
set -euo pipefail

log() { printf 'tools/docker/buildkit-build.sh: %s\n' "$*" >&2; }

builder=()
if docker buildx version >/dev/null 2>&1; then
  builder=(docker buildx build)
else
  while read -r cli; do
    major="$("$cli" --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')"
    if [ -n "$major" ] && [ "$major" -lt 23 ]; then
      builder=(env DOCKER_BUILDKIT=1 "$cli" build)
      break
    fi
  done < <(type -ap docker)
fi

if [ ${#builder[@]} -eq 0 ]; then
  log "no BuildKit client: neither the docker buildx plugin (tools/docker/build.sh buildx) nor a docker CLI before 23.0 (Debian: docker.io)"
  exit 2
fi
if [ "${1:-}" = --check ]; then
  printf '%s\n' "${builder[*]}"
  exit 0
fi
exec "${builder[@]}" "$@"
