//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded to JSON objects.
//!
//! kubectl 1.32+ sends protobuf from its typed clients — `kubectl create namespace`,
//! `create configmap`, `create secret`, `create serviceaccount`, `create service`,
//! `create deployment`, `create poddisruptionbudget`, `drain` (an Eviction), `create token`
//! (a TokenRequest), `auth whoami` (a SelfSubjectReview),
//! `create role`/`clusterrole`/`rolebinding`/`clusterrolebinding` and `auth can-i` (access
//! and rules reviews) — and has no JSON fallback on a 415. The body is `k8s\0` followed by a
//! `runtime.Unknown` (field 1 TypeMeta {1 apiVersion, 2 kind}, field 2 the raw object). The
//! raw object is decoded by a table of the `generated.proto` messages those commands send
//! (field numbers from k8s.io/api `core/v1/generated.proto`, `apps/v1/generated.proto`,
//! `authentication/v1/generated.proto`, `rbac/v1/generated.proto`,
//! `authorization/v1/generated.proto`, `policy/v1/generated.proto` and apimachinery's
//! `meta/v1/generated.proto`). Go's gogo-protobuf writes every non-pointer field, empty or
//! not, so empty strings, zero numbers and `false` of non-pointer fields mean "unset" (as the
//! JSON encoding's `omitempty`), while pointer fields (`replicas`, …) keep their zero. A field
//! the tables do not know is refused unless it holds nothing, so no value is dropped silently.

use base64::Engine;
use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";
/// How deep [`is_empty_message`] looks into an unknown field before calling it a value.
const MAX_DEPTH: usize = 16;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Well-formed, but a kind or field this server does not decode (a 415).
    Unsupported(String),
    /// Not a valid protobuf body (a 400).
    Malformed(String),
}

impl DecodeError {
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        match self {
            DecodeError::Unsupported(message) | DecodeError::Malformed(message) => message,
        }
    }
}

impl From<String> for DecodeError {
    fn from(message: String) -> Self {
        DecodeError::Malformed(message)
    }
}

impl From<&str> for DecodeError {
    fn from(message: &str) -> Self {
        DecodeError::Malformed(message.to_owned())
    }
}

/// How one field of a message maps to JSON.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A non-pointer string: empty means unset.
    Str,
    /// A pointer string (`*string`): present means set, empty included.
    OptStr,
    /// A non-pointer int32/int64: zero means unset.
    Int,
    /// A pointer int32/int64 (`*int32`): present means set, zero included.
    OptInt,
    /// A non-pointer bool: false means unset.
    Bool,
    /// A pointer bool: present means set.
    OptBool,
    /// `repeated string`.
    Strings,
    /// `map<string, string>`.
    StringMap,
    /// `map<string, bytes>`, base64 in JSON.
    BytesMap,
    /// `map<string, Quantity>` (Quantity is `{1: string}`).
    QuantityMap,
    /// `intstr.IntOrString` {1 type, 2 intVal, 3 strVal}, pointer or not.
    IntOrString,
    /// An embedded message; written as an object even when empty, as Go's JSON does.
    Message(&'static Msg),
    /// `repeated` messages.
    Messages(&'static Msg),
    /// An embedded message whose fields JSON writes into the enclosing object (`json:",inline"`).
    Inline(&'static Msg),
    /// Set by the server, never by a client: accepted and not decoded (timestamps,
    /// managedFields, status).
    ServerOwned,
}

/// A message: its name (for errors) and its fields by number.
#[derive(Debug)]
struct Msg {
    name: &'static str,
    fields: &'static [(u64, &'static str, Kind)],
}

const OBJECT_META: Msg = Msg {
    name: "ObjectMeta",
    fields: &[
        (1, "name", Kind::Str),
        (2, "generateName", Kind::Str),
        (3, "namespace", Kind::Str),
        (4, "selfLink", Kind::ServerOwned),
        (5, "uid", Kind::Str),
        (6, "resourceVersion", Kind::Str),
        (7, "generation", Kind::ServerOwned),
        (8, "creationTimestamp", Kind::ServerOwned),
        (9, "deletionTimestamp", Kind::ServerOwned),
        (10, "deletionGracePeriodSeconds", Kind::ServerOwned),
        (11, "labels", Kind::StringMap),
        (12, "annotations", Kind::StringMap),
        (13, "ownerReferences", Kind::Messages(&OWNER_REFERENCE)),
        (14, "finalizers", Kind::Strings),
        (17, "managedFields", Kind::ServerOwned),
    ],
};

const OWNER_REFERENCE: Msg = Msg {
    name: "OwnerReference",
    fields: &[
        (1, "kind", Kind::Str),
        (3, "name", Kind::Str),
        (4, "uid", Kind::Str),
        (5, "apiVersion", Kind::Str),
        (6, "controller", Kind::OptBool),
        (7, "blockOwnerDeletion", Kind::OptBool),
    ],
};

const LABEL_SELECTOR: Msg = Msg {
    name: "LabelSelector",
    fields: &[
        (1, "matchLabels", Kind::StringMap),
        (2, "matchExpressions", Kind::Messages(&LABEL_SELECTOR_REQUIREMENT)),
    ],
};

const LABEL_SELECTOR_REQUIREMENT: Msg = Msg {
    name: "LabelSelectorRequirement",
    fields: &[(1, "key", Kind::Str), (2, "operator", Kind::Str), (3, "values", Kind::Strings)],
};

const NAMESPACE: Msg = Msg {
    name: "Namespace",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&NAMESPACE_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

const NAMESPACE_SPEC: Msg =
    Msg { name: "NamespaceSpec", fields: &[(1, "finalizers", Kind::Strings)] };

const CONFIG_MAP: Msg = Msg {
    name: "ConfigMap",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "data", Kind::StringMap),
        (3, "binaryData", Kind::BytesMap),
        (4, "immutable", Kind::OptBool),
    ],
};

const SECRET: Msg = Msg {
    name: "Secret",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "data", Kind::BytesMap),
        (3, "type", Kind::Str),
        (4, "stringData", Kind::StringMap),
        (5, "immutable", Kind::OptBool),
    ],
};

const SERVICE_ACCOUNT: Msg = Msg {
    name: "ServiceAccount",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "secrets", Kind::Messages(&OBJECT_REFERENCE)),
        (3, "imagePullSecrets", Kind::Messages(&LOCAL_OBJECT_REFERENCE)),
        (4, "automountServiceAccountToken", Kind::OptBool),
    ],
};

const OBJECT_REFERENCE: Msg = Msg {
    name: "ObjectReference",
    fields: &[
        (1, "kind", Kind::Str),
        (2, "namespace", Kind::Str),
        (3, "name", Kind::Str),
        (4, "uid", Kind::Str),
        (5, "apiVersion", Kind::Str),
        (6, "resourceVersion", Kind::Str),
        (7, "fieldPath", Kind::Str),
    ],
};

const SERVICE: Msg = Msg {
    name: "Service",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&SERVICE_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

const SERVICE_SPEC: Msg = Msg {
    name: "ServiceSpec",
    fields: &[
        (1, "ports", Kind::Messages(&SERVICE_PORT)),
        (2, "selector", Kind::StringMap),
        (3, "clusterIP", Kind::Str),
        (4, "type", Kind::Str),
        (5, "externalIPs", Kind::Strings),
        (7, "sessionAffinity", Kind::Str),
        (8, "loadBalancerIP", Kind::Str),
        (9, "loadBalancerSourceRanges", Kind::Strings),
        (10, "externalName", Kind::Str),
        (11, "externalTrafficPolicy", Kind::Str),
        (12, "healthCheckNodePort", Kind::Int),
        (13, "publishNotReadyAddresses", Kind::Bool),
        (14, "sessionAffinityConfig", Kind::Message(&SESSION_AFFINITY_CONFIG)),
        (17, "ipFamilyPolicy", Kind::OptStr),
        (18, "clusterIPs", Kind::Strings),
        (19, "ipFamilies", Kind::Strings),
        (20, "allocateLoadBalancerNodePorts", Kind::OptBool),
        (21, "loadBalancerClass", Kind::OptStr),
        (22, "internalTrafficPolicy", Kind::OptStr),
        (23, "trafficDistribution", Kind::OptStr),
    ],
};

/// `port` has no `omitempty` in JSON, so it is written even when zero (as `OptInt` does);
/// `targetPort` is a non-pointer IntOrString gogo always writes, `0` when unset, which the
/// Service defaulting turns into `port` as for a JSON `"targetPort": 0`.
const SERVICE_PORT: Msg = Msg {
    name: "ServicePort",
    fields: &[
        (1, "name", Kind::Str),
        (2, "protocol", Kind::Str),
        (3, "port", Kind::OptInt),
        (4, "targetPort", Kind::IntOrString),
        (5, "nodePort", Kind::Int),
        (6, "appProtocol", Kind::OptStr),
    ],
};

const SESSION_AFFINITY_CONFIG: Msg = Msg {
    name: "SessionAffinityConfig",
    fields: &[(1, "clientIP", Kind::Message(&CLIENT_IP_CONFIG))],
};

const CLIENT_IP_CONFIG: Msg =
    Msg { name: "ClientIPConfig", fields: &[(1, "timeoutSeconds", Kind::OptInt)] };

/// policy/v1 (`policy/v1/generated.proto`): `kubectl create poddisruptionbudget`.
const POD_DISRUPTION_BUDGET: Msg = Msg {
    name: "PodDisruptionBudget",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&POD_DISRUPTION_BUDGET_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

const POD_DISRUPTION_BUDGET_SPEC: Msg = Msg {
    name: "PodDisruptionBudgetSpec",
    fields: &[
        (1, "minAvailable", Kind::IntOrString),
        (2, "selector", Kind::Message(&LABEL_SELECTOR)),
        (3, "maxUnavailable", Kind::IntOrString),
        (4, "unhealthyPodEvictionPolicy", Kind::OptStr),
    ],
};

/// scheduling.k8s.io/v1 (`scheduling/v1/generated.proto`): `kubectl create priorityclass`.
/// `value` has no `omitempty` in JSON, so it is written even when zero.
const PRIORITY_CLASS: Msg = Msg {
    name: "PriorityClass",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "value", Kind::OptInt),
        (3, "globalDefault", Kind::Bool),
        (4, "description", Kind::Str),
        (5, "preemptionPolicy", Kind::OptStr),
    ],
};

/// batch/v1 (`batch/v1/generated.proto`): `kubectl create job`. The pod failure and success
/// policies are not decoded (kubectl never sends them).
const JOB: Msg = Msg {
    name: "Job",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&JOB_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

const JOB_SPEC: Msg = Msg {
    name: "JobSpec",
    fields: &[
        (1, "parallelism", Kind::OptInt),
        (2, "completions", Kind::OptInt),
        (3, "activeDeadlineSeconds", Kind::OptInt),
        (4, "selector", Kind::Message(&LABEL_SELECTOR)),
        (5, "manualSelector", Kind::OptBool),
        (6, "template", Kind::Message(&POD_TEMPLATE_SPEC)),
        (7, "backoffLimit", Kind::OptInt),
        (8, "ttlSecondsAfterFinished", Kind::OptInt),
        (9, "completionMode", Kind::OptStr),
        (10, "suspend", Kind::OptBool),
        (12, "backoffLimitPerIndex", Kind::OptInt),
        (13, "maxFailedIndexes", Kind::OptInt),
        (14, "podReplacementPolicy", Kind::OptStr),
        (15, "managedBy", Kind::OptStr),
    ],
};

/// batch/v1 CronJob: `kubectl create cronjob`.
const CRON_JOB: Msg = Msg {
    name: "CronJob",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&CRON_JOB_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

const CRON_JOB_SPEC: Msg = Msg {
    name: "CronJobSpec",
    fields: &[
        (1, "schedule", Kind::Str),
        (2, "startingDeadlineSeconds", Kind::OptInt),
        (3, "concurrencyPolicy", Kind::Str),
        (4, "suspend", Kind::OptBool),
        (5, "jobTemplate", Kind::Message(&JOB_TEMPLATE_SPEC)),
        (6, "successfulJobsHistoryLimit", Kind::OptInt),
        (7, "failedJobsHistoryLimit", Kind::OptInt),
        (8, "timeZone", Kind::OptStr),
    ],
};

const JOB_TEMPLATE_SPEC: Msg = Msg {
    name: "JobTemplateSpec",
    fields: &[(1, "metadata", Kind::Message(&OBJECT_META)), (2, "spec", Kind::Message(&JOB_SPEC))],
};

/// networking.k8s.io/v1 (`networking/v1/generated.proto`): `kubectl create ingress`.
const INGRESS: Msg = Msg {
    name: "Ingress",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&INGRESS_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

const INGRESS_SPEC: Msg = Msg {
    name: "IngressSpec",
    fields: &[
        (1, "defaultBackend", Kind::Message(&INGRESS_BACKEND)),
        (2, "tls", Kind::Messages(&INGRESS_TLS)),
        (3, "rules", Kind::Messages(&INGRESS_RULE)),
        (4, "ingressClassName", Kind::OptStr),
    ],
};

const INGRESS_BACKEND: Msg = Msg {
    name: "IngressBackend",
    fields: &[
        (3, "resource", Kind::Message(&TYPED_LOCAL_OBJECT_REFERENCE)),
        (4, "service", Kind::Message(&INGRESS_SERVICE_BACKEND)),
    ],
};

const INGRESS_SERVICE_BACKEND: Msg = Msg {
    name: "IngressServiceBackend",
    fields: &[(1, "name", Kind::Str), (2, "port", Kind::Message(&SERVICE_BACKEND_PORT))],
};

const SERVICE_BACKEND_PORT: Msg =
    Msg { name: "ServiceBackendPort", fields: &[(1, "name", Kind::Str), (2, "number", Kind::Int)] };

const TYPED_LOCAL_OBJECT_REFERENCE: Msg = Msg {
    name: "TypedLocalObjectReference",
    fields: &[(1, "apiGroup", Kind::OptStr), (2, "kind", Kind::Str), (3, "name", Kind::Str)],
};

const INGRESS_TLS: Msg = Msg {
    name: "IngressTLS",
    fields: &[(1, "hosts", Kind::Strings), (2, "secretName", Kind::Str)],
};

/// `IngressRuleValue` is inline: its `http` sits beside `host` in JSON.
const INGRESS_RULE: Msg = Msg {
    name: "IngressRule",
    fields: &[(1, "host", Kind::Str), (2, "ingressRuleValue", Kind::Inline(&INGRESS_RULE_VALUE))],
};

const INGRESS_RULE_VALUE: Msg = Msg {
    name: "IngressRuleValue",
    fields: &[(1, "http", Kind::Message(&HTTP_INGRESS_RULE_VALUE))],
};

const HTTP_INGRESS_RULE_VALUE: Msg = Msg {
    name: "HTTPIngressRuleValue",
    fields: &[(1, "paths", Kind::Messages(&HTTP_INGRESS_PATH))],
};

const HTTP_INGRESS_PATH: Msg = Msg {
    name: "HTTPIngressPath",
    fields: &[
        (1, "path", Kind::Str),
        (2, "backend", Kind::Message(&INGRESS_BACKEND)),
        (3, "pathType", Kind::OptStr),
    ],
};

/// autoscaling/v1 (`autoscaling/v1/generated.proto`): `kubectl autoscale` (v1.33 creates the
/// v1 form).
const HORIZONTAL_POD_AUTOSCALER: Msg = Msg {
    name: "HorizontalPodAutoscaler",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&HORIZONTAL_POD_AUTOSCALER_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

/// `maxReplicas` has no `omitempty`, so it is written even when zero.
const HORIZONTAL_POD_AUTOSCALER_SPEC: Msg = Msg {
    name: "HorizontalPodAutoscalerSpec",
    fields: &[
        (1, "scaleTargetRef", Kind::Message(&CROSS_VERSION_OBJECT_REFERENCE)),
        (2, "minReplicas", Kind::OptInt),
        (3, "maxReplicas", Kind::OptInt),
        (4, "targetCPUUtilizationPercentage", Kind::OptInt),
    ],
};

const CROSS_VERSION_OBJECT_REFERENCE: Msg = Msg {
    name: "CrossVersionObjectReference",
    fields: &[(1, "kind", Kind::Str), (2, "name", Kind::Str), (3, "apiVersion", Kind::Str)],
};

/// core/v1 ResourceQuota (`core/v1/generated.proto`): `kubectl create quota`.
const RESOURCE_QUOTA: Msg = Msg {
    name: "ResourceQuota",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&RESOURCE_QUOTA_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

const RESOURCE_QUOTA_SPEC: Msg = Msg {
    name: "ResourceQuotaSpec",
    fields: &[
        (1, "hard", Kind::QuantityMap),
        (2, "scopes", Kind::Strings),
        (3, "scopeSelector", Kind::Message(&SCOPE_SELECTOR)),
    ],
};

const SCOPE_SELECTOR: Msg = Msg {
    name: "ScopeSelector",
    fields: &[(1, "matchExpressions", Kind::Messages(&SCOPED_RESOURCE_SELECTOR_REQUIREMENT))],
};

const SCOPED_RESOURCE_SELECTOR_REQUIREMENT: Msg = Msg {
    name: "ScopedResourceSelectorRequirement",
    fields: &[
        (1, "scopeName", Kind::Str),
        (2, "operator", Kind::Str),
        (3, "values", Kind::Strings),
    ],
};

/// policy/v1 Eviction: what `kubectl drain` posts to `pods/{name}/eviction`.
const EVICTION: Msg = Msg {
    name: "Eviction",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "deleteOptions", Kind::Message(&DELETE_OPTIONS)),
    ],
};

/// meta/v1 DeleteOptions (its TypeMeta is not written inside an Eviction).
const DELETE_OPTIONS: Msg = Msg {
    name: "DeleteOptions",
    fields: &[
        (1, "gracePeriodSeconds", Kind::OptInt),
        (2, "preconditions", Kind::Message(&PRECONDITIONS)),
        (3, "orphanDependents", Kind::OptBool),
        (4, "propagationPolicy", Kind::OptStr),
        (5, "dryRun", Kind::Strings),
        (6, "ignoreStoreReadErrorWithClusterBreakingPotential", Kind::OptBool),
    ],
};

const PRECONDITIONS: Msg = Msg {
    name: "Preconditions",
    fields: &[(1, "uid", Kind::OptStr), (2, "resourceVersion", Kind::OptStr)],
};

const DEPLOYMENT: Msg = Msg {
    name: "Deployment",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&DEPLOYMENT_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

const DEPLOYMENT_SPEC: Msg = Msg {
    name: "DeploymentSpec",
    fields: &[
        (1, "replicas", Kind::OptInt),
        (2, "selector", Kind::Message(&LABEL_SELECTOR)),
        (3, "template", Kind::Message(&POD_TEMPLATE_SPEC)),
        (4, "strategy", Kind::Message(&DEPLOYMENT_STRATEGY)),
        (5, "minReadySeconds", Kind::Int),
        (6, "revisionHistoryLimit", Kind::OptInt),
        (7, "paused", Kind::Bool),
        (9, "progressDeadlineSeconds", Kind::OptInt),
    ],
};

const DEPLOYMENT_STRATEGY: Msg = Msg {
    name: "DeploymentStrategy",
    fields: &[(1, "type", Kind::Str), (2, "rollingUpdate", Kind::Message(&ROLLING_UPDATE))],
};

const ROLLING_UPDATE: Msg = Msg {
    name: "RollingUpdateDeployment",
    fields: &[(1, "maxUnavailable", Kind::IntOrString), (2, "maxSurge", Kind::IntOrString)],
};

const POD_TEMPLATE_SPEC: Msg = Msg {
    name: "PodTemplateSpec",
    fields: &[(1, "metadata", Kind::Message(&OBJECT_META)), (2, "spec", Kind::Message(&POD_SPEC))],
};

const POD_SPEC: Msg = Msg {
    name: "PodSpec",
    fields: &[
        (2, "containers", Kind::Messages(&CONTAINER)),
        (3, "restartPolicy", Kind::Str),
        (4, "terminationGracePeriodSeconds", Kind::OptInt),
        (5, "activeDeadlineSeconds", Kind::OptInt),
        (6, "dnsPolicy", Kind::Str),
        (7, "nodeSelector", Kind::StringMap),
        (8, "serviceAccountName", Kind::Str),
        (9, "serviceAccount", Kind::Str),
        (10, "nodeName", Kind::Str),
        (11, "hostNetwork", Kind::Bool),
        (12, "hostPID", Kind::Bool),
        (13, "hostIPC", Kind::Bool),
        (15, "imagePullSecrets", Kind::Messages(&LOCAL_OBJECT_REFERENCE)),
        (16, "hostname", Kind::Str),
        (17, "subdomain", Kind::Str),
        (19, "schedulerName", Kind::Str),
        (20, "initContainers", Kind::Messages(&CONTAINER)),
        (21, "automountServiceAccountToken", Kind::OptBool),
        (24, "priorityClassName", Kind::Str),
        (25, "priority", Kind::OptInt),
        (27, "shareProcessNamespace", Kind::OptBool),
        (30, "enableServiceLinks", Kind::OptBool),
    ],
};

const LOCAL_OBJECT_REFERENCE: Msg =
    Msg { name: "LocalObjectReference", fields: &[(1, "name", Kind::Str)] };

const CONTAINER: Msg = Msg {
    name: "Container",
    fields: &[
        (1, "name", Kind::Str),
        (2, "image", Kind::Str),
        (3, "command", Kind::Strings),
        (4, "args", Kind::Strings),
        (5, "workingDir", Kind::Str),
        (6, "ports", Kind::Messages(&CONTAINER_PORT)),
        (7, "env", Kind::Messages(&ENV_VAR)),
        (8, "resources", Kind::Message(&RESOURCE_REQUIREMENTS)),
        (13, "terminationMessagePath", Kind::Str),
        (14, "imagePullPolicy", Kind::Str),
        (16, "stdin", Kind::Bool),
        (17, "stdinOnce", Kind::Bool),
        (18, "tty", Kind::Bool),
        (20, "terminationMessagePolicy", Kind::Str),
    ],
};

const CONTAINER_PORT: Msg = Msg {
    name: "ContainerPort",
    fields: &[
        (1, "name", Kind::Str),
        (2, "hostPort", Kind::Int),
        (3, "containerPort", Kind::Int),
        (4, "protocol", Kind::Str),
        (5, "hostIP", Kind::Str),
    ],
};

const ENV_VAR: Msg =
    Msg { name: "EnvVar", fields: &[(1, "name", Kind::Str), (2, "value", Kind::Str)] };

const RESOURCE_REQUIREMENTS: Msg = Msg {
    name: "ResourceRequirements",
    fields: &[(1, "limits", Kind::QuantityMap), (2, "requests", Kind::QuantityMap)],
};

const TOKEN_REQUEST: Msg = Msg {
    name: "TokenRequest",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&TOKEN_REQUEST_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

const TOKEN_REQUEST_SPEC: Msg = Msg {
    name: "TokenRequestSpec",
    fields: &[
        (1, "audiences", Kind::Strings),
        (3, "boundObjectRef", Kind::Message(&BOUND_OBJECT_REFERENCE)),
        (4, "expirationSeconds", Kind::OptInt),
    ],
};

const BOUND_OBJECT_REFERENCE: Msg = Msg {
    name: "BoundObjectReference",
    fields: &[
        (1, "kind", Kind::Str),
        (2, "apiVersion", Kind::Str),
        (3, "name", Kind::Str),
        (4, "uid", Kind::Str),
    ],
};

const SELF_SUBJECT_REVIEW: Msg = Msg {
    name: "SelfSubjectReview",
    fields: &[(1, "metadata", Kind::Message(&OBJECT_META)), (2, "status", Kind::ServerOwned)],
};

// rbac.authorization.k8s.io/v1 (`kubectl create role`, `create clusterrole`, `create rolebinding`,
// `create clusterrolebinding`).
const ROLE: Msg = Msg {
    name: "Role",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "rules", Kind::Messages(&POLICY_RULE)),
    ],
};

const CLUSTER_ROLE: Msg = Msg {
    name: "ClusterRole",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "rules", Kind::Messages(&POLICY_RULE)),
        (3, "aggregationRule", Kind::Message(&AGGREGATION_RULE)),
    ],
};

const AGGREGATION_RULE: Msg = Msg {
    name: "AggregationRule",
    fields: &[(1, "clusterRoleSelectors", Kind::Messages(&LABEL_SELECTOR))],
};

const POLICY_RULE: Msg = Msg {
    name: "PolicyRule",
    fields: &[
        (1, "verbs", Kind::Strings),
        (2, "apiGroups", Kind::Strings),
        (3, "resources", Kind::Strings),
        (4, "resourceNames", Kind::Strings),
        (5, "nonResourceURLs", Kind::Strings),
    ],
};

/// RoleBinding and ClusterRoleBinding share their fields.
const ROLE_BINDING: Msg = Msg {
    name: "RoleBinding",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "subjects", Kind::Messages(&SUBJECT)),
        (3, "roleRef", Kind::Message(&ROLE_REF)),
    ],
};

const SUBJECT: Msg = Msg {
    name: "Subject",
    fields: &[
        (1, "kind", Kind::Str),
        (2, "apiGroup", Kind::Str),
        (3, "name", Kind::Str),
        (4, "namespace", Kind::Str),
    ],
};

const ROLE_REF: Msg = Msg {
    name: "RoleRef",
    fields: &[(1, "apiGroup", Kind::Str), (2, "kind", Kind::Str), (3, "name", Kind::Str)],
};

// authorization.k8s.io/v1 (`kubectl auth can-i`): the reviews share one spec shape.
const ACCESS_REVIEW: Msg = Msg {
    name: "SubjectAccessReview",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&ACCESS_REVIEW_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

/// `SubjectAccessReviewSpec`; `SelfSubjectAccessReviewSpec` has its fields 1 and 2.
const ACCESS_REVIEW_SPEC: Msg = Msg {
    name: "SubjectAccessReviewSpec",
    fields: &[
        (1, "resourceAttributes", Kind::Message(&RESOURCE_ATTRIBUTES)),
        (2, "nonResourceAttributes", Kind::Message(&NON_RESOURCE_ATTRIBUTES)),
        (3, "user", Kind::Str),
        (4, "groups", Kind::Strings),
        (6, "uid", Kind::Str),
    ],
};

const RESOURCE_ATTRIBUTES: Msg = Msg {
    name: "ResourceAttributes",
    fields: &[
        (1, "namespace", Kind::Str),
        (2, "verb", Kind::Str),
        (3, "group", Kind::Str),
        (4, "version", Kind::Str),
        (5, "resource", Kind::Str),
        (6, "subresource", Kind::Str),
        (7, "name", Kind::Str),
    ],
};

const NON_RESOURCE_ATTRIBUTES: Msg = Msg {
    name: "NonResourceAttributes",
    fields: &[(1, "path", Kind::Str), (2, "verb", Kind::Str)],
};

const SELF_SUBJECT_RULES_REVIEW: Msg = Msg {
    name: "SelfSubjectRulesReview",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&SELF_SUBJECT_RULES_REVIEW_SPEC)),
        (3, "status", Kind::ServerOwned),
    ],
};

const SELF_SUBJECT_RULES_REVIEW_SPEC: Msg =
    Msg { name: "SelfSubjectRulesReviewSpec", fields: &[(1, "namespace", Kind::Str)] };

/// Decodes a protobuf body into the JSON object a JSON client would have sent.
pub(crate) fn decode(body: &[u8]) -> Result<Value, DecodeError> {
    let unknown = body.strip_prefix(MAGIC).ok_or("the protobuf body lacks the k8s\\0 prefix")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for field in Fields::new(unknown) {
        match field? {
            (1, Wire::Bytes(type_meta)) => {
                for field in Fields::new(type_meta) {
                    match field? {
                        (1, Wire::Bytes(v)) => api_version = string(v)?,
                        (2, Wire::Bytes(k)) => kind = string(k)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(bytes)) => raw = bytes,
            _ => {}
        }
    }
    let schema = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "ResourceQuota") => &RESOURCE_QUOTA,
        ("v1", "Secret") => &SECRET,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "Service") => &SERVICE,
        ("apps/v1", "Deployment") => &DEPLOYMENT,
        ("policy/v1", "PodDisruptionBudget") => &POD_DISRUPTION_BUDGET,
        ("policy/v1" | "policy/v1beta1", "Eviction") => &EVICTION,
        ("scheduling.k8s.io/v1", "PriorityClass") => &PRIORITY_CLASS,
        ("networking.k8s.io/v1", "Ingress") => &INGRESS,
        ("autoscaling/v1", "HorizontalPodAutoscaler") => &HORIZONTAL_POD_AUTOSCALER,
        ("batch/v1", "Job") => &JOB,
        ("batch/v1", "CronJob") => &CRON_JOB,
        ("authentication.k8s.io/v1", "TokenRequest") => &TOKEN_REQUEST,
        ("authentication.k8s.io/v1", "SelfSubjectReview") => &SELF_SUBJECT_REVIEW,
        ("rbac.authorization.k8s.io/v1", "Role") => &ROLE,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => &CLUSTER_ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => &ROLE_BINDING,
        (
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview",
        ) => &ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => &SELF_SUBJECT_RULES_REVIEW,
        _ => {
            return Err(DecodeError::Unsupported(format!(
                "protobuf bodies of {api_version} {kind} are not supported by this server; send JSON"
            )));
        }
    };
    let mut object = message(schema, raw)?;
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    Ok(Value::Object(object))
}

/// Decodes one message by its table.
fn message(schema: &'static Msg, raw: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    let mut object = Map::new();
    for field in Fields::new(raw) {
        let (number, wire) = field?;
        let Some(&(_, name, kind)) = schema.fields.iter().find(|(n, _, _)| *n == number) else {
            if is_empty(&wire, 0) {
                continue;
            }
            return Err(DecodeError::Unsupported(format!(
                "field {number} of the protobuf {} message is not supported by this server; \
                 send the object as JSON (kubectl create -f)",
                schema.name
            )));
        };
        let mismatch = || {
            DecodeError::Malformed(format!(
                "protobuf field {number} ({name}) of {} has the wrong wire type",
                schema.name
            ))
        };
        match (kind, wire) {
            (Kind::ServerOwned, _) => {}
            (Kind::Str, Wire::Bytes(v)) => {
                if !v.is_empty() {
                    object.insert(name.into(), json!(string(v)?));
                }
            }
            (Kind::OptStr, Wire::Bytes(v)) => {
                object.insert(name.into(), json!(string(v)?));
            }
            (Kind::Int, Wire::Varint(v)) => {
                if v != 0 {
                    object.insert(name.into(), json!(signed(v)));
                }
            }
            (Kind::OptInt, Wire::Varint(v)) => {
                object.insert(name.into(), json!(signed(v)));
            }
            (Kind::Bool, Wire::Varint(v)) => {
                if v != 0 {
                    object.insert(name.into(), json!(true));
                }
            }
            (Kind::OptBool, Wire::Varint(v)) => {
                object.insert(name.into(), json!(v != 0));
            }
            (Kind::Strings, Wire::Bytes(v)) => push(&mut object, name, json!(string(v)?)),
            (Kind::StringMap, Wire::Bytes(entry)) => {
                let (key, value) = map_entry(entry)?;
                insert(&mut object, name, key, json!(string(value)?));
            }
            (Kind::BytesMap, Wire::Bytes(entry)) => {
                let (key, value) = map_entry(entry)?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(value);
                insert(&mut object, name, key, json!(encoded));
            }
            (Kind::QuantityMap, Wire::Bytes(entry)) => {
                let (key, value) = map_entry(entry)?;
                let mut quantity = String::new();
                for field in Fields::new(value) {
                    if let (1, Wire::Bytes(v)) = field? {
                        quantity = string(v)?;
                    }
                }
                insert(&mut object, name, key, json!(quantity));
            }
            (Kind::IntOrString, Wire::Bytes(v)) => {
                object.insert(name.into(), int_or_string(v)?);
            }
            (Kind::Message(inner), Wire::Bytes(v)) => {
                object.insert(name.into(), Value::Object(message(inner, v)?));
            }
            (Kind::Messages(inner), Wire::Bytes(v)) => {
                push(&mut object, name, Value::Object(message(inner, v)?));
            }
            (Kind::Inline(inner), Wire::Bytes(v)) => object.extend(message(inner, v)?),
            _ => return Err(mismatch()),
        }
    }
    Ok(object)
}

/// `intstr.IntOrString`: {1 type (0 int, 1 string), 2 intVal, 3 strVal}.
fn int_or_string(raw: &[u8]) -> Result<Value, DecodeError> {
    let (mut kind, mut int, mut text) = (0, 0, String::new());
    for field in Fields::new(raw) {
        match field? {
            (1, Wire::Varint(v)) => kind = v,
            (2, Wire::Varint(v)) => int = signed(v),
            (3, Wire::Bytes(v)) => text = string(v)?,
            _ => return Err("a protobuf IntOrString has an unknown field".into()),
        }
    }
    Ok(if kind == 1 { json!(text) } else { json!(int) })
}

/// Appends to the array `name`.
fn push(object: &mut Map<String, Value>, name: &str, value: Value) {
    if let Value::Array(items) = object.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
        items.push(value);
    }
}

/// Sets `key` in the map `name`.
fn insert(object: &mut Map<String, Value>, name: &str, key: String, value: Value) {
    if let Value::Object(map) = object.entry(name).or_insert_with(|| Value::Object(Map::new())) {
        map.insert(key, value);
    }
}

/// A varint as the int32/int64 it encodes (negative int32s are sign-extended to 64 bits).
fn signed(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// Whether an unknown field holds nothing: a zero, an empty string, or a message whose
/// fields all hold nothing (gogo writes empty non-pointer messages and strings).
fn is_empty(wire: &Wire<'_>, depth: usize) -> bool {
    match wire {
        Wire::Varint(v) => *v == 0,
        Wire::Fixed => false,
        Wire::Bytes(bytes) => {
            bytes.is_empty()
                || (depth < MAX_DEPTH
                    && Fields::new(bytes)
                        .all(|field| field.is_ok_and(|(_, wire)| is_empty(&wire, depth + 1))))
        }
    }
}

fn map_entry(entry: &[u8]) -> Result<(String, &[u8]), DecodeError> {
    let (mut key, mut value) = (String::new(), &[][..]);
    for field in Fields::new(entry) {
        match field? {
            (1, Wire::Bytes(k)) => key = string(k)?,
            (2, Wire::Bytes(v)) => value = v,
            _ => {}
        }
    }
    Ok((key, value))
}

fn string(bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a protobuf string is not UTF-8".into())
}

/// One field's value by wire type (fixed-width fields are skipped by the caller).
#[derive(Debug)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// Iterates the fields of a message: `(field number, value)`.
#[derive(Debug)]
struct Fields<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Fields<'a> {
        Fields { rest: bytes, failed: false }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.rest.split_first().ok_or("truncated protobuf varint")?;
            self.rest = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("protobuf varint too long".into())
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if len > self.rest.len() {
            return Err("truncated protobuf field".into());
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn field(&mut self) -> Result<(u64, Wire<'a>), String> {
        let tag = self.varint()?;
        let value = match tag & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| "protobuf length too large")?;
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            other => return Err(format!("unsupported protobuf wire type {other}")),
        };
        Ok((tag >> 3, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Wire<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let field = self.field();
        self.failed = field.is_err();
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = u8::try_from(value & 0x7f).unwrap();
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    /// A length-delimited field.
    fn encode_field(number: u64, bytes: &[u8]) -> Vec<u8> {
        [varint((number << 3) | 2), varint(bytes.len() as u64), bytes.to_vec()].concat()
    }

    fn encode_varint(number: u64, value: u64) -> Vec<u8> {
        [varint(number << 3), varint(value)].concat()
    }

    fn entry(key: &str, value: &[u8]) -> Vec<u8> {
        [encode_field(1, key.as_bytes()), encode_field(2, value)].concat()
    }

    fn body(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta =
            [encode_field(1, api_version.as_bytes()), encode_field(2, kind.as_bytes())].concat();
        [MAGIC.to_vec(), encode_field(1, &type_meta), encode_field(2, raw), encode_field(3, b"")]
            .concat()
    }

    /// ObjectMeta as gogo writes it: every non-pointer field, empty or not.
    fn object_meta(name: &str, namespace: &str, labels: &[(&str, &str)]) -> Vec<u8> {
        let mut out = [
            encode_field(1, name.as_bytes()),
            encode_field(2, b""),
            encode_field(3, namespace.as_bytes()),
            encode_field(4, b""),
            encode_field(5, b""),
            encode_field(6, b""),
            encode_varint(7, 0),
            encode_field(8, b""),
        ]
        .concat();
        for (k, v) in labels {
            out.extend(encode_field(11, &entry(k, v.as_bytes())));
        }
        out
    }

    #[test]
    fn a_priority_class_decodes() {
        // `kubectl create priorityclass low --value=0 --description=batch`: gogo writes the
        // non-pointer value even when zero, and a false globalDefault as 0.
        let raw = [
            encode_field(1, &object_meta("low", "", &[])),
            encode_varint(2, 0),
            encode_varint(3, 0),
            encode_field(4, b"batch"),
            encode_field(5, b"PreemptLowerPriority"),
        ]
        .concat();
        assert_eq!(
            decode(&body("scheduling.k8s.io/v1", "PriorityClass", &raw)).unwrap(),
            json!({
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": "low"},
                "value": 0,
                "description": "batch",
                "preemptionPolicy": "PreemptLowerPriority",
            })
        );
    }

    #[test]
    fn a_resource_quota_decodes() {
        // `kubectl create quota q --hard=pods=2,requests.cpu=1 --scopes=NotBestEffort`: the
        // map entries are {1: key, 2: Quantity {1: string}}; the status is an empty message.
        let entry = |k: &str, v: &str| {
            [encode_field(1, k.as_bytes()), encode_field(2, &encode_field(1, v.as_bytes()))]
                .concat()
        };
        let spec = [
            encode_field(1, &entry("pods", "2")),
            encode_field(1, &entry("requests.cpu", "1")),
            encode_field(2, b"NotBestEffort"),
        ];
        let raw = [
            encode_field(1, &object_meta("q", "default", &[])),
            encode_field(2, &spec.concat()),
            encode_field(3, b""),
        ]
        .concat();
        assert_eq!(
            decode(&body("v1", "ResourceQuota", &raw)).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": {"name": "q", "namespace": "default"},
                "spec": {"hard": {"pods": "2", "requests.cpu": "1"}, "scopes": ["NotBestEffort"]},
            })
        );
    }

    #[test]
    fn a_horizontal_pod_autoscaler_decodes() {
        // `kubectl autoscale statefulset web --min=2 --max=5 --cpu-percent=80`.
        let reference =
            [encode_field(1, b"StatefulSet"), encode_field(2, b"web"), encode_field(3, b"apps/v1")];
        let spec = [
            encode_field(1, &reference.concat()),
            encode_varint(2, 2),
            encode_varint(3, 5),
            encode_varint(4, 80),
        ];
        let raw = [
            encode_field(1, &object_meta("web", "default", &[])),
            encode_field(2, &spec.concat()),
            encode_field(3, &[encode_varint(3, 0), encode_varint(4, 0)].concat()),
        ]
        .concat();
        assert_eq!(
            decode(&body("autoscaling/v1", "HorizontalPodAutoscaler", &raw)).unwrap(),
            json!({
                "apiVersion": "autoscaling/v1",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "scaleTargetRef": {"kind": "StatefulSet", "name": "web", "apiVersion": "apps/v1"},
                    "minReplicas": 2,
                    "maxReplicas": 5,
                    "targetCPUUtilizationPercentage": 80,
                },
            })
        );
    }

    #[test]
    fn an_ingress_decodes_with_its_inline_rule_value() {
        // `kubectl create ingress web --class=nginx --rule="foo.com/=svc:80,tls=cert"`: gogo
        // writes non-pointer fields even when empty (the rule's path is `/`, its port name "").
        let port = [encode_field(1, b""), encode_varint(2, 80)].concat();
        let service = [encode_field(1, b"svc"), encode_field(2, &port)].concat();
        let backend = encode_field(4, &service);
        let path = [encode_field(1, b"/"), encode_field(2, &backend), encode_field(3, b"Exact")];
        let http = encode_field(1, &path.concat());
        let rule = [encode_field(1, b"foo.com"), encode_field(2, &encode_field(1, &http))].concat();
        let tls = [encode_field(1, b"foo.com"), encode_field(2, b"cert")].concat();
        let spec = [encode_field(2, &tls), encode_field(3, &rule), encode_field(4, b"nginx")];
        let raw = [
            encode_field(1, &object_meta("web", "default", &[])),
            encode_field(2, &spec.concat()),
            encode_field(3, &encode_field(1, b"")),
        ]
        .concat();
        assert_eq!(
            decode(&body("networking.k8s.io/v1", "Ingress", &raw)).unwrap(),
            json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "tls": [{"hosts": ["foo.com"], "secretName": "cert"}],
                    "rules": [{"host": "foo.com", "http": {"paths": [{"path": "/",
                        "backend": {"service": {"name": "svc", "port": {"number": 80}}},
                        "pathType": "Exact"}]}}],
                    "ingressClassName": "nginx",
                },
            })
        );
    }

    #[test]
    fn a_disruption_budget_and_an_eviction_decode() {
        // `kubectl create pdb web --selector=app=web --max-unavailable=50%`: the percent is an
        // IntOrString of type 1; minAvailable, a nil pointer, is not written.
        let selector = encode_field(1, &entry("app", b"web"));
        let percent = [encode_varint(1, 1), encode_varint(2, 0), encode_field(3, b"50%")].concat();
        let spec = [encode_field(2, &selector), encode_field(3, &percent)].concat();
        let status = [encode_varint(3, 0), encode_varint(4, 0), encode_varint(5, 0)].concat();
        let raw = [
            encode_field(1, &object_meta("web", "", &[])),
            encode_field(2, &spec),
            encode_field(3, &status),
        ]
        .concat();
        assert_eq!(
            decode(&body("policy/v1", "PodDisruptionBudget", &raw)).unwrap(),
            json!({
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "web"},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": "50%"},
            })
        );
        // `kubectl drain --grace-period=5`: an Eviction with DeleteOptions.
        let options = [encode_varint(1, 5), encode_field(5, b"All")].concat();
        let raw =
            [encode_field(1, &object_meta("web-0", "default", &[])), encode_field(2, &options)]
                .concat();
        assert_eq!(
            decode(&body("policy/v1", "Eviction", &raw)).unwrap(),
            json!({
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": "web-0", "namespace": "default"},
                "deleteOptions": {"gracePeriodSeconds": 5, "dryRun": ["All"]},
            })
        );
    }

    #[test]
    fn the_namespace_body_kubectl_sends_decodes() {
        // The 64-byte body of `kubectl create namespace statefulset01` (kubectl-wire.md §0.2).
        let hex = "6b3873000a0f0a02763112094e616d65737061636512250a1d0a0d7374617465\
                   66756c736574303112001a0022002a0032003800420012001a020a001a002200";
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            decode(&bytes).unwrap(),
            json!({"metadata": {"name": "statefulset01"}, "spec": {},
                   "apiVersion": "v1", "kind": "Namespace"})
        );
    }

    #[test]
    fn rbac_objects_and_access_reviews_decode() {
        // `kubectl create role r --verb=get --resource=pods`.
        let rule =
            [encode_field(1, b"get"), encode_field(2, b""), encode_field(3, b"pods")].concat();
        let raw = [encode_field(1, &object_meta("r", "", &[])), encode_field(2, &rule)].concat();
        assert_eq!(
            decode(&body("rbac.authorization.k8s.io/v1", "Role", &raw)).unwrap(),
            json!({"metadata": {"name": "r"},
                   "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}],
                   "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role"})
        );
        // `kubectl create rolebinding b --role=r --serviceaccount=default:robot`.
        let subject = [
            encode_field(1, b"ServiceAccount"),
            encode_field(2, b""),
            encode_field(3, b"robot"),
            encode_field(4, b"default"),
        ]
        .concat();
        let role_ref = [
            encode_field(1, b"rbac.authorization.k8s.io"),
            encode_field(2, b"Role"),
            encode_field(3, b"r"),
        ]
        .concat();
        let raw = [
            encode_field(1, &object_meta("b", "", &[])),
            encode_field(2, &subject),
            encode_field(3, &role_ref),
        ]
        .concat();
        assert_eq!(
            decode(&body("rbac.authorization.k8s.io/v1", "RoleBinding", &raw)).unwrap(),
            json!({"metadata": {"name": "b"},
                   "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}],
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                   "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding"})
        );
        // `kubectl auth can-i list pods`.
        let attributes = [
            encode_field(1, b"default"),
            encode_field(2, b"list"),
            encode_field(3, b""),
            encode_field(4, b""),
            encode_field(5, b"pods"),
            encode_field(6, b""),
            encode_field(7, b""),
        ]
        .concat();
        let raw = [
            encode_field(1, &object_meta("", "", &[])),
            encode_field(2, &encode_field(1, &attributes)),
            encode_field(3, &encode_varint(1, 0)),
        ]
        .concat();
        assert_eq!(
            decode(&body("authorization.k8s.io/v1", "SelfSubjectAccessReview", &raw)).unwrap(),
            json!({"metadata": {},
                   "spec": {"resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods"}},
                   "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview"})
        );
    }

    #[test]
    fn the_token_request_and_self_subject_review_kubectl_sends_decode() {
        // `kubectl create token robot --duration 10m --bound-object-kind Pod
        // --bound-object-name p`: no audiences, a pointer expirationSeconds, an empty status.
        let reference = [
            encode_field(1, b"Pod"),
            encode_field(2, b"v1"),
            encode_field(3, b"p"),
            encode_field(4, b""),
        ]
        .concat();
        let spec = [encode_field(3, &reference), encode_varint(4, 600)].concat();
        let status = [encode_field(1, b""), encode_field(2, b"")].concat();
        let raw = [
            encode_field(1, &object_meta("", "", &[])),
            encode_field(2, &spec),
            encode_field(3, &status),
        ]
        .concat();
        assert_eq!(
            decode(&body("authentication.k8s.io/v1", "TokenRequest", &raw)).unwrap(),
            json!({"metadata": {}, "spec": {"boundObjectRef":
                       {"kind": "Pod", "apiVersion": "v1", "name": "p"},
                   "expirationSeconds": 600},
                   "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest"})
        );
        let with_audiences =
            [encode_field(1, b"vault"), encode_field(1, b"api"), encode_varint(4, 3600)].concat();
        let raw =
            [encode_field(1, &object_meta("", "", &[])), encode_field(2, &with_audiences)].concat();
        let decoded = decode(&body("authentication.k8s.io/v1", "TokenRequest", &raw)).unwrap();
        assert_eq!(
            decoded["spec"],
            json!({"audiences": ["vault", "api"], "expirationSeconds": 3600})
        );
        // `kubectl auth whoami`.
        let raw = [encode_field(1, &object_meta("", "", &[])), encode_field(2, b"")].concat();
        assert_eq!(
            decode(&body("authentication.k8s.io/v1", "SelfSubjectReview", &raw)).unwrap(),
            json!({"metadata": {}, "apiVersion": "authentication.k8s.io/v1",
                   "kind": "SelfSubjectReview"})
        );
    }

    #[test]
    fn a_config_map_with_labels_and_data_decodes() {
        let raw = [
            encode_field(1, &object_meta("demo", "s", &[("app", "web")])),
            encode_field(2, &entry("k", b"v")),
            encode_field(3, &entry("b", &[0, 255])),
        ]
        .concat();
        assert_eq!(
            decode(&body("v1", "ConfigMap", &raw)).unwrap(),
            json!({"metadata": {"name": "demo", "namespace": "s", "labels": {"app": "web"}},
                   "data": {"k": "v"}, "binaryData": {"b": "AP8="}, "apiVersion": "v1", "kind": "ConfigMap"})
        );
    }

    /// `kubectl create deployment web --image=registry.k8s.io/nginx:1.27 --replicas=3
    /// --port=80 -- nginx -g 'daemon off;'`, encoded as kubectl's gogo marshaller does
    /// (create_deployment.go: labels and selector `app=<name>`, one container named after
    /// the image, the command, the port; empty strategy, resources and status).
    #[test]
    fn the_deployment_kubectl_create_deployment_sends_decodes() {
        let port = [
            encode_field(1, b""),
            encode_varint(2, 0),
            encode_varint(3, 80),
            encode_field(4, b""),
            encode_field(5, b""),
        ]
        .concat();
        let container = [
            encode_field(1, b"nginx"),
            encode_field(2, b"registry.k8s.io/nginx:1.27"),
            encode_field(3, b"nginx"),
            encode_field(3, b"-g"),
            encode_field(3, b"daemon off;"),
            encode_field(5, b""),
            encode_field(6, &port),
            encode_field(8, b""),
            encode_field(13, b""),
            encode_field(14, b""),
            encode_varint(16, 0),
            encode_varint(17, 0),
            encode_varint(18, 0),
            encode_field(20, b""),
        ]
        .concat();
        let pod_spec = [
            encode_field(2, &container),
            encode_field(3, b""),
            encode_field(6, b""),
            encode_field(8, b""),
            encode_field(9, b""),
            encode_field(10, b""),
            encode_varint(11, 0),
            encode_varint(12, 0),
            encode_varint(13, 0),
            encode_field(16, b""),
            encode_field(17, b""),
            encode_field(19, b""),
            encode_field(24, b""),
        ]
        .concat();
        let template =
            [encode_field(1, &object_meta("", "", &[("app", "web")])), encode_field(2, &pod_spec)]
                .concat();
        let selector = encode_field(1, &entry("app", b"web"));
        let status = [encode_varint(1, 0), encode_varint(2, 0), encode_varint(3, 0)].concat();
        let spec = [
            encode_varint(1, 3),
            encode_field(2, &selector),
            encode_field(3, &template),
            encode_field(4, &encode_field(1, b"")),
            encode_varint(5, 0),
            encode_varint(7, 0),
        ]
        .concat();
        let raw = [
            encode_field(1, &object_meta("web", "", &[("app", "web")])),
            encode_field(2, &spec),
            encode_field(3, &status),
        ]
        .concat();
        assert_eq!(
            decode(&body("apps/v1", "Deployment", &raw)).unwrap(),
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": "web"}},
                    "strategy": {},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{
                            "name": "nginx",
                            "image": "registry.k8s.io/nginx:1.27",
                            "command": ["nginx", "-g", "daemon off;"],
                            "ports": [{"containerPort": 80}],
                            "resources": {},
                        }]},
                    },
                },
            })
        );
    }

    #[test]
    fn a_service_account_with_secrets_and_pull_secrets_decodes() {
        // `kubectl create serviceaccount sa1` sends only the metadata …
        let raw = encode_field(1, &object_meta("sa1", "", &[]));
        assert_eq!(
            decode(&body("v1", "ServiceAccount", &raw)).unwrap(),
            json!({"metadata": {"name": "sa1"}, "apiVersion": "v1", "kind": "ServiceAccount"})
        );
        // … the other fields as a typed client writes them (ObjectReference's strings all
        // written, empty or not; the pointer bool kept when false).
        let secret = [
            encode_field(1, b"Secret"),
            encode_field(2, b"ns"),
            encode_field(3, b"tok"),
            encode_field(4, b""),
            encode_field(5, b"v1"),
            encode_field(6, b""),
            encode_field(7, b""),
        ]
        .concat();
        let raw = [
            encode_field(1, &object_meta("sa2", "ns", &[("a", "b")])),
            encode_field(2, &secret),
            encode_field(3, &encode_field(1, b"regcred")),
            encode_varint(4, 0),
        ]
        .concat();
        assert_eq!(
            decode(&body("v1", "ServiceAccount", &raw)).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "sa2", "namespace": "ns", "labels": {"a": "b"}},
                "secrets": [{"kind": "Secret", "namespace": "ns", "name": "tok", "apiVersion": "v1"}],
                "imagePullSecrets": [{"name": "regcred"}],
                "automountServiceAccountToken": false,
            })
        );
    }

    /// `kubectl create service clusterip svc1 --tcp=80:8080 --clusterip=None`, encoded as
    /// kubectl's gogo marshaller does (create_service.go: label and selector `app=<name>`, a
    /// TCP port named `80-8080`; every non-pointer field written, the status empty).
    #[test]
    fn the_service_kubectl_create_service_sends_decodes() {
        let port = [
            encode_field(1, b"80-8080"),
            encode_field(2, b"TCP"),
            encode_varint(3, 80),
            encode_field(
                4,
                &[encode_varint(1, 0), encode_varint(2, 8080), encode_field(3, b"")].concat(),
            ),
            encode_varint(5, 0),
        ]
        .concat();
        let spec = [
            encode_field(1, &port),
            encode_field(2, &entry("app", b"svc1")),
            encode_field(3, b"None"),
            encode_field(4, b"ClusterIP"),
            encode_field(7, b""),
            encode_field(8, b""),
            encode_field(10, b""),
            encode_field(11, b""),
            encode_varint(12, 0),
            encode_varint(13, 0),
        ]
        .concat();
        let raw = [
            encode_field(1, &object_meta("svc1", "", &[("app", "svc1")])),
            encode_field(2, &spec),
            encode_field(3, &encode_field(1, b"")),
        ]
        .concat();
        assert_eq!(
            decode(&body("v1", "Service", &raw)).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "svc1", "labels": {"app": "svc1"}},
                "spec": {
                    "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                    "selector": {"app": "svc1"},
                    "clusterIP": "None",
                    "type": "ClusterIP",
                },
            })
        );
    }

    #[test]
    fn a_service_keeps_its_pointer_fields_and_session_affinity_config() {
        let port = [
            encode_varint(3, 0),
            encode_field(4, &[encode_varint(1, 1), encode_field(3, b"http")].concat()),
            encode_varint(5, 30080),
            encode_field(6, b"kubernetes.io/h2c"),
        ]
        .concat();
        let affinity = encode_field(1, &encode_varint(1, 60));
        let spec = [
            encode_field(1, &port),
            encode_field(4, b"LoadBalancer"),
            encode_field(5, b"192.0.2.1"),
            encode_field(7, b"ClientIP"),
            encode_field(9, b"10.0.0.0/8"),
            encode_field(11, b"Local"),
            encode_varint(12, 31000),
            encode_varint(13, 1),
            encode_field(14, &affinity),
            encode_field(17, b""),
            encode_field(18, b"10.96.0.10"),
            encode_field(19, b"IPv4"),
            encode_varint(20, 0),
            encode_field(21, b"example.com/lb"),
            encode_field(22, b"Cluster"),
            encode_field(23, b"PreferClose"),
        ]
        .concat();
        let raw = [encode_field(1, &object_meta("lb", "ns", &[])), encode_field(2, &spec)].concat();
        let object = decode(&body("v1", "Service", &raw)).unwrap();
        assert_eq!(
            object["spec"],
            json!({
                "ports": [{"port": 0, "targetPort": "http", "nodePort": 30080,
                           "appProtocol": "kubernetes.io/h2c"}],
                "type": "LoadBalancer",
                "externalIPs": ["192.0.2.1"],
                "sessionAffinity": "ClientIP",
                "loadBalancerSourceRanges": ["10.0.0.0/8"],
                "externalTrafficPolicy": "Local",
                "healthCheckNodePort": 31000,
                "publishNotReadyAddresses": true,
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                "ipFamilyPolicy": "",
                "clusterIPs": ["10.96.0.10"],
                "ipFamilies": ["IPv4"],
                "allocateLoadBalancerNodePorts": false,
                "loadBalancerClass": "example.com/lb",
                "internalTrafficPolicy": "Cluster",
                "trafficDistribution": "PreferClose",
            })
        );
        // A status is the server's: accepted, not decoded.
        let status = encode_field(1, &encode_field(1, &encode_field(1, b"203.0.113.9")));
        let raw =
            [encode_field(1, &object_meta("lb", "ns", &[])), encode_field(3, &status)].concat();
        let object = decode(&body("v1", "Service", &raw)).unwrap();
        assert_eq!(object.get("status"), None);
        // ServiceSpec field 16 (topologyKeys, removed) holds a value: refused.
        let raw = encode_field(2, &encode_field(16, b"kubernetes.io/hostname"));
        let error = decode(&body("v1", "Service", &raw)).unwrap_err();
        assert!(error.message().contains("field 16 of the protobuf ServiceSpec"), "{error:?}");
    }

    #[test]
    fn pointer_fields_keep_their_zero_and_int_or_string_decodes() {
        let rolling = [
            encode_field(1, &[encode_varint(1, 1), encode_field(3, b"25%")].concat()),
            encode_field(2, &[encode_varint(1, 0), encode_varint(2, 0)].concat()),
        ]
        .concat();
        let strategy = [encode_field(1, b"RollingUpdate"), encode_field(2, &rolling)].concat();
        let requests = [encode_field(1, b"cpu"), encode_field(2, &encode_field(1, b"100m"))];
        let container = [
            encode_field(1, b"c"),
            encode_field(8, &encode_field(2, &requests.concat())),
            encode_field(7, &[encode_field(1, b"A"), encode_field(2, b"1")].concat()),
        ]
        .concat();
        let pod_spec = [
            encode_field(2, &container),
            encode_varint(4, 0),
            encode_varint(21, 0),
            encode_varint(25, u64::MAX),
        ]
        .concat();
        let spec = [
            encode_varint(1, 0),
            encode_field(3, &encode_field(2, &pod_spec)),
            encode_field(4, &strategy),
            encode_varint(6, 0),
        ]
        .concat();
        let raw = [encode_field(1, &object_meta("d", "ns", &[])), encode_field(2, &spec)].concat();
        let object = decode(&body("apps/v1", "Deployment", &raw)).unwrap();
        assert_eq!(
            object["spec"],
            json!({
                "replicas": 0,
                "revisionHistoryLimit": 0,
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 0}},
                "template": {"spec": {
                    "terminationGracePeriodSeconds": 0,
                    "automountServiceAccountToken": false,
                    "priority": -1,
                    "containers": [{"name": "c", "env": [{"name": "A", "value": "1"}],
                                    "resources": {"requests": {"cpu": "100m"}}}],
                }},
            })
        );
    }

    #[test]
    fn unknown_fields_with_values_are_refused_and_empty_ones_skipped() {
        // PodSpec field 14 (securityContext) is not decoded: refused when it holds a value …
        let security = encode_field(14, &encode_varint(2, 1000));
        let template =
            encode_field(2, &[encode_field(2, &encode_field(1, b"c")), security].concat());
        let raw = encode_field(2, &encode_field(3, &template));
        let error = decode(&body("apps/v1", "Deployment", &raw)).unwrap_err();
        assert_eq!(
            error,
            DecodeError::Unsupported(
                "field 14 of the protobuf PodSpec message is not supported by this server; \
                 send the object as JSON (kubectl create -f)"
                    .into()
            )
        );
        // … and skipped when it is empty, as gogo writes unset non-pointer messages.
        let empty = encode_field(14, &[encode_field(1, b""), encode_varint(2, 0)].concat());
        let template = encode_field(2, &[encode_field(2, &encode_field(1, b"c")), empty].concat());
        let raw = encode_field(2, &encode_field(3, &template));
        let object = decode(&body("apps/v1", "Deployment", &raw)).unwrap();
        assert_eq!(object["spec"]["template"]["spec"], json!({"containers": [{"name": "c"}]}));
        // An env var from a field reference is a value the decoder does not know.
        let env = [encode_field(1, b"A"), encode_field(3, &encode_field(1, b"x"))].concat();
        let container = [encode_field(1, b"c"), encode_field(7, &env)].concat();
        let raw = encode_field(2, &encode_field(3, &encode_field(2, &encode_field(2, &container))));
        let error = decode(&body("apps/v1", "Deployment", &raw)).unwrap_err();
        assert!(error.message().contains("field 3 of the protobuf EnvVar"), "{error:?}");
    }

    /// Every byte of a valid Deployment body flipped, dropped or truncated at, plus random
    /// bodies behind a Deployment envelope: an answer (object or error), never a panic.
    #[test]
    fn mutated_and_random_bodies_never_panic() {
        let container = [encode_field(1, b"c"), encode_field(2, b"img"), encode_field(3, b"sh")];
        let pod = encode_field(2, &container.concat());
        let template =
            [encode_field(1, &object_meta("", "", &[("a", "b")])), encode_field(2, &pod)];
        let spec = [encode_varint(1, 2), encode_field(3, &template.concat())].concat();
        let raw = [encode_field(1, &object_meta("d", "n", &[])), encode_field(2, &spec)].concat();
        let valid = body("apps/v1", "Deployment", &raw);
        assert!(decode(&valid).is_ok());
        for i in 0..valid.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut mutated = valid.clone();
                mutated[i] ^= flip;
                let _ = decode(&mutated);
            }
            let mut dropped = valid.clone();
            dropped.remove(i);
            let _ = decode(&dropped);
            let _ = decode(&valid[..i]);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..2_000 {
            let random: Vec<u8> = (0..len % 300)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[0]
                })
                .collect();
            let _ = decode(&body("apps/v1", "Deployment", &random));
            let _ = decode(&[MAGIC, &random[..]].concat());
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in
            [&b""[..], b"k8s\0", b"k8s\0\x0a\xff", b"k8s\0\x0a\x05ab", b"json", b"k8s\0\x0f"]
        {
            let _ = decode(body);
        }
        assert!(matches!(decode(b"{}"), Err(DecodeError::Malformed(_))));
        let error = decode(&body("apps/v1", "StatefulSet", b"")).unwrap_err();
        assert!(matches!(error, DecodeError::Unsupported(_)), "{error:?}");
        assert!(error.message().contains("apps/v1 StatefulSet"), "{error:?}");
        // Deeply nested empty messages stop at the depth limit instead of recursing on.
        let mut nested = Vec::new();
        for _ in 0..1_000 {
            nested = encode_field(1, &nested);
        }
        let raw = encode_field(99, &nested);
        assert!(decode(&body("v1", "ConfigMap", &raw)).is_err());
        // A wrong wire type for a known field.
        let raw = encode_varint(1, 5);
        assert!(matches!(decode(&body("v1", "Secret", &raw)), Err(DecodeError::Malformed(_))));
    }
}
