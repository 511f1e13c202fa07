#!/usr/bin/env bash
# Build the images of deploy/images with BuildKit (tools/docker/buildkit-build.sh: the buildx
# plugin, or Debian's docker CLI, which has BuildKit built in) on the local daemon. Usage:
#   deploy/images/build.sh [--tag TAG] [--base IMAGE] [NAME ...]
# NAME is a directory of deploy/images (default: all of them). TAG defaults to "local", BASE to
# the local debootstrap image (deploy/images/build-base.sh); a release build passes the upstream
# images' defaults by giving --base "" (each Dockerfile's ARG BASE default is then used).
#
# Each image gets a build context staged in a temporary directory with exactly what its
# Dockerfile copies: the static collector binary (collector/build.sh), the health probe
# (tools/healthcheck/build.sh), collector/*.yaml, the vitalyst-otel wheel (built from this
# checkout), Jaeger (tools/jaeger/build.sh) or a devstack module. The host's CA bundle
# (VITALYST_BUILD_CA_BUNDLE, default /etc/ssl/certs/ca-certificates.crt) is passed to pip as a
# BuildKit secret: mounted for the RUN that installs, never written into a layer.
# Prints one line per image built: its reference.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tag=local
base=__local__
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --base) base="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=(vitalyst-otelcol python-app-base vitalyst-demo autoinstrumentation-python
                               ci-prometheus ci-alertmanager ci-jaeger ci-es-standin ci-alert-relay ci-plain-python-app)

log() { printf 'deploy/images/build.sh: %s\n' "$*" >&2; }
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/pyproject.toml" | head -n1)"
revision="$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ca="${VITALYST_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python=python3

[ "$base" = __local__ ] && base="$("$here/build-base.sh" | tail -n1)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

wheel_dir=""
wheel() {  # the vitalyst-otel wheel of this checkout, built once per run
  if [ -z "$wheel_dir" ]; then
    wheel_dir="$work/dist"
    "$python" -m pip wheel --quiet --no-deps --wheel-dir "$wheel_dir" "$root" >&2
  fi
  cp -r "$wheel_dir" "$1/dist"
}

repository() {  # the image name of a deploy/images directory
  case "$1" in
    ci-*) printf 'vitalyst-ci/%s' "${1#ci-}" ;;
    *) printf 'ghcr.io/vitalyst/%s' "$1" ;;
  esac
}

stage() {  # name context: put what the Dockerfile copies into the context
  local name="$1" ctx="$2"
  cp -r "$here/$name/." "$ctx/"
  case "$name" in
    vitalyst-otelcol)
      cp "$("$root/collector/build.sh" | tail -n1)" "$ctx/vitalyst-otelcol"
      cp "$("$root/tools/healthcheck/build.sh" | tail -n1)" "$ctx/healthcheck"
      mkdir -p "$ctx/collector"
      cp -r "$root/collector/overlays" "$ctx/collector/"
      find "$root/collector" -maxdepth 1 -name '*.yaml' ! -name manifest.yaml -exec cp {} "$ctx/collector/" \;
      ;;
    python-app-base|vitalyst-demo|autoinstrumentation-python) wheel "$ctx" ;;
    ci-jaeger)
      cp "$("$root/tools/jaeger/build.sh" | tail -n1)" "$ctx/jaeger"
      cp "$root/tools/jaeger/config.yaml" "$ctx/config.yaml"
      ;;
    ci-es-standin) cp "$root/devstack/es_standin.py" "$ctx/" ;;
  esac
}

for name in "${names[@]}"; do
  [ -f "$here/$name/Dockerfile" ] || { log "no Dockerfile in $here/$name"; exit 2; }
  ctx="$work/$name"
  mkdir -p "$ctx"
  stage "$name" "$ctx"
  image="$(repository "$name"):$tag"
  args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created")
  # The CI images' build labels (ours set them in their Dockerfiles from the same arguments).
  [[ "$name" == ci-* ]] && args+=(--label "org.opencontainers.image.version=$version"
                                  --label "org.opencontainers.image.revision=$revision"
                                  --label "org.opencontainers.image.created=$created"
                                  --label "org.opencontainers.image.source=https://github.com/vitalyst/vitalyst-otel"
                                  --label "org.opencontainers.image.vendor=Vitalyst")
  if [ -n "$base" ]; then
    args+=(--build-arg "BASE=$base" --build-arg "RUNTIME=$base")
  fi
  [ "$name" = vitalyst-demo ] && args+=(--build-arg "APP_BASE=$(repository python-app-base):$tag")
  [ -s "$ca" ] && args+=(--secret "id=ca,src=$ca")
  log "building $image"
  start=$SECONDS
  "$root/tools/docker/buildkit-build.sh" --quiet "${args[@]}" --tag "$image" "$ctx" >/dev/null
  log "built $image in $((SECONDS - start)) s"
  printf '%s\n' "$image"
done
