#!/usr/bin/env bash
# The JSON schemas kubeconform validates the chart's output against, in a cache OUTSIDE the
# work tree:
#   ${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}/kubeconform-schemas/<sha256 prefix>/
#     kubernetes/v1.37.0-local-strict/<kind>-<group>-<version>.json   built-in kinds
#     crds/<group>/<kind>_<version>.json                               custom resources
# - Kubernetes: the PyPI package kubernetes-validate (schemas of 1.25-1.37). Its files refer to
#   /api/_definitions.json; that reference is rewritten to a file URL of the copy here.
# - CRDs: the CRDs shipped in the Go modules of the OpenTelemetry Operator (config/crd/bases)
#   and the prometheus-operator (example/prometheus-operator-crd), converted with kubeconform's
#   own scripts/openapi2jsonschema.py (strict: unknown fields are errors, as kubectl does).
# Every download is pinned by its checksum below. The key is the hash of this file. The LAST
# line on stdout is the directory; progress goes to stderr. Needs Python with PyYAML and pip
# ($PYTHON, default python3) and go.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${VITALYST_CACHE:-$HOME/.cache/vitalyst-otel}"
python="$(command -v "${PYTHON:-python3}")"
# Absolute: the converter below runs in another directory (make passes .venv/bin/python).
case "$python" in /*) ;; *) python="$PWD/$python" ;; esac

VALIDATE_VERSION=1.37.0
VALIDATE_WHEEL_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
KUBE_SCHEMA=v1.37.0-local-strict
KUBECONFORM_MODULE=github.com/yannh/kubeconform@v0.8.0
CRD_MODULES=(
  "github.com/open-telemetry/opentelemetry-operator@v0.148.0 h1:kzVgjGDejYi/tS6U9PnNAH5Om82mD/n7hUcbBdUfllE= config/crd/bases"
  "github.com/prometheus-operator/prometheus-operator@v0.94.1 h1:QEIb2wenPH+SdMN1xMf8l4Pmj00YYXXI6HlbLlQWkww= example/prometheus-operator-crd"
)

log() { printf 'tools/kubeconform/schemas.sh: %s\n' "$*" >&2; }

hash="$(sha256sum "$here/schemas.sh" | cut -c1-16)"
out="$cache_root/kubeconform-schemas/$hash"
if [ -f "$out/.complete" ]; then
  log "inputs unchanged ($hash): reusing $out"
  printf '%s\n' "$out"
  exit 0
fi

command -v go >/dev/null 2>&1 || { log "go is not installed (https://go.dev/doc/install)"; exit 2; }
work="$(mktemp -d "${TMPDIR:-/tmp}/kubeconform-schemas.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out/kubernetes" "$work/out/crds"

# A module's directory in the module cache, its checksum checked against the pin.
module_dir() {
  local json dir sum
  json="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$1")"
  dir="$(printf '%s' "$json" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  sum="$(printf '%s' "$json" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["Sum"])')"
  if [ -n "${2:-}" ] && [ "$sum" != "$2" ]; then
    log "checksum of $1 is $sum, expected $2"; exit 1
  fi
  printf '%s\n' "$dir"
}

log "kubernetes-validate $VALIDATE_VERSION from PyPI"
"$python" -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheel" "kubernetes-validate==$VALIDATE_VERSION" >&2
wheel="$(ls "$work/wheel"/kubernetes_validate-*.whl)"
echo "$VALIDATE_WHEEL_SHA256  $wheel" | sha256sum --check --quiet >&2
"$python" -m zipfile -e "$wheel" "$work/wheel/x" >&2
cp -r "$work/wheel/x/kubernetes_validate/kubernetes-json-schema/$KUBE_SCHEMA" "$work/out/kubernetes/"
final_kube="$out/kubernetes/$KUBE_SCHEMA"
find "$work/out/kubernetes/$KUBE_SCHEMA" -name '*.json' -print0 \
  | xargs -0 sed -i "s#\"/api/_definitions.json#\"file://$final_kube/_definitions.json#g"

converter="$(module_dir "$KUBECONFORM_MODULE")/scripts/openapi2jsonschema.py"
for entry in "${CRD_MODULES[@]}"; do
  read -r module sum subdir <<<"$entry"
  log "CRDs of $module ($subdir)"
  src="$(module_dir "$module" "$sum")/$subdir"
  for crd in "$src"/*.yaml; do
    group="$(basename "$crd" | cut -d_ -f1)"  # files are named <group>_<plural>.yaml
    mkdir -p "$work/out/crds/$group"
    (cd "$work/out/crds/$group" && FILENAME_FORMAT='{kind}_{version}' DENY_ROOT_ADDITIONAL_PROPERTIES=1 \
      "$python" "$converter" "$crd" >/dev/null)
  done
  mkdir -p "$work/out/crd-manifests"
  cp "$src"/*.yaml "$work/out/crd-manifests/"
done

mkdir -p "$(dirname "$out")"
rm -rf "$out"
mv "$work/out" "$out"
touch "$out/.complete"
log "schemas in $out"
printf '%s\n' "$out"
