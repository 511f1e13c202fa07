#!/usr/bin/env bash
# Build etcd (go.etcd.io/etcd/server/v3 v3.7.3), the storage of the local kube-apiserver the
# tests dry-run the chart against. Cached outside the work tree (tools/lib/build-go-tool.sh);
# the last line on stdout is the binary's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../lib/build-go-tool.sh" "$here" etcd go.etcd.io/etcd/server/v3
