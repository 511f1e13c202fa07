#!/usr/bin/env bash
# Install the Debian packages the tests need where they are missing: Prometheus, Alertmanager
# (with promtool and amtool), wrk, Docker (docker.io: the daemon, containerd, runc) and
# debootstrap (the local base image). Without root or apt-get it names what is missing and
# exits 0: the tests that need it skip on a laptop and fail under CI=true.
set -euo pipefail
log() { printf 'tools/install-system.sh: %s\n' "$*" >&2; }

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
[ ${#need[@]} -gt 0 ] || exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "missing Debian packages: ${need[*]} (needs root and apt-get to install); their tests will skip"
  exit 0
fi
log "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
