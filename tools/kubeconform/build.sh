#!/usr/bin/env bash
# Build kubeconform (github.com/yannh/kubeconform v0.8.0) from this tools module. Cached outside
# the work tree (tools/lib/build-go-tool.sh); the last line on stdout is the binary's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../lib/build-go-tool.sh" "$here" kubeconform github.com/yannh/kubeconform/cmd/kubeconform
