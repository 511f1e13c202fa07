#!/usr/bin/env bash
# Make sure a Docker daemon answers: install Debian's docker.io (and debootstrap, for the local
# base image) when they are missing, start dockerd in the background when nothing answers on the
# socket (no systemd on these machines), and wait until it does.
#
# Without root or apt it says what is missing and exits 3, so the caller (make tools) can go on
# and the Docker tests skip (under CI=true they fail instead). dockerd's log goes to
#   ${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}/docker/dockerd.log
set -euo pipefail

cache_root="${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}"
log() { printf 'tools/docker/daemon.sh: %s\n' "$*" >&2; }

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && answers; then
  exit 0
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${missing[*]} and cannot install them (needs root and apt-get); the Docker tests will skip"
    exit 3
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! answers; then
  if [ "$(id -u)" != 0 ]; then
    log "no Docker daemon answers and dockerd needs root; start it (sudo dockerd &) or the Docker tests will skip"
    exit 3
  fi
  mkdir -p "$cache_root/docker"
  log "starting dockerd (log: $cache_root/docker/dockerd.log)"
  # setsid: the daemon outlives this script and the make that ran it.
  setsid dockerd >>"$cache_root/docker/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    answers && break
    sleep 1
  done
fi

if ! answers; then
  log "dockerd did not answer within 60 s; see $cache_root/docker/dockerd.log"
  exit 1
fi
log "Docker daemon $(docker version --format '{{.Server.Version}}') answers"
