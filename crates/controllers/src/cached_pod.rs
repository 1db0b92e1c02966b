//! The pod as the controllers' informer keeps it ([`CachedPod`]): the fields of a `Pod` some
//! controller reads, under the same names and types, and nothing else.
//!
//! A `k8s_openapi` `Pod` is 2,176 bytes inline, a `Container` 2,120 and a `Volume` 3,208,
//! with room for every field Kubernetes has however few are set. Every pod of the cluster is
//! in the informer, so those structs were most of the controllers' memory per pod
//! (docs/benchmarks.md, control plane (d)). A `CachedPod` is decoded straight from the watch;
//! what it has no field for is skipped while decoding, never allocated.
//!
//! What is kept is the union of what the readers need: the metadata; of the spec the node,
//! scheduling constraints, the containers' names, ports and resources (the scheduler reads
//! requests and host ports, endpoints named ports), the claims among the volumes (scheduler,
//! pvc-protection), hostname and subdomain (endpoints); of the status the phase, IPs, start
//! time, the `Ready` and `PodScheduled` conditions (statefulset, scheduler, endpoints, node
//! lifecycle) and the containers' restart counts (the ReplicaSet controller's scale-down
//! ranking). Pods a Job controls keep more, for the Job controller: every condition (its pod
//! failure policy may name any), the init containers' statuses, and each container's name,
//! exit code and finish time; other pods drop those while decoding is done ([`Cached::prune`]).
//! A reader that needs another field adds it here.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{
    Affinity, ContainerPort, HostIP, PersistentVolumeClaimVolumeSource, PodCondition, PodIP,
    PodSchedulingGate, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::Deserialize;

use crate::informer::Cached;

/// What the controllers read of a pod (see the module docs).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CachedPod {
    #[serde(default)]
    pub(crate) metadata: ObjectMeta,
    pub(crate) spec: Option<CachedPodSpec>,
    pub(crate) status: Option<CachedPodStatus>,
}

/// What the controllers read of a pod's spec.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CachedPodSpec {
    /// Boxed: most pods have none, and it is 144 bytes inline.
    pub(crate) affinity: Option<Box<Affinity>>,
    #[serde(default)]
    pub(crate) containers: Vec<CachedContainer>,
    pub(crate) hostname: Option<String>,
    pub(crate) init_containers: Option<Vec<CachedContainer>>,
    pub(crate) node_name: Option<String>,
    pub(crate) node_selector: Option<BTreeMap<String, String>>,
    pub(crate) overhead: Option<BTreeMap<String, Quantity>>,
    pub(crate) preemption_policy: Option<String>,
    pub(crate) priority: Option<i32>,
    pub(crate) restart_policy: Option<String>,
    pub(crate) scheduler_name: Option<String>,
    pub(crate) scheduling_gates: Option<Vec<PodSchedulingGate>>,
    pub(crate) subdomain: Option<String>,
    pub(crate) termination_grace_period_seconds: Option<i64>,
    pub(crate) tolerations: Option<Vec<Toleration>>,
    /// Only the volumes that are claims: [`Cached::prune`] drops the others.
    pub(crate) volumes: Option<Vec<CachedVolume>>,
}

/// What the controllers read of a container.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CachedContainer {
    #[serde(default)]
    pub(crate) name: String,
    pub(crate) ports: Option<Vec<ContainerPort>>,
    pub(crate) resources: Option<ResourceRequirements>,
    /// `Always` on an init container makes it a sidecar.
    pub(crate) restart_policy: Option<String>,
}

/// A volume, as far as its claim goes.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CachedVolume {
    #[serde(default)]
    pub(crate) name: String,
    pub(crate) persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,
    /// Whether this is a generic ephemeral volume (its claim is `<pod>-<volume>`); what it
    /// says is not kept.
    #[serde(default, deserialize_with = "present")]
    pub(crate) ephemeral: bool,
}

/// What the controllers read of a pod's status.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CachedPodStatus {
    /// Only `Ready` and `PodScheduled` (all of a Job's pods): [`Cached::prune`] drops the others.
    pub(crate) conditions: Option<Vec<PodCondition>>,
    /// Only the restart counts (and, of a Job's pods, names and terminated states).
    pub(crate) container_statuses: Option<Vec<CachedContainerStatus>>,
    /// Only of a Job's pods.
    pub(crate) init_container_statuses: Option<Vec<CachedContainerStatus>>,
    #[serde(rename = "hostIP")]
    pub(crate) host_ip: Option<String>,
    #[serde(rename = "hostIPs")]
    pub(crate) host_ips: Option<Vec<HostIP>>,
    pub(crate) message: Option<String>,
    pub(crate) nominated_node_name: Option<String>,
    pub(crate) phase: Option<String>,
    #[serde(rename = "podIP")]
    pub(crate) pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pub(crate) pod_ips: Option<Vec<PodIP>>,
    pub(crate) qos_class: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) start_time: Option<Time>,
}

/// What the controllers read of a container's status: how often it restarted; of a Job's
/// pods also its name and how it ended.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CachedContainerStatus {
    #[serde(default)]
    pub(crate) restart_count: i32,
    #[serde(default)]
    pub(crate) name: String,
    pub(crate) state: Option<CachedContainerState>,
}

/// A container's state, as far as its end goes.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CachedContainerState {
    pub(crate) terminated: Option<CachedTerminated>,
}

/// How a container ended.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CachedTerminated {
    #[serde(default)]
    pub(crate) exit_code: i32,
    pub(crate) finished_at: Option<Time>,
}

impl CachedPod {
    /// The `Ready` condition, if the status has one.
    pub(crate) fn ready_condition(&self) -> Option<&PodCondition> {
        let conditions = self.status.as_ref().and_then(|s| s.conditions.as_ref());
        conditions.into_iter().flatten().find(|c| c.type_ == "Ready")
    }

    /// `podutil.IsPodReady`: Ready=True.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready_condition().is_some_and(|c| c.status == "True")
    }
}

/// Deserializes any value (null included) as "the field is there".
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let value = Option::<serde::de::IgnoredAny>::deserialize(deserializer)?;
    Ok(value.is_some())
}

/// The conditions a controller reads.
const READ_CONDITIONS: [&str; 2] = ["Ready", "PodScheduled"];

impl Cached for CachedPod {
    /// Drops the volumes that are not claims and the conditions no controller reads, and
    /// leaves no spare room in the lists kept.
    fn prune(&mut self) {
        self.metadata.managed_fields = None;
        let meta = &mut self.metadata;
        shrink(&mut meta.owner_references);
        shrink(&mut meta.finalizers);
        if let Some(spec) = self.spec.as_mut() {
            spec.containers.shrink_to_fit();
            spec.containers.iter_mut().for_each(CachedContainer::shrink);
            spec.init_containers.iter_mut().flatten().for_each(CachedContainer::shrink);
            shrink(&mut spec.init_containers);
            if let Some(volumes) = spec.volumes.as_mut() {
                volumes.retain(|v| v.persistent_volume_claim.is_some() || v.ephemeral);
            }
            shrink(&mut spec.volumes);
            shrink(&mut spec.tolerations);
            shrink(&mut spec.scheduling_gates);
        }
        let of_job = crate::meta::controller_of(&self.metadata)
            .is_some_and(|owner| owner.kind == "Job" && owner.api_version == "batch/v1");
        if let Some(status) = self.status.as_mut() {
            if !of_job {
                if let Some(conditions) = status.conditions.as_mut() {
                    conditions.retain(|c| READ_CONDITIONS.contains(&c.type_.as_str()));
                }
                status.init_container_statuses = None;
                for container in status.container_statuses.iter_mut().flatten() {
                    container.name = String::new();
                    container.state = None;
                }
            }
            shrink(&mut status.init_container_statuses);
            shrink(&mut status.conditions);
            shrink(&mut status.container_statuses);
            shrink(&mut status.pod_ips);
            shrink(&mut status.host_ips);
        }
    }
}

impl CachedContainer {
    fn shrink(&mut self) {
        shrink(&mut self.ports);
    }
}

/// Gives a list no more room than its length.
fn shrink<T>(list: &mut Option<Vec<T>>) {
    if let Some(list) = list.as_mut() {
        list.shrink_to_fit();
    }
}

impl kube::Resource for CachedPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("Pod")
    }

    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("")
    }

    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }

    fn api_version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }

    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("pods")
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use k8s_openapi::api::core::v1::Pod;

    use super::*;

    /// What the informer keeps of `pod`: its JSON, as the watch delivers it, decoded and pruned.
    fn cached(pod: Pod) -> CachedPod {
        let mut cached: CachedPod =
            serde_json::from_value(serde_json::to_value(pod).expect("encodes")).expect("decodes");
        cached.prune();
        cached
    }

    #[test]
    fn a_pod_keeps_what_the_controllers_read() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": "a", "namespace": "ns", "resourceVersion": "1",
                          "managedFields": [{ "manager": "kubectl" }] },
            "spec": {
                "nodeName": "n1",
                "hostname": "a", "subdomain": "svc",
                "containers": [{
                    "name": "app", "image": "nginx", "command": ["sleep"],
                    "env": [{ "name": "A", "value": "1" }],
                    "ports": [{ "containerPort": 80, "name": "web" }],
                    "resources": { "requests": { "cpu": "100m" } },
                }],
                "initContainers": [{ "name": "side", "image": "x", "restartPolicy": "Always" }],
                "volumes": [
                    { "name": "data", "persistentVolumeClaim": { "claimName": "data-0" } },
                    { "name": "tmp", "emptyDir": {} },
                    { "name": "scratch", "ephemeral": { "volumeClaimTemplate": { "spec": {} } } },
                ],
                "tolerations": [{ "key": "k", "operator": "Exists" }],
            },
            "status": {
                "phase": "Running", "podIP": "10.0.0.1", "podIPs": [{ "ip": "10.0.0.1" }],
                "hostIP": "127.0.0.1",
                "conditions": [
                    { "type": "PodReadyToStartContainers", "status": "True" },
                    { "type": "Ready", "status": "True" },
                    { "type": "ContainersReady", "status": "True" },
                    { "type": "PodScheduled", "status": "True" },
                ],
                "containerStatuses": [{ "name": "app", "image": "nginx", "imageID": "",
                                        "ready": true, "restartCount": 0 }],
            },
        }))
        .expect("a pod");
        let cached = cached(pod);
        assert!(cached.metadata.managed_fields.is_none());
        assert_eq!(cached.metadata.resource_version.as_deref(), Some("1"));
        let spec = cached.spec.as_ref().expect("spec");
        assert_eq!(spec.node_name.as_deref(), Some("n1"));
        assert_eq!((spec.hostname.as_deref(), spec.subdomain.as_deref()), (Some("a"), Some("svc")));
        let container = &spec.containers[0];
        assert_eq!(container.name, "app");
        assert_eq!(container.ports.as_ref().map(|p| p[0].name.as_deref()), Some(Some("web")));
        assert!(container.resources.as_ref().and_then(|r| r.requests.as_ref()).is_some());
        let init = &spec.init_containers.as_ref().expect("init containers")[0];
        assert_eq!(init.restart_policy.as_deref(), Some("Always"));
        let volumes: Vec<(&str, bool, bool)> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| (v.name.as_str(), v.persistent_volume_claim.is_some(), v.ephemeral))
            .collect();
        assert_eq!(volumes, [("data", true, false), ("scratch", false, true)], "claims only");
        assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(1));
        let status = cached.status.as_ref().expect("status");
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(status.pod_ips.as_ref().map(|ips| ips[0].ip.as_str()), Some("10.0.0.1"));
        assert_eq!(status.host_ip.as_deref(), Some("127.0.0.1"));
        let conditions: Vec<&str> =
            status.conditions.iter().flatten().map(|c| c.type_.as_str()).collect();
        assert_eq!(conditions, ["Ready", "PodScheduled"], "only the conditions read are kept");
        let restarts: Vec<i32> =
            status.container_statuses.iter().flatten().map(|c| c.restart_count).collect();
        assert_eq!(restarts, [0], "only the restart counts of the container statuses");
    }

    #[test]
    fn a_cached_pod_is_a_fraction_of_a_pod() {
        assert!(size_of::<CachedPod>() * 2 < size_of::<Pod>(), "{}", size_of::<CachedPod>());
    }
}
