#!/usr/bin/env bash
# Build helm (helm.sh/helm/v3 v3.22.0) from this tools module, with the version ldflags of
# helm's own Makefile (the Kubernetes version helm assumes without a cluster is 1.37, the k8s.io
# modules it is built with). Cached outside the work tree (tools/lib/build-go-tool.sh); the
# last line on stdout is the binary's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../lib/build-go-tool.sh" "$here" helm helm.sh/helm/v3/cmd/helm \
  "-X helm.sh/helm/v3/internal/version.version=v3.22.0 -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
   -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37 \
   -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37"
