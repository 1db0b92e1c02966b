//! What a kind's Go zero value serializes to: the "live object" kube-apiserver compares a
//! create with (`create.go` passes `scope.Creater.New(kind)` to the field manager).
//!
//! It matters for one thing: which nodes of a created object count as *added* and so own
//! themselves in the creator's `FieldsV1` (the `.` entry beside their children). A non-pointer
//! struct field (`metadata`, `spec`, `spec.template`, `spec.updateStrategy`, a PVC's
//! `spec.resources` …) is serialized even when zero, as `{}`, and a list or map without
//! `omitempty` (a pod's `containers`, a Role's `rules`) as `null`: they exist before the
//! create, so only what is under them is added. Pointer structs, maps and lists with
//! `omitempty` (`labels`, `selector`, `rollingUpdate`, `persistentVolumeClaimRetentionPolicy`)
//! are absent, so the created node is added whole. Only objects and `null`s are listed here;
//! scalar zero values (`serviceName: ""`, `replicas: 0`) own nothing themselves either way.
//! Written from knowledge of the v1.33 Go types (`k8s.io/api`), not checked row by row against
//! their source: check a row there before relying on it.

use std::sync::LazyLock;

use serde_json::{Value, json};

/// The zero values by group and kind; a kind not listed has nothing but its metadata (a
/// ConfigMap, Secret, ServiceAccount, Endpoints, StorageClass, ControllerRevision …).
static ZEROS: LazyLock<Vec<(&str, &str, Value)>> = LazyLock::new(|| {
    // `PodTemplateSpec`, a non-pointer struct in every workload.
    let template = json!({ "metadata": {}, "spec": { "containers": null } });
    let with_status = json!({ "metadata": {}, "spec": {}, "status": {} });
    let binding = json!({ "metadata": {}, "roleRef": {} });
    let rules = json!({ "metadata": {}, "rules": null });
    vec![
        ("", "Pod", json!({ "metadata": {}, "spec": { "containers": null }, "status": {} })),
        ("", "Namespace", with_status.clone()),
        ("", "PersistentVolume", with_status.clone()),
        ("policy", "PodDisruptionBudget", with_status),
        ("", "Service", json!({ "metadata": {}, "spec": {}, "status": { "loadBalancer": {} } })),
        (
            "",
            "PersistentVolumeClaim",
            json!({ "metadata": {}, "spec": { "resources": {} }, "status": {} }),
        ),
        (
            "",
            "Node",
            json!({
                "metadata": {},
                "spec": {},
                "status": { "daemonEndpoints": { "kubeletEndpoint": {} }, "nodeInfo": {} },
            }),
        ),
        ("", "Event", json!({ "metadata": {}, "involvedObject": {}, "source": {} })),
        ("", "PodTemplate", json!({ "metadata": {}, "template": template })),
        ("storage.k8s.io", "CSIDriver", json!({ "metadata": {}, "spec": {} })),
        ("storage.k8s.io", "CSINode", json!({ "metadata": {}, "spec": { "drivers": null } })),
        (
            "storage.k8s.io",
            "VolumeAttachment",
            json!({ "metadata": {}, "spec": { "source": {} }, "status": {} }),
        ),
        (
            "events.k8s.io",
            "Event",
            json!({ "metadata": {}, "regarding": {}, "deprecatedSource": {} }),
        ),
        (
            "apps",
            "StatefulSet",
            json!({
                "metadata": {},
                "spec": { "selector": null, "template": template, "updateStrategy": {} },
                "status": {},
            }),
        ),
        (
            "apps",
            "DaemonSet",
            json!({
                "metadata": {},
                "spec": { "selector": null, "template": template, "updateStrategy": {} },
                "status": {},
            }),
        ),
        (
            "apps",
            "Deployment",
            json!({
                "metadata": {},
                "spec": { "selector": null, "template": template, "strategy": {} },
                "status": {},
            }),
        ),
        (
            "apps",
            "ReplicaSet",
            json!({
                "metadata": {},
                "spec": { "selector": null, "template": template },
                "status": {},
            }),
        ),
        ("coordination.k8s.io", "Lease", json!({ "metadata": {}, "spec": {} })),
        ("discovery.k8s.io", "EndpointSlice", json!({ "metadata": {}, "endpoints": null })),
        ("rbac.authorization.k8s.io", "Role", rules.clone()),
        ("rbac.authorization.k8s.io", "ClusterRole", rules),
        ("rbac.authorization.k8s.io", "RoleBinding", binding.clone()),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding", binding),
    ]
});

static METADATA_ONLY: LazyLock<Value> = LazyLock::new(|| json!({ "metadata": {} }));

/// The zero value of `group`/`kind` (see the module docs).
pub(crate) fn of(group: &str, kind: &str) -> &'static Value {
    ZEROS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map_or(&*METADATA_ONLY, |(_, _, zero)| zero)
}
