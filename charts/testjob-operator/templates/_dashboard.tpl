{{/* Names and labels of the dashboard's objects. Its Pods carry their own app.kubernetes.io/name,
so the operator's Deployment and metrics Service never select them. */}}
{{- define "testjob-operator.dashboard.fullname" -}}
{{- printf "%s-dashboard" (include "testjob-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "testjob-operator.dashboard.selectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-dashboard" (include "testjob-operator.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "testjob-operator.dashboard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "testjob-operator.dashboard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: dashboard
app.kubernetes.io/part-of: testjob-operator
{{- end }}

{{- define "testjob-operator.dashboard.serviceAccountName" -}}
{{- if .Values.dashboard.serviceAccount.create }}
{{- default (include "testjob-operator.dashboard.fullname" .) .Values.dashboard.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.dashboard.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Read-only: exactly the calls the dashboard makes. Watch TestJobs (the list); read a job's
Pods and their logs, watch a runner Pod until its container starts, and list the job's events
(the job page). */}}
{{- define "testjob-operator.dashboard.rules" -}}
- apiGroups: ["testjob.dev"]
  resources: ["testjobs"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["list"]
# The report ConfigMap a job's status names: the stored report and the kept log.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get"]
{{- end }}
