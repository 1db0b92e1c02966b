//! Defaulting: the values kube-apiserver v1.33 fills in when a field is left out
//! (`pkg/apis/core/v1/defaults.go`, `pkg/apis/apps/v1/defaults.go`,
//! `pkg/apis/storage/v1/defaults.go` (StorageClass, CSIDriver), `pkg/apis/discovery/v1/defaults.go`,
//! `pkg/apis/rbac/v1/defaults.go`), applied to JSON
//! objects on every write. Defaults never overwrite a value the client set.

use serde_json::{Map, Value, json};

/// Applies the defaults of `group`/`kind` to `object`.
pub fn apply(group: &str, kind: &str, object: &mut Value) {
    embedded_metadata(group, kind, object);
    match (group, kind) {
        ("", "Service") => service(object),
        ("", "Pod") => pod(object),
        ("", "PersistentVolumeClaim") => claim(object),
        ("", "PersistentVolume") => persistent_volume(object),
        ("", "Namespace") => {
            if let Some(status) = object_at(object, "status") {
                default(status, "phase", json!("Active"));
            }
        }
        ("", "Node") => node(object),
        ("", "LimitRange") => limit_range(object),
        // A PodTemplate's pod spec gets `SetDefaults_PodSpec` and the rest a pod's spec gets.
        ("", "PodTemplate") => {
            if let Some(pod) = object.get_mut("template").and_then(|t| t.get_mut("spec")) {
                pod_spec(pod);
            }
        }
        ("", "Endpoints") => {
            if let Some(Value::Array(subsets)) = object.get_mut("subsets") {
                for subset in subsets.iter_mut() {
                    ports_protocol(subset.get_mut("ports"));
                }
            }
        }
        ("", "Secret") => {
            if let Some(secret) = object.as_object_mut()
                && secret.get("type").and_then(Value::as_str).is_none_or(str::is_empty)
            {
                secret.insert("type".into(), json!("Opaque"));
            }
        }
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps", "Deployment") => deployment(object),
        ("apps", "ReplicaSet") => replica_set(object),
        ("apps", "DaemonSet") => daemon_set(object),
        ("batch", "Job") => job(object),
        ("batch", "CronJob") => cron_job(object),
        ("storage.k8s.io", "StorageClass") => {
            if let Some(class) = object.as_object_mut() {
                default(class, "reclaimPolicy", json!("Delete"));
                default(class, "volumeBindingMode", json!("Immediate"));
            }
        }
        ("storage.k8s.io", "CSIDriver") => csi_driver(object),
        ("scheduling.k8s.io", "PriorityClass") => {
            if let Some(class) = object.as_object_mut() {
                // Not a default: `value` has no `omitempty`, so a typed decode writes 0.
                default(class, "value", json!(0));
                default(class, "preemptionPolicy", json!("PreemptLowerPriority"));
            }
        }
        ("networking.k8s.io", "NetworkPolicy") => network_policy(object),
        // `SetDefaults_HorizontalPodAutoscaler` of v1 or v2, by the object's apiVersion.
        ("autoscaling", "HorizontalPodAutoscaler") => crate::autoscaling::set_defaults(object),
        // `SetDefaults_IngressClass`: parameters refer to a cluster-scoped resource unless
        // they say otherwise.
        ("networking.k8s.io", "IngressClass") => {
            if let Some(spec) = object_at(object, "spec")
                && let Some(Value::Object(parameters)) = spec.get_mut("parameters")
            {
                default(parameters, "scope", json!("Cluster"));
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            if let Some(Value::Array(ports)) = object.get_mut("ports") {
                for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                    default(port, "name", json!(""));
                    default(port, "protocol", json!("TCP"));
                }
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => binding(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crate::crd::set_defaults(object),
        _ => {}
    }
}

/// `SetDefaults_CSIDriver` (pkg/apis/storage/v1/defaults.go) with v1.33's default feature gates
/// (`SELinuxMountReadWriteOncePod` on): an attach step, no pod info on mount, no capacity
/// tracking, fsGroup applied for ReadWriteOnce volumes with an fsType, persistent volumes only,
/// no republishing, no SELinux mount. An empty mode list counts as unset.
fn csi_driver(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    default(spec, "attachRequired", json!(true));
    default(spec, "podInfoOnMount", json!(false));
    default(spec, "storageCapacity", json!(false));
    default(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    if spec.get("volumeLifecycleModes").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        spec.insert("volumeLifecycleModes".into(), json!(["Persistent"]));
    }
    default(spec, "requiresRepublish", json!(false));
    default(spec, "seLinuxMount", json!(false));
}

/// `SetDefaults_NetworkPolicy` and `SetDefaults_NetworkPolicyPort`: policy types from the rules
/// (`Ingress`, and `Egress` when there are egress rules), ports over TCP. The pod selector is a
/// struct, not a pointer: a policy without one selects every pod (`{}`).
fn network_policy(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    default(spec, "podSelector", json!({}));
    for rules in ["ingress", "egress"] {
        if let Some(Value::Array(rules)) = spec.get_mut(rules) {
            for rule in rules.iter_mut() {
                if let Some(Value::Array(ports)) = rule.get_mut("ports") {
                    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                        default(port, "protocol", json!("TCP"));
                    }
                }
            }
        }
    }
    let unset = spec.get("policyTypes").and_then(Value::as_array).is_none_or(Vec::is_empty);
    if unset {
        let egress = spec.get("egress").and_then(Value::as_array).is_some_and(|e| !e.is_empty());
        let types = if egress { json!(["Ingress", "Egress"]) } else { json!(["Ingress"]) };
        spec.insert("policyTypes".into(), types);
    }
}

/// `SetDefaults_RoleBinding`, `SetDefaults_ClusterRoleBinding` and `SetDefaults_Subject`: an
/// empty `apiGroup` is the RBAC group for the role and for User and Group subjects.
fn binding(object: &mut Value) {
    const RBAC: &str = "rbac.authorization.k8s.io";
    let unset = |map: &Map<String, Value>| {
        map.get("apiGroup").and_then(Value::as_str).is_none_or(str::is_empty)
    };
    // `roleRef` is a struct, not a pointer: it is defaulted even when left out.
    if let Some(role_ref) = object_at(object, "roleRef")
        && unset(role_ref)
    {
        role_ref.insert("apiGroup".into(), json!(RBAC));
    }
    if let Some(Value::Array(subjects)) = object.get_mut("subjects") {
        for subject in subjects.iter_mut().filter_map(Value::as_object_mut) {
            let named =
                matches!(subject.get("kind").and_then(Value::as_str), Some("User" | "Group"));
            if named && unset(subject) {
                subject.insert("apiGroup".into(), json!(RBAC));
            }
        }
    }
}

/// Sets `map[key]` to `value` unless it is already set (and not null).
fn default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

fn object_at<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let map = value.as_object_mut()?;
    map.entry(key).or_insert_with(|| json!({})).as_object_mut()
}

/// `SetDefaults_Service` (cluster IP families as a single-stack IPv4 cluster allocates them).
fn service(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let service_type = spec.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    if service_type != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if let Some(cluster_ip) = spec.get("clusterIP").and_then(Value::as_str).map(str::to_owned)
        && !cluster_ip.is_empty()
    {
        default(spec, "clusterIPs", json!([cluster_ip]));
    }
    if service_type != "ExternalName" {
        default(spec, "ipFamilies", json!(["IPv4"]));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
    }
    if matches!(service_type.as_str(), "NodePort" | "LoadBalancer") {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        default(spec, "sessionAffinityConfig", json!({ "clientIP": { "timeoutSeconds": 10800 } }));
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(port, "protocol", json!("TCP"));
            // A zero or empty target port is unset too.
            if matches!(port.get("targetPort"), Some(t) if t == &json!(0) || t == &json!("")) {
                port.remove("targetPort");
            }
            if let Some(number) = port.get("port").cloned() {
                default(port, "targetPort", number);
            }
        }
    }
    if let Some(object) = object.as_object_mut() {
        default(object, "status", json!({ "loadBalancer": {} }));
    }
}

/// The ObjectMeta of a template embedded in an object (a pod template, a job template, a
/// StatefulSet's claim templates) carries `creationTimestamp: null`, as kube-apiserver v1.33
/// writes every such template: `metav1.Time` is a struct, which `omitempty` does not drop, and
/// its zero value marshals as `null`. It goes where Go's field order puts it.
fn embedded_metadata(group: &str, kind: &str, object: &mut Value) {
    let paths: &[&str] = match (group, kind) {
        ("apps", "StatefulSet") => &["/spec/template"],
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") | ("batch", "Job") => {
            &["/spec/template"]
        }
        ("batch", "CronJob") => &["/spec/jobTemplate", "/spec/jobTemplate/spec/template"],
        ("", "PodTemplate") => &["/template"],
        _ => return,
    };
    for path in paths {
        if let Some(template) = object.pointer_mut(path).and_then(Value::as_object_mut) {
            null_creation_timestamp(template);
        }
    }
    if (group, kind) == ("apps", "StatefulSet")
        && let Some(Value::Array(claims)) = object.pointer_mut("/spec/volumeClaimTemplates")
    {
        for claim in claims.iter_mut().filter_map(Value::as_object_mut) {
            null_creation_timestamp(claim);
        }
    }
}

/// Adds `metadata.creationTimestamp: null` to an embedded object that lacks it, after the
/// fields `ObjectMeta` declares before it.
fn null_creation_timestamp(embedded: &mut Map<String, Value>) {
    const LATER: [&str; 7] = [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    ];
    let metadata = embedded.entry("metadata").or_insert_with(|| json!({}));
    let Some(metadata) = metadata.as_object_mut() else { return };
    if metadata.contains_key("creationTimestamp") {
        return;
    }
    let at = metadata.keys().position(|key| LATER.contains(&key.as_str()));
    let at = at.unwrap_or(metadata.len());
    metadata.shift_insert(at, "creationTimestamp".to_owned(), Value::Null);
}

/// `SetDefaults_StatefulSet`.
fn stateful_set(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    default(spec, "replicas", json!(1));
    default(spec, "podManagementPolicy", json!("OrderedReady"));
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "updateStrategy", json!({}));
    if let Some(strategy) = spec.get_mut("updateStrategy").and_then(Value::as_object_mut)
        && strategy.get("type").and_then(Value::as_str).is_none_or(str::is_empty)
    {
        strategy.insert("type".into(), json!("RollingUpdate"));
    }
    if let Some(strategy) = spec.get_mut("updateStrategy").and_then(Value::as_object_mut)
        && strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
    {
        default(strategy, "rollingUpdate", json!({ "partition": 0 }));
        if let Some(rolling) = strategy.get_mut("rollingUpdate").and_then(Value::as_object_mut) {
            default(rolling, "partition", json!(0));
        }
    }
    // Each half of the policy on its own: `{whenScaled: Delete}` keeps claims when deleted.
    default(spec, "persistentVolumeClaimRetentionPolicy", json!({}));
    if let Some(policy) =
        spec.get_mut("persistentVolumeClaimRetentionPolicy").and_then(Value::as_object_mut)
    {
        for field in ["whenDeleted", "whenScaled"] {
            if policy.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
                policy.insert(field.into(), json!("Retain"));
            }
        }
    }
    if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
        pod_spec(pod);
    }
    if let Some(Value::Array(claims)) = spec.get_mut("volumeClaimTemplates") {
        for template in claims.iter_mut() {
            claim(template);
            if let Some(template) = template.as_object_mut() {
                default(template, "apiVersion", json!("v1"));
                default(template, "kind", json!("PersistentVolumeClaim"));
            }
        }
    }
}

/// `SetDefaults_Deployment` (pkg/apis/apps/v1/defaults.go): one replica, a 25%/25% rolling
/// update, 10 old ReplicaSets kept, a 600 s progress deadline, and the pod template's defaults.
fn deployment(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    default(spec, "replicas", json!(1));
    default(spec, "strategy", json!({}));
    if let Some(strategy) = spec.get_mut("strategy").and_then(Value::as_object_mut) {
        if strategy.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
            strategy.insert("type".into(), json!("RollingUpdate"));
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            default(strategy, "rollingUpdate", json!({}));
            if let Some(rolling) = strategy.get_mut("rollingUpdate").and_then(Value::as_object_mut)
            {
                default(rolling, "maxUnavailable", json!("25%"));
                default(rolling, "maxSurge", json!("25%"));
            }
        }
    }
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
        pod_spec(pod);
    }
}

/// `SetDefaults_ReplicaSet`: one replica; the template's pod defaults.
fn replica_set(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    default(spec, "replicas", json!(1));
    if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
        pod_spec(pod);
    }
}

/// `SetDefaults_DaemonSet`: a rolling update of one node at a time without surge, ten old
/// revisions kept; the template's pod defaults.
fn daemon_set(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    default(spec, "updateStrategy", json!({}));
    if let Some(strategy) = spec.get_mut("updateStrategy").and_then(Value::as_object_mut) {
        if strategy.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
            strategy.insert("type".into(), json!("RollingUpdate"));
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            default(strategy, "rollingUpdate", json!({}));
            if let Some(rolling) = strategy.get_mut("rollingUpdate").and_then(Value::as_object_mut)
            {
                default(rolling, "maxUnavailable", json!(1));
                default(rolling, "maxSurge", json!(0));
            }
        }
    }
    default(spec, "revisionHistoryLimit", json!(10));
    if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
        pod_spec(pod);
    }
}

/// `SetDefaults_Job`: one completion at a time unless said otherwise, six retries (unlimited
/// with a per-index limit), NonIndexed, not suspended, pods replaced once terminating or failed
/// (once failed with a pod failure policy, whose condition patterns match `True`), the job's
/// labels from its template when it has none; the template's pod defaults.
fn job(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    let unset = |spec: &Map<String, Value>, key: &str| spec.get(key).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
    }
    default(spec, "parallelism", json!(1));
    let per_index = !unset(spec, "backoffLimitPerIndex");
    default(spec, "backoffLimit", json!(if per_index { i32::MAX } else { 6 }));
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    let failure_policy = !unset(spec, "podFailurePolicy");
    if let Some(Value::Array(rules)) =
        spec.get_mut("podFailurePolicy").and_then(|p| p.get_mut("rules"))
    {
        for rule in rules.iter_mut() {
            if let Some(Value::Array(patterns)) = rule.get_mut("onPodConditions") {
                for pattern in patterns.iter_mut().filter_map(Value::as_object_mut) {
                    if pattern.get("status").and_then(Value::as_str).is_none_or(str::is_empty) {
                        pattern.insert("status".into(), json!("True"));
                    }
                }
            }
        }
    }
    let replacement = if failure_policy { "Failed" } else { "TerminatingOrFailed" };
    default(spec, "podReplacementPolicy", json!(replacement));
    if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
        pod_spec(pod);
    }
    let template_labels =
        object.pointer("/spec/template/metadata/labels").filter(|l| l.is_object()).cloned();
    if let (Some(labels), Some(metadata)) = (template_labels, object_at(object, "metadata"))
        && metadata.get("labels").and_then(Value::as_object).is_none_or(Map::is_empty)
    {
        metadata.insert("labels".into(), labels);
    }
}

/// `SetDefaults_CronJob`: concurrent runs allowed, not suspended, three successful and one
/// failed job kept; the job template's pod defaults (not a Job's own defaults).
fn cron_job(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else { return };
    if spec.get("concurrencyPolicy").and_then(Value::as_str).is_none_or(str::is_empty) {
        spec.insert("concurrencyPolicy".into(), json!("Allow"));
    }
    default(spec, "suspend", json!(false));
    default(spec, "successfulJobsHistoryLimit", json!(3));
    default(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(pod) =
        spec.get_mut("jobTemplate").and_then(|t| t.pointer_mut("/spec/template/spec"))
    {
        pod_spec(pod);
    }
}

/// `SetDefaults_Pod`: the pod spec, service links, and requests copied from limits.
fn pod(object: &mut Value) {
    let Some(spec) = object.get_mut("spec") else { return };
    pod_spec(spec);
    let Some(spec) = spec.as_object_mut() else { return };
    default(spec, "enableServiceLinks", json!(true));
    for list in ["initContainers", "containers"] {
        let Some(Value::Array(containers)) = spec.get_mut(list) else { continue };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            let Some(resources) = container.get_mut("resources").and_then(Value::as_object_mut)
            else {
                continue;
            };
            let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
                continue;
            };
            if limits.is_empty() {
                continue;
            }
            let requests = resources.entry("requests").or_insert_with(|| json!({}));
            if let Some(requests) = requests.as_object_mut() {
                for (name, quantity) in limits {
                    default(requests, &name, quantity);
                }
            }
        }
    }
}

/// `SetDefaults_PersistentVolumeClaim` (also for claim templates).
fn claim(object: &mut Value) {
    if let Some(spec) = object_at(object, "spec") {
        default(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = object_at(object, "status") {
        default(status, "phase", json!("Pending"));
    }
}

/// `SetDefaults_PersistentVolume`.
fn persistent_volume(object: &mut Value) {
    if let Some(spec) = object_at(object, "spec") {
        default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        default(spec, "volumeMode", json!("Filesystem"));
        if let Some(host_path) = spec.get_mut("hostPath").and_then(Value::as_object_mut) {
            default(host_path, "type", json!(""));
        }
    }
    if let Some(status) = object_at(object, "status") {
        default(status, "phase", json!("Pending"));
    }
}

/// `SetDefaults_LimitRangeItem`: a `Container` item's default limit is its max, its default
/// request its default limit, else its min, resource by resource (the quantities as given).
fn limit_range(object: &mut Value) {
    let Some(Value::Array(items)) = object.pointer_mut("/spec/limits") else { return };
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        for (from, to) in
            [("max", "default"), ("default", "defaultRequest"), ("min", "defaultRequest")]
        {
            let Some(Value::Object(from)) = item.get(from).cloned() else { continue };
            if from.is_empty() {
                continue;
            }
            let to = item.entry(to).or_insert_with(|| json!({}));
            if to.is_null() {
                *to = json!({});
            }
            if let Some(to) = to.as_object_mut() {
                for (resource, quantity) in from {
                    to.entry(resource).or_insert(quantity);
                }
            }
        }
    }
}

/// `SetDefaults_NodeStatus`: allocatable is the capacity unless said otherwise.
fn node(object: &mut Value) {
    let Some(status) = object.get_mut("status").and_then(Value::as_object_mut) else { return };
    if let Some(capacity) = status.get("capacity").cloned() {
        default(status, "allocatable", capacity);
    }
}

fn ports_protocol(ports: Option<&mut Value>) {
    if let Some(Value::Array(ports)) = ports {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(port, "protocol", json!("TCP"));
        }
    }
}

/// `SetDefaults_PodSpec` and the per-container defaults.
fn pod_spec(spec: &mut Value) {
    let Some(spec) = spec.as_object_mut() else { return };
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "securityContext", json!({}));
    default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for container in containers.iter_mut().filter_map(Value::as_object_mut) {
                container_defaults(container);
            }
        }
    }
    if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
        for volume in volumes.iter_mut().filter_map(Value::as_object_mut) {
            volume_defaults(volume);
        }
    }
}

/// Sources a volume may have; without any, a volume is an `emptyDir` (validation checks
/// there is exactly one).
pub(crate) const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// `SetDefaults_Volume` and the per-source defaults.
fn volume_defaults(volume: &mut Map<String, Value>) {
    if !VOLUME_SOURCES.iter().any(|s| volume.get(*s).is_some_and(|v| !v.is_null())) {
        volume.insert("emptyDir".into(), json!({}));
    }
    if let Some(host_path) = volume.get_mut("hostPath").and_then(Value::as_object_mut) {
        default(host_path, "type", json!(""));
    }
    for source in ["configMap", "secret", "downwardAPI", "projected"] {
        let Some(body) = volume.get_mut(source).and_then(Value::as_object_mut) else { continue };
        default(body, "defaultMode", json!(420));
        if let Some(Value::Array(items)) = body.get_mut("items") {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                field_ref(item);
            }
        }
        if let Some(Value::Array(sources)) = body.get_mut("sources") {
            for projection in sources.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(token) =
                    projection.get_mut("serviceAccountToken").and_then(Value::as_object_mut)
                {
                    default(token, "expirationSeconds", json!(3600));
                }
                if let Some(Value::Array(items)) =
                    projection.get_mut("downwardAPI").and_then(|d| d.get_mut("items"))
                {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        field_ref(item);
                    }
                }
            }
        }
    }
    if let Some(iscsi) = volume.get_mut("iscsi").and_then(Value::as_object_mut) {
        default(iscsi, "iscsiInterface", json!("default"));
    }
    if let Some(rbd) = volume.get_mut("rbd").and_then(Value::as_object_mut) {
        default(rbd, "pool", json!("rbd"));
        default(rbd, "user", json!("admin"));
        default(rbd, "keyring", json!("/etc/ceph/keyring"));
    }
    if let Some(template) =
        volume.get_mut("ephemeral").and_then(|e| e.get_mut("volumeClaimTemplate"))
        && let Some(spec) = object_at(template, "spec")
    {
        default(spec, "volumeMode", json!("Filesystem"));
    }
}

/// `SetDefaults_ObjectFieldSelector`: a field reference's API version is `v1`.
fn field_ref(holder: &mut Map<String, Value>) {
    if let Some(field_ref) = holder.get_mut("fieldRef").and_then(Value::as_object_mut) {
        default(field_ref, "apiVersion", json!("v1"));
    }
}

/// `SetDefaults_Probe` and `SetDefaults_HTTPGetAction`.
fn probe_defaults(probe: &mut Map<String, Value>) {
    default(probe, "timeoutSeconds", json!(1));
    default(probe, "periodSeconds", json!(10));
    default(probe, "successThreshold", json!(1));
    default(probe, "failureThreshold", json!(3));
    http_get_defaults(probe);
}

fn http_get_defaults(handler: &mut Map<String, Value>) {
    if let Some(http) = handler.get_mut("httpGet").and_then(Value::as_object_mut) {
        if http.get("path").and_then(Value::as_str).is_none_or(str::is_empty) {
            http.insert("path".into(), json!("/"));
        }
        default(http, "scheme", json!("HTTP"));
    }
}

fn container_defaults(container: &mut Map<String, Value>) {
    default(container, "terminationMessagePath", json!("/dev/termination-log"));
    default(container, "terminationMessagePolicy", json!("File"));
    let image = container.get("image").and_then(Value::as_str).unwrap_or_default();
    default(container, "imagePullPolicy", json!(image_pull_policy(image)));
    ports_protocol(container.get_mut("ports"));
    default(container, "resources", json!({}));
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = container.get_mut(probe).and_then(Value::as_object_mut) {
            probe_defaults(probe);
        }
    }
    if let Some(lifecycle) = container.get_mut("lifecycle").and_then(Value::as_object_mut) {
        for hook in ["postStart", "preStop"] {
            if let Some(handler) = lifecycle.get_mut(hook).and_then(Value::as_object_mut) {
                http_get_defaults(handler);
            }
        }
    }
    if let Some(Value::Array(env)) = container.get_mut("env") {
        for var in env.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(from) = var.get_mut("valueFrom").and_then(Value::as_object_mut) {
                field_ref(from);
            }
        }
    }
}

/// `Always` for `:latest` or untagged images (unless pinned by digest), else `IfNotPresent`.
fn image_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headless_service_defaults_as_kubernetes_shows_them() {
        let mut svc = json!({"spec": {"clusterIP": "None", "ports": [{"name": "nginx", "port": 80}],
                                      "selector": {"app": "nginx"}}});
        apply("", "Service", &mut svc);
        assert_eq!(
            svc["spec"],
            json!({"clusterIP": "None", "ports": [{"name": "nginx", "port": 80, "protocol": "TCP", "targetPort": 80}],
                   "selector": {"app": "nginx"}, "type": "ClusterIP", "sessionAffinity": "None",
                   "internalTrafficPolicy": "Cluster", "clusterIPs": ["None"], "ipFamilies": ["IPv4"],
                   "ipFamilyPolicy": "SingleStack"})
        );
        assert_eq!(svc["status"], json!({"loadBalancer": {}}));
    }

    #[test]
    fn job_defaults_match_kubernetes() {
        let template = json!({"metadata": {"labels": {"app": "pi"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}});
        let mut job = json!({"metadata": {"name": "pi"}, "spec": {"template": template}});
        apply("batch", "Job", &mut job);
        let spec = &job["spec"];
        assert_eq!((&spec["completions"], &spec["parallelism"]), (&json!(1), &json!(1)));
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(job["metadata"]["labels"], json!({"app": "pi"}), "from the template");
        let mut parallel = json!({"spec": {"parallelism": 3, "backoffLimitPerIndex": 1,
            "podFailurePolicy": {"rules": [{"action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget"}]}]}}});
        apply("batch", "Job", &mut parallel);
        let spec = &parallel["spec"];
        assert_eq!(spec.get("completions"), None, "a work queue: no completions");
        assert_eq!(spec["backoffLimit"], i32::MAX);
        assert_eq!(spec["podReplacementPolicy"], "Failed");
        assert_eq!(spec["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"], "True");
    }

    #[test]
    fn embedded_templates_carry_a_null_creation_timestamp() {
        let mut set = json!({"spec": {
            "template": {"metadata": {"name": "t", "labels": {"app": "web"}}, "spec": {}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {}}]}});
        apply("apps", "StatefulSet", &mut set);
        let metadata = &set["spec"]["template"]["metadata"];
        let keys: Vec<&String> = metadata.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "creationTimestamp", "labels"], "Go's field order");
        assert_eq!(metadata["creationTimestamp"], Value::Null);
        let claim = &set["spec"]["volumeClaimTemplates"][0]["metadata"];
        assert_eq!(claim, &json!({"name": "www", "creationTimestamp": null}));
        let mut cron = json!({"spec": {"jobTemplate": {"spec": {"template": {}}}}});
        apply("batch", "CronJob", &mut cron);
        assert_eq!(cron["spec"]["jobTemplate"]["metadata"], json!({"creationTimestamp": null}));
        let template = &cron["spec"]["jobTemplate"]["spec"]["template"];
        assert_eq!(template["metadata"], json!({"creationTimestamp": null}));
        // A pod is not a template: its own timestamp is the server's to set.
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {}});
        apply("", "Pod", &mut pod);
        assert_eq!(pod["metadata"], json!({"name": "p"}));
    }

    #[test]
    fn cron_job_defaults_match_kubernetes() {
        let mut cron = json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}}});
        apply("batch", "CronJob", &mut cron);
        let spec = &cron["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Allow");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        assert_eq!(spec["failedJobsHistoryLimit"], 1);
        let job = &spec["jobTemplate"]["spec"];
        assert_eq!(job["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(job.get("backoffLimit"), None, "a template, not a Job");
    }

    #[test]
    fn replica_set_and_daemon_set_defaults_match_kubernetes() {
        let template = json!({"spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}});
        let mut set = json!({"spec": {"template": template}});
        apply("apps", "ReplicaSet", &mut set);
        assert_eq!(set["spec"]["replicas"], 1);
        assert_eq!(set["spec"]["template"]["spec"]["restartPolicy"], "Always");
        let mut daemons = json!({"spec": {"template": template}});
        apply("apps", "DaemonSet", &mut daemons);
        let spec = &daemons["spec"];
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        let mut on_delete = json!({"spec": {"updateStrategy": {"type": "OnDelete"}}});
        apply("apps", "DaemonSet", &mut on_delete);
        assert_eq!(on_delete["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
    }

    #[test]
    fn deployment_defaults_match_kubernetes() {
        let mut deploy = json!({"spec": {"strategy": {},
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}});
        apply("apps", "Deployment", &mut deploy);
        let spec = &deploy["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
        let mut recreate = json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}});
        apply("apps", "Deployment", &mut recreate);
        assert_eq!(recreate["spec"]["replicas"], 0);
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn statefulset_defaults_match_kubernetes() {
        let mut sts = json!({"spec": {"replicas": 3, "serviceName": "h",
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}});
        apply("apps", "StatefulSet", &mut sts);
        let spec = &sts["spec"];
        assert_eq!(spec["replicas"], 3, "a set value stays");
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        // Half a policy gets the other half (kube-client and kubectl leave unset ones out).
        for (given, want) in [
            (
                json!({"whenScaled": "Delete"}),
                json!({"whenScaled": "Delete", "whenDeleted": "Retain"}),
            ),
            (
                json!({"whenDeleted": "Delete", "whenScaled": ""}),
                json!({"whenDeleted": "Delete", "whenScaled": "Retain"}),
            ),
        ] {
            let mut partial = json!({"spec": {"persistentVolumeClaimRetentionPolicy": given}});
            apply("apps", "StatefulSet", &mut partial);
            assert_eq!(partial["spec"]["persistentVolumeClaimRetentionPolicy"], want);
        }
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
        let claim = &spec["volumeClaimTemplates"][0];
        assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
        assert_eq!(claim["status"]["phase"], "Pending");
    }

    #[test]
    fn pull_policy_follows_the_tag() {
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry:5000/nginx", "Always"),
            ("registry:5000/nginx:1", "IfNotPresent"),
            ("nginx@sha256:abc", "IfNotPresent"),
        ] {
            assert_eq!(image_pull_policy(image), policy, "{image}");
        }
    }

    #[test]
    fn pods_get_kubernetes_defaults() {
        let mut pod = json!({"spec": {
            "containers": [{"name": "c", "image": "busybox:1.36",
                "resources": {"limits": {"cpu": "1", "memory": "64Mi"}, "requests": {"cpu": "500m"}},
                "livenessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}],
            "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "host", "hostPath": {"path": "/d"}}]}});
        apply("", "Pod", &mut pod);
        let spec = &pod["spec"];
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["securityContext"], json!({}));
        let container = &spec["containers"][0];
        assert_eq!(container["imagePullPolicy"], "IfNotPresent");
        assert_eq!(container["terminationMessagePolicy"], "File");
        assert_eq!(
            container["resources"]["requests"],
            json!({"cpu": "500m", "memory": "64Mi"}),
            "requests default to the limits, a set request stays"
        );
        assert_eq!(
            container["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["configMap"]["defaultMode"], 420);
        assert_eq!(spec["volumes"][2]["hostPath"]["type"], "");
    }

    #[test]
    fn templates_are_not_pods() {
        let mut sts = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:1",
            "resources": {"limits": {"cpu": "1"}}}]}}, "updateStrategy": {"type": "OnDelete"}}});
        apply("apps", "StatefulSet", &mut sts);
        let pod = &sts["spec"]["template"]["spec"];
        assert!(pod.get("enableServiceLinks").is_none());
        assert!(pod["containers"][0]["resources"].get("requests").is_none());
        assert_eq!(sts["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
    }

    #[test]
    fn limit_range_container_items_get_defaults_from_max_and_min() {
        let mut range = json!({"spec": {"limits": [
            {"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}, "min": {"cpu": "50m", "ephemeral-storage": "1Gi"},
             "default": {"memory": "512Mi"}},
            {"type": "Container", "min": {"cpu": "100m"}, "defaultRequest": {"cpu": "200m"}},
            {"type": "Pod", "max": {"cpu": "2"}},
            {"type": "Container"},
        ]}});
        apply("", "LimitRange", &mut range);
        let limits = &range["spec"]["limits"];
        // The default limit from the max; the default request from the default, then the min.
        assert_eq!(limits[0]["default"], json!({"memory": "512Mi", "cpu": "1"}));
        assert_eq!(
            limits[0]["defaultRequest"],
            json!({"memory": "512Mi", "cpu": "1", "ephemeral-storage": "1Gi"})
        );
        assert_eq!(limits[1]["defaultRequest"], json!({"cpu": "200m"}));
        assert!(limits[1].get("default").is_none());
        // Only Container items; an item with nothing to copy stays as it is.
        assert_eq!(limits[2], json!({"type": "Pod", "max": {"cpu": "2"}}));
        assert_eq!(limits[3], json!({"type": "Container"}));
    }

    #[test]
    fn other_kinds_get_their_defaults() {
        let cases = [
            (
                "",
                "PersistentVolumeClaim",
                json!({"spec": {}}),
                "/spec/volumeMode",
                json!("Filesystem"),
            ),
            ("", "PersistentVolumeClaim", json!({"spec": {}}), "/status/phase", json!("Pending")),
            (
                "",
                "PersistentVolume",
                json!({"spec": {"hostPath": {"path": "/x"}}}),
                "/spec/persistentVolumeReclaimPolicy",
                json!("Retain"),
            ),
            (
                "",
                "PersistentVolume",
                json!({"spec": {"hostPath": {"path": "/x"}}}),
                "/spec/hostPath/type",
                json!(""),
            ),
            ("", "Namespace", json!({}), "/status/phase", json!("Active")),
            (
                "",
                "Node",
                json!({"status": {"capacity": {"pods": "110"}}}),
                "/status/allocatable",
                json!({"pods": "110"}),
            ),
            (
                "",
                "Endpoints",
                json!({"subsets": [{"ports": [{"port": 80}]}]}),
                "/subsets/0/ports/0/protocol",
                json!("TCP"),
            ),
            ("", "Secret", json!({}), "/type", json!("Opaque")),
            ("storage.k8s.io", "StorageClass", json!({}), "/reclaimPolicy", json!("Delete")),
            ("storage.k8s.io", "StorageClass", json!({}), "/volumeBindingMode", json!("Immediate")),
            (
                "networking.k8s.io",
                "NetworkPolicy",
                json!({"spec": {"egress": [{"ports": [{"port": 53}]}]}}),
                "/spec",
                json!({"egress": [{"ports": [{"port": 53, "protocol": "TCP"}]}],
                    "podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            ),
            (
                "networking.k8s.io",
                "IngressClass",
                json!({"spec": {"controller": "example.com/lb",
                    "parameters": {"kind": "ConfigMap", "name": "lb"}}}),
                "/spec/parameters/scope",
                json!("Cluster"),
            ),
            (
                "scheduling.k8s.io",
                "PriorityClass",
                json!({"value": 1}),
                "/preemptionPolicy",
                json!("PreemptLowerPriority"),
            ),
            (
                "discovery.k8s.io",
                "EndpointSlice",
                json!({"ports": [{"port": 80}]}),
                "/ports/0",
                json!({"port": 80, "name": "", "protocol": "TCP"}),
            ),
            (
                "",
                "Service",
                json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 0}]}}),
                "/spec/externalTrafficPolicy",
                json!("Cluster"),
            ),
            (
                "",
                "Service",
                json!({"spec": {"ports": [{"port": 80, "targetPort": 0}]}}),
                "/spec/ports/0/targetPort",
                json!(80),
            ),
        ];
        for (group, kind, mut object, pointer, expected) in cases {
            apply(group, kind, &mut object);
            assert_eq!(object.pointer(pointer), Some(&expected), "{kind} {pointer}");
        }
    }
}
