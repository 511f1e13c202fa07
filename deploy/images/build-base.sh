#!/usr/bin/env bash
# Build the local Python base image: Debian bookworm made with debootstrap and loaded with
# `docker import`. It stands in for the upstream python image (which cannot be pulled here) as
# the BASE of deploy/images/python-app-base, and is the base of the CI images of the Debian
# packages (Prometheus, Alertmanager) and the Elasticsearch bulk-API stand-in.
#
# The root filesystem tarball is cached OUTSIDE the work tree, keyed by the hash of what goes in
# (suite, packages, the clean-up recipe version below):
#   ${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}/base/<sha256 prefix>/rootfs.tar
# and imported only when the daemon does not have the image yet. Needs root, debootstrap and a
# running Docker daemon. Progress goes to stderr; the LAST line on stdout is the image reference.
set -euo pipefail

cache_root="${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}"
suite=bookworm
mirror="${VITALYST_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Python and what pip needs to reach the index (CA certificates); nothing else beyond minbase.
packages=python3,python3-venv,ca-certificates

log() { printf 'deploy/images/build-base.sh: %s\n' "$*" >&2; }

recipe=1  # bump when the debootstrap or clean-up steps below change
hash="$(printf '%s\n' "$suite" "$packages" "$recipe" | sha256sum | cut -c1-16)"
image="vitalyst-local/debian-python:$suite-$hash"
out_dir="$cache_root/base/$hash"
tarball="$out_dir/rootfs.tar"

command -v docker >/dev/null 2>&1 || { log "docker is not installed"; exit 2; }
if docker image inspect "$image" >/dev/null 2>&1; then
  log "reusing image $image"
  printf '%s\n' "$image"
  exit 0
fi

if [ ! -f "$tarball" ]; then
  command -v debootstrap >/dev/null 2>&1 || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 2; }
  [ "$(id -u)" = 0 ] || { log "debootstrap needs root"; exit 2; }
  mkdir -p "$out_dir"
  work="$(mktemp -d "$out_dir/.rootfs.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  log "debootstrap $suite ($packages) from $mirror; takes a few minutes"
  start=$SECONDS
  debootstrap --variant=minbase --include="$packages" "$suite" "$work/root" "$mirror" >&2
  # Smaller and reproducible enough: no package lists, caches, logs or machine identity.
  chroot "$work/root" apt-get clean
  rm -rf "$work/root"/var/lib/apt/lists/* "$work/root"/var/cache/apt/*.bin "$work/root"/var/log/* \
         "$work/root"/tmp/* "$work/root"/usr/share/doc/* "$work/root"/usr/share/man/*
  : >"$work/root/etc/machine-id"
  tar --numeric-owner -C "$work/root" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tarball"
  log "root filesystem in $((SECONDS - start)) s: $tarball"
fi

log "importing $tarball as $image"
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "debootstrap $suite minbase + $packages" \
  "$tarball" "$image" >&2
printf '%s\n' "$image"
