{{/*
Expand the name of the chart.
*/}}
{{- define "vitalyst-observability.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "vitalyst-observability.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "vitalyst-observability.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "vitalyst-observability.labels" -}}
helm.sh/chart: {{ include "vitalyst-observability.chart" . }}
{{ include "vitalyst-observability.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vitalyst-observability
{{- end }}

{{/*
Selector labels
*/}}
{{- define "vitalyst-observability.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vitalyst-observability.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels and selector labels of one collector tier: (dict "ctx" $ "component" "agent").
*/}}
{{- define "vitalyst-observability.componentLabels" -}}
{{ include "vitalyst-observability.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "vitalyst-observability.componentSelectorLabels" -}}
{{ include "vitalyst-observability.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Create the name of the service account of one tier: (dict "ctx" $ "component" "agent").
Each tier has its own, so that only the agent holds the API permissions it needs.
*/}}
{{- define "vitalyst-observability.serviceAccountName" -}}
{{- if .ctx.Values.serviceAccount.create }}
{{- printf "%s-%s" (include "vitalyst-observability.fullname" .ctx) .component | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- default "default" .ctx.Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Names of the objects the templates refer to across files.
*/}}
{{- define "vitalyst-observability.agentName" -}}
{{- printf "%s-agent" (include "vitalyst-observability.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vitalyst-observability.gatewayName" -}}
{{- printf "%s-gateway" (include "vitalyst-observability.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vitalyst-observability.configName" -}}
{{- printf "%s-collector-config" (include "vitalyst-observability.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vitalyst-observability.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The collector configuration files in the repository (files/collector links to collector/) that
the chart ships in its ConfigMap, as ConfigMap key -> path below the mount.
*/}}
{{- define "vitalyst-observability.configFiles" -}}
config.yaml: config.yaml
gateway.yaml: gateway.yaml
overlays-k8s-metadata.yaml: overlays/k8s-metadata.yaml
overlays-memory-from-limit.yaml: overlays/memory-from-limit.yaml
overlays-to-gateway.yaml: overlays/to-gateway.yaml
overlays-to-gateway-k8s.yaml: overlays/to-gateway-k8s.yaml
overlays-otlp-auth.yaml: overlays/otlp-auth.yaml
overlays-remote-write.yaml: overlays/remote-write.yaml
{{- end }}

{{/*
The --config arguments of the agent, in merge order.
*/}}
{{- define "vitalyst-observability.agentConfigs" -}}
- config.yaml
- overlays/k8s-metadata.yaml
- overlays/memory-from-limit.yaml
{{- if .Values.gateway.enabled }}
- overlays/to-gateway.yaml
- overlays/to-gateway-k8s.yaml
{{- end }}
{{- if .Values.remoteWrite.enabled }}
- overlays/remote-write.yaml
{{- end }}
{{- if .Values.auth.enabled }}
- overlays/otlp-auth.yaml
{{- end }}
{{- end }}

{{- define "vitalyst-observability.gatewayConfigs" -}}
- gateway.yaml
- overlays/memory-from-limit.yaml
{{- end }}

{{/*
Environment both tiers share: the backends and the storage directory.
*/}}
{{- define "vitalyst-observability.collectorEnv" -}}
- name: VITALYST_DEPLOYMENT_ENVIRONMENT
  value: {{ .Values.collector.environment | quote }}
- name: VITALYST_OTELCOL_LOG_LEVEL
  value: {{ .Values.collector.logLevel | quote }}
- name: VITALYST_TEMPO_ENDPOINT
  value: {{ .Values.collector.tempo.endpoint | quote }}
- name: VITALYST_TEMPO_INSECURE
  value: {{ .Values.collector.tempo.insecure | quote }}
- name: VITALYST_TEMPO_TENANT
  value: {{ .Values.collector.tempo.tenant | quote }}
- name: VITALYST_OTELCOL_STORAGE_DIR
  value: /var/lib/vitalyst-otelcol/queue
{{- with .Values.collector.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Container ports of the collector; the PodMonitor finds the metrics ports by these names.
*/}}
{{- define "vitalyst-observability.metricsPortNames" -}}
"8888": otelcol-metrics
"8889": prom-exporter
{{- end }}

{{/*
The host names that stand for the collector in prometheus/prometheus.yml's static targets
(the compose service name); their jobs become the PodMonitor's endpoints.
*/}}
{{- define "vitalyst-observability.collectorScrapeHosts" -}}
- otelcol
{{- end }}
