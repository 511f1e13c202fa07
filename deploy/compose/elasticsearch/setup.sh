#!/usr/bin/env bash
# Put the lifecycle policies and index templates of this directory into Elasticsearch:
#   setup.sh http://elasticsearch:9200
# ilm-<name>.json -> PUT _ilm/policy/<name>; template-<name>.json -> PUT _index_template/<name>.
# Idempotent (PUT replaces); exits non-zero on the first refusal, naming it.
set -euo pipefail
es="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
put() {
  echo "PUT $1"
  curl -fsS -X PUT -H 'Content-Type: application/json' --data-binary "@$2" "$es/$1"
  echo
}
for f in "$here"/ilm-*.json; do
  name="$(basename "$f" .json)"; put "_ilm/policy/${name#ilm-}" "$f"
done
for f in "$here"/template-*.json; do
  name="$(basename "$f" .json)"; put "_index_template/${name#template-}" "$f"
done
