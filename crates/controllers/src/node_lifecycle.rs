//! The node lifecycle controller (pkg/controller/nodelifecycle, v1.33) with taint-based
//! eviction (pkg/controller/tainteviction): watches Nodes, their Leases in
//! `kube-node-lease` and pods.
//!
//! Every `node_monitor_period` it looks at each node. A node whose kubelet has not renewed its
//! Lease (nor posted a new Ready heartbeat) for `node_monitor_grace_period` gets its Ready,
//! MemoryPressure, DiskPressure and PIDPressure conditions set to `Unknown` (reason
//! `NodeStatusUnknown`, "Kubelet stopped posting node status."), and the pods on it are
//! marked not Ready. The condition taints follow the conditions: `node.kubernetes.io/not-ready`
//! (Ready=False) or `node.kubernetes.io/unreachable` (Ready=Unknown) as NoSchedule and
//! NoExecute, and the NoSchedule taints for memory, disk and PID pressure, an unavailable
//! network and `spec.unschedulable`; they go when the condition recovers. Pods that do not
//! tolerate a NoExecute taint are deleted, at once or after their `tolerationSeconds`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, ObjectReference, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use tokio::time::Instant;

use crate::cached_pod::CachedPod;
use crate::{Context, EventType, Recorder};

/// The namespace kubelets keep their heartbeat Leases in.
pub(crate) const LEASE_NAMESPACE: &str = "kube-node-lease";

const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const UNKNOWN_REASON: &str = "NodeStatusUnknown";
const UNKNOWN_MESSAGE: &str = "Kubelet stopped posting node status.";
const NEVER_REASON: &str = "NodeStatusNeverUpdated";
const NEVER_MESSAGE: &str = "Kubelet never posted node status.";

/// The conditions set to Unknown with Ready (nodelifecycle's `nodeConditionTypes`).
const MONITORED: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The NoSchedule taints that mirror a condition (nodelifecycle's `nodeConditionToTaintKeyStatusMap`).
const CONDITION_TAINTS: [(&str, &str, &str); 7] = [
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    ("MemoryPressure", "True", "node.kubernetes.io/memory-pressure"),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
    ("NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable"),
    ("", "", "node.kubernetes.io/unschedulable"),
];

/// What to change on one node.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NodePlan {
    /// The node's new `status.conditions`, when some must change.
    pub(crate) conditions: Option<Vec<NodeCondition>>,
    /// The node's new `spec.taints`, when they must change.
    pub(crate) taints: Option<Vec<Taint>>,
}

fn condition<'a>(conditions: &'a [NodeCondition], type_: &str) -> Option<&'a NodeCondition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Plans one node: `stale` says its kubelet has been silent for the grace period.
pub(crate) fn plan(node: &Node, stale: bool, now: Timestamp) -> NodePlan {
    let mut conditions =
        node.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    let mut changed = false;
    if stale {
        let created = node.metadata.creation_timestamp.clone();
        for type_ in MONITORED {
            match conditions.iter_mut().find(|c| c.type_ == type_) {
                Some(c) if c.status != "Unknown" => {
                    c.status = "Unknown".to_owned();
                    c.reason = Some(UNKNOWN_REASON.to_owned());
                    c.message = Some(UNKNOWN_MESSAGE.to_owned());
                    c.last_transition_time = Some(Time(now));
                    changed = true;
                }
                Some(_) => {}
                None => {
                    conditions.push(NodeCondition {
                        type_: type_.to_owned(),
                        status: "Unknown".to_owned(),
                        reason: Some(NEVER_REASON.to_owned()),
                        message: Some(NEVER_MESSAGE.to_owned()),
                        last_heartbeat_time: created.clone(),
                        last_transition_time: Some(Time(now)),
                    });
                    changed = true;
                }
            }
        }
    }
    let unschedulable = node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
    let mut wanted: Vec<(&str, &str)> = CONDITION_TAINTS
        .iter()
        .filter(|(type_, status, _)| {
            if type_.is_empty() {
                unschedulable
            } else {
                condition(&conditions, type_).is_some_and(|c| c.status == *status)
            }
        })
        .map(|(_, _, key)| (*key, "NoSchedule"))
        .collect();
    match condition(&conditions, "Ready").map(|c| c.status.as_str()) {
        Some("False") => wanted.push((NOT_READY, "NoExecute")),
        Some("Unknown") => wanted.push((UNREACHABLE, "NoExecute")),
        _ => {}
    }
    let managed = |taint: &Taint| {
        let no_schedule = taint.effect == "NoSchedule"
            && CONDITION_TAINTS.iter().any(|(_, _, key)| *key == taint.key);
        let no_execute =
            taint.effect == "NoExecute" && (taint.key == NOT_READY || taint.key == UNREACHABLE);
        no_schedule || no_execute
    };
    let current = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|t| !managed(t) || wanted.contains(&(t.key.as_str(), t.effect.as_str())))
        .cloned()
        .collect();
    for (key, effect) in wanted {
        if !taints.iter().any(|t| t.key == key && t.effect == effect) {
            taints.push(Taint {
                key: key.to_owned(),
                effect: effect.to_owned(),
                value: None,
                time_added: (effect == "NoExecute").then_some(Time(now)),
            });
        }
    }
    NodePlan {
        conditions: changed.then_some(conditions),
        taints: (taints != current).then_some(taints),
    }
}

/// When taint-based eviction deletes `pod` on a node with `taints`: `Some(now or earlier)` for
/// a pod that does not tolerate a NoExecute taint, the earliest `timeAdded +
/// tolerationSeconds` for one that tolerates them for a while, `None` when it tolerates them
/// forever (pkg/controller/tainteviction `getMinTolerationTime`).
pub(crate) fn eviction_time(
    pod: &CachedPod,
    taints: &[Taint],
    now: Timestamp,
) -> Option<Timestamp> {
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.clone()).unwrap_or_default();
    let mut earliest: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let matching: Vec<_> =
            tolerations.iter().filter(|t| crate::scheduler::tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Some(now);
        }
        let seconds = matching.iter().filter_map(|t| t.toleration_seconds).min();
        if let Some(seconds) = seconds {
            let added = taint.time_added.as_ref().map_or(now, |t| t.0);
            let at = added.checked_add(SignedDuration::from_secs(seconds.max(0))).unwrap_or(added);
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
        }
    }
    earliest
}

/// What the controller remembers of a node between passes.
#[derive(Debug, Clone)]
struct Observed {
    heartbeat: Option<Timestamp>,
    renew: Option<Timestamp>,
    probe: Instant,
}

/// Runs the controller until the task is aborted.
pub(crate) async fn run(context: Context) {
    let client = context.client.clone();
    let grace = context.config.node_monitor_grace_period;
    let period = context.config.node_monitor_period;
    // The loop runs on a ticker, not on changes: it subscribes to nothing.
    let nodes = context.informers.get::<Node>();
    let leases = context.informers.get::<Lease>();
    let pods = context.informers.get::<CachedPod>();
    nodes.wait_until_ready().await;
    leases.wait_until_ready().await;
    pods.wait_until_ready().await;
    let recorder = Recorder::new(client.clone(), "node-controller", None);
    let evictions = Recorder::new(client.clone(), "taint-eviction-controller", None);
    let mut observed: HashMap<String, Observed> = HashMap::new();
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let wall = Timestamp::now();
        let lease_renewals: HashMap<String, Option<Timestamp>> = leases
            .state()
            .iter()
            .filter(|l| l.metadata.namespace.as_deref() == Some(LEASE_NAMESPACE))
            .map(|l| {
                (l.name_any(), l.spec.as_ref().and_then(|s| s.renew_time.as_ref()).map(|t| t.0))
            })
            .collect();
        let mut by_node: BTreeMap<String, Vec<Arc<CachedPod>>> = BTreeMap::new();
        for pod in pods.state() {
            if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
                by_node.entry(node).or_default().push(pod);
            }
        }
        let all_nodes = nodes.state();
        observed.retain(|name, _| all_nodes.iter().any(|n| n.name_any() == *name));
        for node in all_nodes {
            let name = node.name_any();
            let heartbeat = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_deref())
                .and_then(|c| condition(c, "Ready"))
                .and_then(|c| c.last_heartbeat_time.as_ref())
                .map(|t| t.0);
            let renew = lease_renewals.get(&name).copied().flatten();
            let entry =
                observed.entry(name.clone()).or_insert(Observed { heartbeat, renew, probe: now });
            if entry.heartbeat != heartbeat || entry.renew != renew {
                *entry = Observed { heartbeat, renew, probe: now };
            }
            let stale = now.duration_since(entry.probe) > grace;
            let node_pods = by_node.remove(&name).unwrap_or_default();
            apply(&client, &recorder, &evictions, &node, stale, wall, &node_pods).await;
        }
    }
}

fn object_ref(
    kind: &str,
    namespace: Option<String>,
    name: String,
    uid: Option<String>,
) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some(kind.to_owned()),
        namespace,
        name: Some(name),
        uid,
        ..ObjectReference::default()
    }
}

/// Applies the plan of one node, marks its pods not Ready when its kubelet is gone, and
/// evicts the pods its NoExecute taints no longer allow.
async fn apply(
    client: &kube::Client,
    recorder: &Recorder,
    evictions: &Recorder,
    node: &Node,
    stale: bool,
    now: Timestamp,
    pods: &[Arc<CachedPod>],
) {
    let name = node.name_any();
    let plan = plan(node, stale, now);
    let api: Api<Node> = Api::all(client.clone());
    let was_ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| condition(c, "Ready"))
        .map(|c| c.status.clone());
    // Both writes are guarded by the resourceVersion seen, so a kubelet's fresh status is
    // never overwritten with a stale verdict (a conflict waits for the next pass).
    let mut version = node.metadata.resource_version.clone();
    if let Some(conditions) = &plan.conditions {
        let patch = serde_json::json!({
            "metadata": { "uid": node.metadata.uid, "resourceVersion": version },
            "status": { "conditions": conditions },
        });
        match api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
            Ok(updated) => {
                version = updated.metadata.resource_version;
                if was_ready.as_deref() == Some("True") {
                    let node_ref =
                        object_ref("Node", None, name.clone(), node.metadata.uid.clone());
                    let message = format!("Node {name} status is now: NodeNotReady");
                    recorder.record(&node_ref, EventType::Normal, "NodeNotReady", message);
                }
            }
            Err(error) => {
                tracing::warn!(node = %name, %error, "cannot mark the node's conditions Unknown");
                return;
            }
        }
    }
    if let Some(taints) = &plan.taints {
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": version },
            "spec": { "taints": taints },
        });
        if let Err(error) = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            tracing::debug!(node = %name, %error, "cannot update the node's taints; next pass");
            return;
        }
    }
    let ready = plan
        .conditions
        .as_deref()
        .or(node.status.as_ref().and_then(|s| s.conditions.as_deref()))
        .and_then(|c| condition(c, "Ready"))
        .map(|c| c.status.clone());
    let taints = plan
        .taints
        .clone()
        .or_else(|| node.spec.as_ref().and_then(|s| s.taints.clone()))
        .unwrap_or_default();
    for pod in pods {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed"))
            || pod.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let namespace = pod.namespace().unwrap_or_else(|| "default".to_owned());
        let pod_api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        let pod_ref =
            object_ref("Pod", Some(namespace.clone()), pod.name_any(), pod.metadata.uid.clone());
        if let Some(at) = eviction_time(pod, &taints, now)
            && at <= now
        {
            let message = format!("Marking for deletion Pod {namespace}/{}", pod.name_any());
            evictions.record(&pod_ref, EventType::Normal, "TaintManagerEviction", message);
            let params = DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    uid: pod.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            if let Err(error) = pod_api.delete(&pod.name_any(), &params).await {
                tracing::debug!(pod = %pod.name_any(), %error, "cannot evict");
            }
            continue;
        }
        if ready.as_deref() != Some("Unknown") {
            continue;
        }
        let pod_ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
        let Some(pod_ready) = pod_ready.filter(|c| c.status != "False") else { continue };
        let patch = serde_json::json!({
            "metadata": { "uid": pod.metadata.uid },
            "status": { "conditions": [{
                "type": "Ready",
                "status": "False",
                "lastProbeTime": pod_ready.last_probe_time,
                "lastTransitionTime": Time(now),
            }]},
        });
        match pod_api
            .patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            Ok(_) => {
                recorder.record(&pod_ref, EventType::Warning, "NodeNotReady", "Node is not ready");
            }
            Err(error) => {
                tracing::debug!(pod = %pod.name_any(), %error, "cannot mark the pod not ready")
            }
        }
    }
}

/// How often the controller looks at the nodes by default (`--node-monitor-period`).
pub(crate) const DEFAULT_MONITOR_PERIOD: Duration = Duration::from_secs(5);
/// How long a kubelet may be silent by default (`--node-monitor-grace-period`, 50 s since
/// v1.32; it was 40 s before).
pub(crate) const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(50);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(ready: &str, taints: serde_json::Value, unschedulable: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": { "name": "n", "creationTimestamp": "2026-01-01T00:00:00Z" },
            "spec": { "taints": taints, "unschedulable": unschedulable },
            "status": { "conditions": [
                { "type": "Ready", "status": ready, "reason": "KubeletReady",
                  "lastHeartbeatTime": "2026-01-01T00:00:00Z" },
                { "type": "MemoryPressure", "status": "False" },
            ] },
        }))
        .expect("a node")
    }

    fn keys(taints: &[Taint]) -> Vec<String> {
        taints.iter().map(|t| format!("{}:{}", t.key, t.effect)).collect()
    }

    #[test]
    fn plans() {
        let now: Timestamp = "2026-01-02T00:00:00Z".parse().expect("a time");
        let user = json!([{ "key": "dedicated", "value": "db", "effect": "NoSchedule" }]);
        let unreachable = json!([
            { "key": "dedicated", "value": "db", "effect": "NoSchedule" },
            { "key": UNREACHABLE, "effect": "NoSchedule" },
            { "key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z" },
        ]);
        // (ready, taints, unschedulable, stale) → (conditions changed, taints after or None)
        type Case = (&'static str, serde_json::Value, bool, bool, bool, Option<Vec<&'static str>>);
        let cases: Vec<Case> = vec![
            ("True", user.clone(), false, false, false, None),
            (
                "True",
                user.clone(),
                true,
                false,
                false,
                Some(vec!["dedicated:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"]),
            ),
            (
                "False",
                user.clone(),
                false,
                false,
                false,
                Some(vec![
                    "dedicated:NoSchedule",
                    "node.kubernetes.io/not-ready:NoSchedule",
                    "node.kubernetes.io/not-ready:NoExecute",
                ]),
            ),
            (
                "True",
                user.clone(),
                false,
                true,
                true,
                Some(vec![
                    "dedicated:NoSchedule",
                    "node.kubernetes.io/unreachable:NoSchedule",
                    "node.kubernetes.io/unreachable:NoExecute",
                ]),
            ),
            ("Unknown", unreachable.clone(), false, true, true, None),
            ("True", unreachable, false, false, false, Some(vec!["dedicated:NoSchedule"])),
        ];
        for (i, (ready, taints, unschedulable, stale, conditions, want)) in
            cases.into_iter().enumerate()
        {
            let plan = plan(&node(ready, taints, unschedulable), stale, now);
            assert_eq!(plan.conditions.is_some(), conditions, "case {i}");
            assert_eq!(
                plan.taints.as_deref().map(keys),
                want.map(|w| w.iter().map(|s| (*s).to_owned()).collect()),
                "case {i}"
            );
        }
        let plan = plan(&node("True", json!([]), false), true, now);
        let conditions = plan.conditions.expect("conditions change");
        for type_ in MONITORED {
            let c = condition(&conditions, type_).expect(type_);
            assert_eq!(c.status, "Unknown", "{type_}");
            assert_eq!(c.last_transition_time, Some(Time(now)));
        }
        let ready = condition(&conditions, "Ready").expect("ready");
        assert_eq!(ready.reason.as_deref(), Some(UNKNOWN_REASON));
        assert_eq!(ready.message.as_deref(), Some("Kubelet stopped posting node status."));
        assert_eq!(
            ready.last_heartbeat_time,
            Some(Time("2026-01-01T00:00:00Z".parse().expect("time")))
        );
        let never = condition(&conditions, "DiskPressure").expect("added");
        assert_eq!(never.reason.as_deref(), Some(NEVER_REASON));
        let taints = plan.taints.expect("taints change");
        let no_execute = taints.iter().find(|t| t.effect == "NoExecute").expect("NoExecute");
        assert_eq!(no_execute.time_added, Some(Time(now)));
    }

    #[test]
    fn eviction_times() {
        let now: Timestamp = "2026-01-02T00:00:00Z".parse().expect("a time");
        let added: Timestamp = "2026-01-01T23:59:00Z".parse().expect("a time");
        let taints = vec![Taint {
            key: UNREACHABLE.into(),
            effect: "NoExecute".into(),
            value: None,
            time_added: Some(Time(added)),
        }];
        let pod = |tolerations: serde_json::Value| -> CachedPod {
            serde_json::from_value(json!({ "metadata": { "name": "p" }, "spec": { "containers": [], "tolerations": tolerations } }))
                .expect("a pod")
        };
        let cases = [
            (json!([]), Some(now)),
            (json!([{ "key": "other", "operator": "Exists" }]), Some(now)),
            (json!([{ "key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute" }]), None),
            (
                json!([{ "key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 }]),
                Some(added.checked_add(SignedDuration::from_secs(300)).expect("time")),
            ),
            (
                json!([{ "operator": "Exists", "tolerationSeconds": 600 }, { "key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": 30 }]),
                Some(added.checked_add(SignedDuration::from_secs(30)).expect("time")),
            ),
        ];
        for (i, (tolerations, want)) in cases.into_iter().enumerate() {
            assert_eq!(eviction_time(&pod(tolerations), &taints, now), want, "case {i}");
        }
        assert_eq!(eviction_time(&pod(json!([])), &[], now), None, "no NoExecute taint");
    }
}
