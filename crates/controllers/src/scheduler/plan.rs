//! The pure scheduling decision: filter the nodes for a pod, score the feasible ones, pick
//! one — or say why none fits, in kube-scheduler's words.
//!
//! Filters run in the default profile's order (pkg/scheduler/apis/config/v1/default_plugins.go)
//! and stop at the first that rejects a node: NodeUnschedulable, TaintToleration, NodeAffinity,
//! NodePorts, NodeResourcesFit, VolumeBinding. Messages are the plugins' own
//! (pkg/scheduler/framework/plugins/*) assembled as `FitError.Error()` does
//! (pkg/scheduler/framework/types.go), with the DefaultPreemption post-filter's verdict.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume,
    PersistentVolumeClaim, Taint, Toleration,
};
use k8s_openapi::api::storage::v1::StorageClass;

use super::resources::{self, Resources};
use crate::cached_pod::CachedPod;

/// The scheduler's name in `spec.schedulerName` and in events.
pub(crate) const SCHEDULER_NAME: &str = "default-scheduler";
/// The claim annotation that asks the provisioner for a volume on a node.
pub(crate) const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

const ERR_UNSCHEDULABLE: &str = "node(s) were unschedulable";
const ERR_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
const ERR_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
const ERR_VOLUME_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
const ERR_VOLUME_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
const ERR_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
const NO_NODES: &str = "no nodes available to schedule pods";
const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// A host port a pod holds on its node (hostIP defaults to 0.0.0.0, protocol to TCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPort {
    ip: String,
    protocol: String,
    port: i32,
}

impl HostPort {
    fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// What one pod adds to its node's usage.
#[derive(Debug, Clone, Default)]
pub(crate) struct Contribution {
    requests: Resources,
    nonzero: (i64, i64),
    ports: Vec<HostPort>,
    owner: Option<String>,
}

impl Contribution {
    pub(crate) fn of(pod: &CachedPod) -> Contribution {
        let Some(spec) = pod.spec.as_ref() else { return Contribution::default() };
        let sidecars = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        let ports = spec
            .containers
            .iter()
            .chain(sidecars)
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                let port = p.host_port.filter(|port| *port > 0)?;
                Some(HostPort {
                    ip: p.host_ip.clone().filter(|ip| !ip.is_empty()).unwrap_or("0.0.0.0".into()),
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                    port,
                })
            })
            .collect();
        Contribution {
            requests: resources::pod_requests(spec),
            nonzero: resources::nonzero_requests(spec),
            ports,
            owner: controller_uid(pod),
        }
    }
}

/// The uid of the pod's controlling owner (what spreading groups pods by).
pub(crate) fn controller_uid(pod: &CachedPod) -> Option<String> {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.clone())
}

/// What the pods assigned (or assumed) to a node use of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Usage {
    pods: i64,
    requested: Resources,
    nonzero: (i64, i64),
    ports: Vec<HostPort>,
    owners: HashMap<String, i64>,
}

impl Usage {
    pub(crate) fn add(&mut self, pod: &Contribution) {
        self.pods += 1;
        self.requested.add(&pod.requests);
        self.nonzero.0 += pod.nonzero.0;
        self.nonzero.1 += pod.nonzero.1;
        self.ports.extend(pod.ports.iter().cloned());
        if let Some(owner) = &pod.owner {
            *self.owners.entry(owner.clone()).or_insert(0) += 1;
        }
    }

    pub(crate) fn remove(&mut self, pod: &Contribution) {
        self.pods -= 1;
        self.requested.sub(&pod.requests);
        self.nonzero.0 -= pod.nonzero.0;
        self.nonzero.1 -= pod.nonzero.1;
        for port in &pod.ports {
            if let Some(at) = self.ports.iter().position(|p| p == port) {
                self.ports.swap_remove(at);
            }
        }
        if let Some(owner) = &pod.owner
            && let Some(count) = self.owners.get_mut(owner)
        {
            *count -= 1;
            if *count <= 0 {
                self.owners.remove(owner);
            }
        }
    }

    pub(crate) fn pods(&self) -> i64 {
        self.pods
    }
}

/// What the filters read of a node, worked out once per scheduling round.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    allocatable: Resources,
    taints: Vec<Taint>,
}

impl Prepared {
    pub(crate) fn of(node: &Node) -> Prepared {
        Prepared { allocatable: allocatable(node), taints: effective_taints(node) }
    }
}

/// A node as a candidate: the object, what the filters read of it, and what is already on
/// it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<'a> {
    pub(crate) node: &'a Node,
    pub(crate) prepared: &'a Prepared,
    pub(crate) usage: &'a Usage,
}

/// The storage objects the volume checks read, keyed `namespace/name` (claims) or `name`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Volumes<'a> {
    pub(crate) claims: &'a HashMap<String, Arc<PersistentVolumeClaim>>,
    pub(crate) volumes: &'a HashMap<String, Arc<PersistentVolume>>,
    pub(crate) classes: &'a HashMap<String, Arc<StorageClass>>,
}

/// The decision for one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Bind to `node`, after annotating the `delayed` (WaitForFirstConsumer) claims with it
    /// and waiting until they are bound.
    Fits { node: String, delayed: Vec<String> },
    /// No node fits; `message` is kube-scheduler's FailedScheduling message.
    Unschedulable { message: String },
    /// Not tried: the pod has scheduling gates.
    Gated,
}

/// Whether a filter's rejection could be undone by preempting pods (framework.Unschedulable)
/// or not (framework.UnschedulableAndUnresolvable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    Unschedulable,
    Unresolvable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rejection {
    code: Code,
    reasons: Vec<String>,
}

impl Rejection {
    fn unresolvable(reason: impl Into<String>) -> Rejection {
        Rejection { code: Code::Unresolvable, reasons: vec![reason.into()] }
    }
}

/// The claims of a pod, split the way the VolumeBinding pre-filter splits them.
#[derive(Debug, Default)]
struct PodClaims<'a> {
    /// Bound claims' volumes.
    bound: Vec<&'a PersistentVolume>,
    /// Unbound claims of WaitForFirstConsumer classes, with their class.
    delayed: Vec<(&'a PersistentVolumeClaim, &'a StorageClass)>,
}

/// Whether `pod` only waits for its Immediate claims to be created or bound — something the
/// volume controller is about to do, so trying it now would only put it into backoff.
pub(crate) fn waits_for_claims(pod: &CachedPod, volumes: Volumes<'_>) -> bool {
    match pod_claims(pod, volumes) {
        Err(rejection) => rejection.reasons.iter().any(|reason| {
            reason == ERR_UNBOUND_IMMEDIATE
                || (reason.starts_with("persistentvolumeclaim ") && reason.ends_with(" not found"))
        }),
        Ok(_) => false,
    }
}

/// Picks a node for `pod` among `candidates`, or says why none fits.
pub(crate) fn schedule(
    pod: &CachedPod,
    contribution: &Contribution,
    candidates: &[Candidate<'_>],
    volumes: Volumes<'_>,
) -> Outcome {
    if candidates.is_empty() {
        return Outcome::Unschedulable { message: NO_NODES.to_owned() };
    }
    let claims = match pod_claims(pod, volumes) {
        Ok(claims) => claims,
        Err(rejection) => {
            let statuses = vec![rejection.clone(); candidates.len()];
            let message = fit_error(pod, candidates.len(), Some(&rejection), &statuses);
            return Outcome::Unschedulable { message };
        }
    };
    let mut rejections = Vec::new();
    let mut feasible = Vec::new();
    for candidate in candidates {
        match filter(pod, contribution, &claims, *candidate, volumes) {
            Ok(()) => feasible.push(*candidate),
            Err(rejection) => rejections.push(rejection),
        }
    }
    if feasible.is_empty() {
        let message = fit_error(pod, candidates.len(), None, &rejections);
        return Outcome::Unschedulable { message };
    }
    let max_owned = contribution
        .owner
        .as_ref()
        .map(|owner| feasible.iter().map(|c| c.usage.owners.get(owner).copied().unwrap_or(0)).max())
        .unwrap_or_default()
        .unwrap_or(0);
    let mut best: Option<(i64, &str)> = None;
    for candidate in &feasible {
        let score = score(contribution, *candidate, max_owned);
        let name = node_name(candidate.node);
        let better = match best {
            None => true,
            Some((best_score, best_name)) => {
                score > best_score || (score == best_score && name < best_name)
            }
        };
        if better {
            best = Some((score, name));
        }
    }
    let node = best.map(|(_, name)| name.to_owned()).unwrap_or_default();
    let delayed = claims
        .delayed
        .iter()
        .map(|(claim, _)| claim.metadata.name.clone().unwrap_or_default())
        .collect();
    Outcome::Fits { node, delayed }
}

fn node_name(node: &Node) -> &str {
    node.metadata.name.as_deref().unwrap_or_default()
}

/// VolumeBinding's pre-filter: every claim must exist and not be going away; unbound claims
/// must wait for their first consumer.
fn pod_claims<'a>(pod: &CachedPod, volumes: Volumes<'a>) -> Result<PodClaims<'a>, Rejection> {
    let mut claims = PodClaims::default();
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let mut unbound_immediate = false;
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let (name, ephemeral) = if let Some(source) = &volume.persistent_volume_claim {
            (source.claim_name.clone(), false)
        } else if volume.ephemeral {
            (format!("{pod_name}-{}", volume.name), true)
        } else {
            continue;
        };
        let Some(claim) = volumes.claims.get(&format!("{namespace}/{name}")) else {
            return Err(Rejection::unresolvable(if ephemeral {
                format!(
                    "waiting for ephemeral volume controller to create the persistentvolumeclaim {name:?}"
                )
            } else {
                format!("persistentvolumeclaim {name:?} not found")
            }));
        };
        if claim.metadata.deletion_timestamp.is_some() {
            return Err(Rejection::unresolvable(format!(
                "persistentvolumeclaim {name:?} is being deleted"
            )));
        }
        if let Some(volume) = bound_volume(claim, volumes) {
            claims.bound.push(volume);
            continue;
        }
        let class = claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref())
            .and_then(|c| volumes.classes.get(c));
        match class {
            Some(class) if class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer") => {
                claims.delayed.push((claim, class));
            }
            _ => unbound_immediate = true,
        }
    }
    if unbound_immediate {
        return Err(Rejection::unresolvable(ERR_UNBOUND_IMMEDIATE));
    }
    Ok(claims)
}

/// The volume a claim is bound to, if the binding is complete on both sides.
fn bound_volume<'a>(
    claim: &PersistentVolumeClaim,
    volumes: Volumes<'a>,
) -> Option<&'a PersistentVolume> {
    let name = claim.spec.as_ref()?.volume_name.as_deref().filter(|n| !n.is_empty())?;
    let volume = volumes.volumes.get(name)?;
    let claim_ref = volume.spec.as_ref()?.claim_ref.as_ref()?;
    let same = match (&claim_ref.uid, &claim.metadata.uid) {
        (Some(a), Some(b)) => a == b,
        _ => claim_ref.name == claim.metadata.name,
    };
    same.then_some(volume)
}

fn filter(
    pod: &CachedPod,
    contribution: &Contribution,
    claims: &PodClaims<'_>,
    candidate: Candidate<'_>,
    volumes: Volumes<'_>,
) -> Result<(), Rejection> {
    let node = candidate.node;
    let spec = pod.spec.as_ref();
    let tolerations: &[Toleration] = spec.and_then(|s| s.tolerations.as_deref()).unwrap_or(&[]);
    // NodeUnschedulable
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        let taint = Taint {
            key: UNSCHEDULABLE.to_owned(),
            effect: "NoSchedule".to_owned(),
            ..Taint::default()
        };
        if !tolerations.iter().any(|t| tolerates(t, &taint)) {
            return Err(Rejection::unresolvable(ERR_UNSCHEDULABLE));
        }
    }
    // TaintToleration
    if let Some(taint) = candidate
        .prepared
        .taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerations.iter().any(|toleration| tolerates(toleration, t)))
    {
        return Err(Rejection::unresolvable(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint.key,
            taint.value.as_deref().unwrap_or_default()
        )));
    }
    // NodeAffinity
    if !matches_node_selector_and_affinity(pod, node) {
        return Err(Rejection::unresolvable(ERR_AFFINITY));
    }
    // NodePorts
    if contribution.ports.iter().any(|p| candidate.usage.ports.iter().any(|u| u.conflicts(p))) {
        return Err(Rejection { code: Code::Unschedulable, reasons: vec![ERR_PORTS.to_owned()] });
    }
    // NodeResourcesFit
    fits_resources(contribution, candidate)?;
    // VolumeBinding
    for volume in &claims.bound {
        let terms = volume
            .spec
            .as_ref()
            .and_then(|s| s.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref())
            .map(|r| r.node_selector_terms.as_slice());
        if let Some(terms) = terms
            && !matches_terms(terms, node)
        {
            return Err(Rejection::unresolvable(ERR_VOLUME_NODE_CONFLICT));
        }
    }
    for (claim, class) in &claims.delayed {
        if !delayed_claim_fits(claim, class, node, volumes) {
            return Err(Rejection::unresolvable(ERR_VOLUME_BIND_CONFLICT));
        }
    }
    Ok(())
}

/// The node's taints, plus the ones the node lifecycle controller would add for its Ready
/// condition if they are not there yet (a node that is not Ready never takes new pods
/// that do not tolerate it).
pub(crate) fn effective_taints(node: &Node) -> Vec<Taint> {
    let mut taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.as_str());
    let key = match ready {
        Some("True") => None,
        Some("Unknown") => Some(UNREACHABLE),
        _ => Some(NOT_READY),
    };
    if let Some(key) = key
        && !taints.iter().any(|t| t.key == key && t.effect == "NoSchedule")
    {
        taints.push(Taint {
            key: key.to_owned(),
            effect: "NoSchedule".to_owned(),
            ..Taint::default()
        });
    }
    taints
}

/// `Toleration.ToleratesTaint` (k8s.io/api/core/v1/toleration.go).
pub(crate) fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

/// `nodeSelector` and `requiredDuringSchedulingIgnoredDuringExecution`.
fn matches_node_selector_and_affinity(pod: &CachedPod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else { return true };
    matches_required_node_affinity(spec.node_selector.as_ref(), spec.affinity.as_deref(), node)
}

/// `nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)`: a pod spec's `nodeSelector` and
/// `requiredDuringSchedulingIgnoredDuringExecution` (also what the DaemonSet controller asks of
/// its template).
pub(crate) fn matches_required_node_affinity(
    node_selector: Option<&BTreeMap<String, String>>,
    affinity: Option<&Affinity>,
    node: &Node,
) -> bool {
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    if let Some(selector) = node_selector
        && !selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    let required = affinity
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
    match required {
        Some(selector) => matches_terms(&selector.node_selector_terms, node),
        None => true,
    }
}

/// Node selector terms are ORed; within a term every expression and field must match; a
/// term with neither matches nothing (component-helpers/scheduling/corev1/nodeaffinity).
pub(crate) fn matches_terms(terms: &[NodeSelectorTerm], node: &Node) -> bool {
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let fields: BTreeMap<String, String> =
        [("metadata.name".to_owned(), node_name(node).to_owned())].into();
    terms.iter().any(|term| {
        let expressions = term.match_expressions.as_deref().unwrap_or(&[]);
        let field_expressions = term.match_fields.as_deref().unwrap_or(&[]);
        if expressions.is_empty() && field_expressions.is_empty() {
            return false;
        }
        expressions.iter().all(|e| requirement_matches(e, labels))
            && field_expressions.iter().all(|e| {
                e.key == "metadata.name"
                    && matches!(e.operator.as_str(), "In" | "NotIn")
                    && requirement_matches(e, &fields)
            })
    })
}

/// One `NodeSelectorRequirement` against a label set.
pub(crate) fn requirement_matches(
    requirement: &NodeSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> bool {
    let values = requirement.values.as_deref().unwrap_or(&[]);
    let value = labels.get(&requirement.key);
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(value), [bound]) = (value, values) else { return false };
            let (Ok(value), Ok(bound)) = (value.parse::<i64>(), bound.parse::<i64>()) else {
                return false;
            };
            if requirement.operator == "Gt" { value > bound } else { value < bound }
        }
        _ => false,
    }
}

/// NodeResourcesFit's filter (noderesources/fit.go `fitsRequest`).
fn fits_resources(pod: &Contribution, candidate: Candidate<'_>) -> Result<(), Rejection> {
    let allocatable = &candidate.prepared.allocatable;
    let used = candidate.usage;
    let mut reasons = Vec::new();
    let mut code = Code::Unschedulable;
    if used.pods + 1 > allocatable.get("pods") {
        reasons.push("Too many pods".to_owned());
    }
    let mut names: Vec<&String> = pod.requests.0.keys().filter(|n| *n != "pods").collect();
    let rank = |name: &str| match name {
        "cpu" => 0,
        "memory" => 1,
        "ephemeral-storage" => 2,
        _ => 3,
    };
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    for name in names {
        let request = pod.requests.get(name);
        if request <= 0 {
            continue;
        }
        let free = allocatable.get(name) - used.requested.get(name);
        if request > free {
            reasons.push(format!("Insufficient {name}"));
            if request > allocatable.get(name) {
                code = Code::Unresolvable;
            }
        }
    }
    if reasons.is_empty() { Ok(()) } else { Err(Rejection { code, reasons }) }
}

fn allocatable(node: &Node) -> Resources {
    let status = node.status.as_ref();
    let map =
        status.and_then(|s| s.allocatable.as_ref()).or(status.and_then(|s| s.capacity.as_ref()));
    Resources::from_map(map)
}

/// An unbound WaitForFirstConsumer claim on `node`: a matching available volume there, or
/// a provisioner that may provision there (volumebinding/binder.go `FindPodVolumes`).
fn delayed_claim_fits(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    node: &Node,
    volumes: Volumes<'_>,
) -> bool {
    let class_name = class.metadata.name.as_deref().unwrap_or_default();
    let spec = claim.spec.clone().unwrap_or_default();
    let wanted = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| resources::amount("storage", q))
        .unwrap_or(0);
    let modes = spec.access_modes.unwrap_or_default();
    let available = volumes.volumes.values().any(|volume| {
        let Some(pv) = volume.spec.as_ref() else { return false };
        let free = pv.claim_ref.as_ref().is_none_or(|r| {
            r.name == claim.metadata.name && r.namespace == claim.metadata.namespace
        });
        let size = pv
            .capacity
            .as_ref()
            .and_then(|c| c.get("storage"))
            .map(|q| resources::amount("storage", q))
            .unwrap_or(0);
        let pv_modes = pv.access_modes.clone().unwrap_or_default();
        free && volume.metadata.deletion_timestamp.is_none()
            && pv.storage_class_name.as_deref().unwrap_or_default() == class_name
            && size >= wanted
            && modes.iter().all(|m| pv_modes.contains(m))
            && pv
                .node_affinity
                .as_ref()
                .and_then(|a| a.required.as_ref())
                .is_none_or(|r| matches_terms(&r.node_selector_terms, node))
    });
    if available {
        return true;
    }
    if class.provisioner == "kubernetes.io/no-provisioner" {
        return false;
    }
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    class.allowed_topologies.as_deref().filter(|t| !t.is_empty()).is_none_or(|terms| {
        terms.iter().any(|term| {
            term.match_label_expressions
                .iter()
                .flatten()
                .all(|e| labels.get(&e.key).is_some_and(|v| e.values.contains(v)))
        })
    })
}

/// NodeResourcesFit (LeastAllocated, cpu and memory weighted equally), BalancedAllocation,
/// and spreading of pods with the same controller (weight 2, like PodTopologySpread's
/// system defaults).
fn score(pod: &Contribution, candidate: Candidate<'_>, max_owned: i64) -> i64 {
    let allocatable = &candidate.prepared.allocatable;
    let used = candidate.usage;
    let cpu = (used.nonzero.0 + pod.nonzero.0, allocatable.get("cpu"));
    let memory = (used.nonzero.1 + pod.nonzero.1, allocatable.get("memory"));
    let least = |(requested, capacity): (i64, i64)| {
        if capacity <= 0 || requested > capacity {
            0
        } else {
            (capacity - requested) * 100 / capacity
        }
    };
    let least_allocated = (least(cpu) + least(memory)) / 2;
    let fraction = |(requested, capacity): (i64, i64)| {
        if capacity <= 0 { 1.0 } else { (requested as f64 / capacity as f64).min(1.0) }
    };
    let deviation = (fraction(cpu) - fraction(memory)).abs() / 2.0;
    let balanced = ((1.0 - deviation) * 100.0) as i64;
    let spread = match &pod.owner {
        Some(owner) if max_owned > 0 => {
            let owned = used.owners.get(owner).copied().unwrap_or(0);
            (max_owned - owned) * 100 / max_owned
        }
        _ => 100,
    };
    least_allocated + balanced + 2 * spread
}

/// `FitError.Error()`: the filter verdicts as a sorted histogram, then the DefaultPreemption
/// post-filter's (we never find victims: preemption is not implemented, and pods without a
/// lower priority could not be victims anyway).
fn fit_error(
    pod: &CachedPod,
    nodes: usize,
    prefilter: Option<&Rejection>,
    statuses: &[Rejection],
) -> String {
    let mut message = format!("0/{nodes} nodes are available:");
    match prefilter {
        Some(rejection) => {
            message.push_str(&format!(" {}.", rejection.reasons.join(", ")));
        }
        None => {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for status in statuses {
                for reason in &status.reasons {
                    *counts.entry(reason).or_insert(0) += 1;
                }
            }
            message.push_str(&format!(" {}.", histogram(counts)));
        }
    }
    let never = pod.spec.as_ref().and_then(|s| s.preemption_policy.as_deref()) == Some("Never");
    if never {
        message.push_str(" preemption: not eligible due to preemptionPolicy=Never.");
    } else {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for status in statuses {
            let verdict = match status.code {
                Code::Unresolvable => PREEMPTION_NOT_HELPFUL,
                Code::Unschedulable => NO_VICTIMS,
            };
            *counts.entry(verdict).or_insert(0) += 1;
        }
        message.push_str(&format!(
            " preemption: 0/{nodes} nodes are available: {}.",
            histogram(counts)
        ));
    }
    message
}

/// "count reason" entries sorted as strings, as Go's sort.Strings does.
fn histogram(counts: BTreeMap<&str, usize>) -> String {
    let mut entries: Vec<String> =
        counts.into_iter().map(|(reason, count)| format!("{count} {reason}")).collect();
    entries.sort();
    entries.join(", ")
}

#[cfg(test)]
mod tests;
