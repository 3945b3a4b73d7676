{{/* The prefix of every object's name: "devicesync", as config/default's namePrefix, unless fullnameOverride. */}}
{{- define "devicesync.fullname" -}}
{{- default "devicesync" .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "devicesync.labels" -}}
app.kubernetes.io/name: devicesync-operator
app.kubernetes.io/part-of: devicesync-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The manager's pods, as config/manager selects them (the NetworkPolicy and the Service select the same). */}}
{{- define "devicesync.selectorLabels" -}}
app.kubernetes.io/name: devicesync-operator
app.kubernetes.io/component: manager
{{- end -}}

{{- define "devicesync.serviceAccountName" -}}
{{ include "devicesync.fullname" . }}-controller-manager
{{- end -}}

{{- define "devicesync.metricsServiceName" -}}
{{ include "devicesync.fullname" . }}-controller-manager-metrics-service
{{- end -}}

{{- define "devicesync.image" -}}
{{ required "image.repository is required" .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
