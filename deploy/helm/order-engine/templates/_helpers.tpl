{{/*
Names, labels and the pieces every workload shares.
*/}}

{{/* The services, in a fixed order: each has a Deployment, a Service and a ServiceAccount. */}}
{{- define "order-engine.components" -}}
api worker notifier
{{- end -}}

{{- define "order-engine.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped name; the component suffix is added by callers, so keep room for "-notifier". */}}
{{- define "order-engine.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "order-engine.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. Call with (dict "root" $ "component" "api"). */}}
{{- define "order-engine.labels" -}}
helm.sh/chart: {{ include "order-engine.chart" .root }}
{{ include "order-engine.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: order-engine
{{- end -}}

{{/* The stable subset used in selectors: never change these on upgrade. */}}
{{- define "order-engine.selectorLabels" -}}
app.kubernetes.io/name: {{ include "order-engine.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "order-engine.componentName" -}}
{{- printf "%s-%s" (include "order-engine.fullname" .root) .component -}}
{{- end -}}

{{- define "order-engine.serviceAccountName" -}}
{{- $sa := (index .root.Values .component).serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "order-engine.componentName" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* <repository>-<component>:<tag>, each overridable per component. */}}
{{- define "order-engine.image" -}}
{{- $own := (index .root.Values .component).image | default dict -}}
{{- $repository := $own.repository | default (printf "%s-%s" .root.Values.image.repository .component) -}}
{{- $tag := $own.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{- define "order-engine.secretName" -}}
{{- .Values.secret.existingSecret | default (printf "%s-urls" (include "order-engine.fullname" .)) -}}
{{- end -}}

{{/*
A setting's value as the environment string the service parses. Helm reads every number of a values
file as a float64, which prints 1048576 as "1.048576e+06": whole numbers are printed as integers.
*/}}
{{- define "order-engine.envValue" -}}
{{- if kindIs "float64" . -}}
{{- if eq (float64 (int64 .)) . -}}{{- int64 . -}}{{- else -}}{{- . -}}{{- end -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/* The settings a component reads: CommonSettings, then its own. */}}
{{- define "order-engine.settings" -}}
{{- $own := (index .root.Values .component).config -}}
{{- merge (dict) $own .root.Values.config | toYaml -}}
{{- end -}}

{{/* DATABASE_URL and AMQP_URL from the Secret; never in a ConfigMap. */}}
{{- define "order-engine.secretEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: DATABASE_URL
- name: AMQP_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: AMQP_URL
- name: WS_TICKET_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: WS_TICKET_SECRET
      optional: true
{{- end -}}

{{/* The component's port: its *_PORT setting. */}}
{{- define "order-engine.port" -}}
{{- $cfg := (index .root.Values .component).config -}}
{{- index $cfg (printf "%s_PORT" (upper .component)) | int -}}
{{- end -}}

{{/* terminationGracePeriodSeconds must outlast the preStop pause plus the service's own drain. */}}
{{- define "order-engine.checkGrace" -}}
{{- $values := index .root.Values .component -}}
{{- $needed := addf (float64 .root.Values.config.SHUTDOWN_GRACE_S) (float64 .root.Values.preStopSleepSeconds) -}}
{{- if le (float64 $values.terminationGracePeriodSeconds) $needed -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%v) must exceed config.SHUTDOWN_GRACE_S + preStopSleepSeconds (%v), or the kubelet kills the %s before it has drained" .component $values.terminationGracePeriodSeconds $needed .component) -}}
{{- end -}}
{{- end -}}
