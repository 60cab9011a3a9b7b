{{/* Chart name, truncated to the 63 characters labels allow. */}}
{{- define "testjob-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name of every object. */}}
{{- define "testjob-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The standard app.kubernetes.io labels. */}}
{{- define "testjob-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "testjob-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: testjob-operator
{{- end }}

{{/* Labels the Deployment selects its Pods by. */}}
{{- define "testjob-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "testjob-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "testjob-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "testjob-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* What the controller does with TestJobs, Pods and Events: exactly the calls it makes. */}}
{{- define "testjob-operator.controllerRules" -}}
- apiGroups: ["testjob.dev"]
  resources: ["testjobs"]
  verbs: ["get", "list", "watch", "patch", "update", "delete"]
- apiGroups: ["testjob.dev"]
  resources: ["testjobs/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
# The report sidecar's log holds a report too large for its termination message; with keepLogs
# the runner's log tail is read before its Pod is deleted.
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
# Reports and kept logs live in ConfigMaps owned by their TestJob, written by server-side apply
# (patch; create for the apply that makes one).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "patch"]
{{- end }}
