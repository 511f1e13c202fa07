#!/bin/sh
# Entry point of python-app-base: the opentelemetry-instrument launcher, after reading the OTLP
# header variables from files where <NAME>_FILE is set (compose and Kubernetes secrets are files;
# the OTel specification defines these variables as values only). The file holds the value in
# the OTEL_EXPORTER_OTLP_HEADERS format, e.g. "Authorization=Bearer%20<token>".
set -eu
for name in OTEL_EXPORTER_OTLP_HEADERS OTEL_EXPORTER_OTLP_TRACES_HEADERS \
            OTEL_EXPORTER_OTLP_METRICS_HEADERS OTEL_EXPORTER_OTLP_LOGS_HEADERS; do
  eval "file=\${${name}_FILE:-}"
  if [ -n "$file" ]; then
    if [ ! -r "$file" ]; then
      echo "python-app-base: ${name}_FILE=$file is not readable; starting without $name" >&2
    else
      value="$(cat "$file")"
      export "$name=$value"
    fi
    unset "${name}_FILE"
  fi
done
exec opentelemetry-instrument "$@"
