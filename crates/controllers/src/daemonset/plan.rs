//! One sync of one DaemonSet's pods as pure functions of what is observed: which nodes should
//! run a daemon pod (`NodeShouldRunDaemonPod`), which pods the set claims (`ClaimPods`), what
//! `manage` creates and deletes (`podsShouldBeOnNode`, `getUnscheduledPodsWithoutNode`), what
//! `rollingUpdate` deletes or surges (update.go), the pod a node gets
//! (`util.CreatePodTemplate`, `AddOrUpdateDaemonPodTolerations`,
//! `ReplaceDaemonSetPodNodeNameNodeAffinity`) and the status (`updateDaemonSetStatus`).
//!
//! Suggested reading order: [`plan`], then [`node_should_run`], [`manage`],
//! [`rolling_update`], [`status`].

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

use crate::cached_pod::CachedPod;
use crate::meta::{
    controller_of, name_of, namespace_of, new_controller_ref, non_zero, scaled_value, selects,
};
use crate::replicaset::availability;
use crate::scheduler::plan::{matches_required_node_affinity, tolerates};

/// `apps.DefaultDaemonSetUniqueLabelKey` (= `ControllerRevisionHashLabelKey`): the hash of the
/// revision a pod was made from, on pods and on the set's ControllerRevisions.
pub(crate) const REVISION_HASH_LABEL: &str = "controller-revision-hash";

/// `extensions.DaemonSetTemplateGenerationKey`: the template generation a pod was made from.
pub(crate) const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

/// `apps.DeprecatedTemplateGeneration`: the set's template generation, kept by the API server.
pub(crate) const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// `BurstReplicas`: at most this many pods are created, and this many deleted, by one sync.
pub(crate) const BURST_REPLICAS: usize = 250;

/// The failed-pod backoff kube-controller-manager gives the controller
/// (`flowcontrol.NewBackOff(1*time.Second, 15*time.Minute)`).
pub(crate) const FAILED_POD_BACKOFF: Duration = Duration::from_secs(1);
pub(crate) const FAILED_POD_BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// A pod a plan names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodRef {
    pub(crate) name: String,
    pub(crate) uid: String,
}

impl PodRef {
    pub(crate) fn of(pod: &CachedPod) -> PodRef {
        PodRef {
            name: name_of(&pod.metadata).to_owned(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        }
    }
}

// === placement ===

/// `NodeShouldRunDaemonPod`'s answer for one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    /// A daemon pod should be created here if there is none.
    pub(crate) should_run: bool,
    /// A daemon pod already here may stay.
    pub(crate) should_continue_running: bool,
}

/// `NodeShouldRunDaemonPod`: the template's `nodeName`, `nodeSelector` and required node
/// affinity must match the node, and the node's NoSchedule and NoExecute taints must be
/// tolerated, counting the tolerations every daemon pod gets; a pod already there stays
/// while every NoExecute taint is tolerated.
pub(crate) fn node_should_run(ds: &DaemonSet, node: &Node) -> Placement {
    const NEITHER: Placement = Placement { should_run: false, should_continue_running: false };
    let node_name = name_of(&node.metadata);
    let spec = template_spec(ds);
    let wanted = spec.and_then(|s| s.node_name.as_deref()).unwrap_or_default();
    if !wanted.is_empty() && wanted != node_name {
        return NEITHER;
    }
    let node_selector = spec.and_then(|s| s.node_selector.as_ref());
    let affinity = spec.and_then(|s| s.affinity.as_ref());
    if !matches_required_node_affinity(node_selector, affinity, node) {
        return NEITHER;
    }
    let mut tolerations = spec.and_then(|s| s.tolerations.clone()).unwrap_or_default();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    add_daemon_tolerations(&mut tolerations, host_network);
    let taints: &[Taint] = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or(&[]);
    let untolerated = |effects: &[&str]| {
        taints
            .iter()
            .filter(|t| effects.contains(&t.effect.as_str()))
            .any(|t| !tolerations.iter().any(|toleration| tolerates(toleration, t)))
    };
    if untolerated(&["NoSchedule", "NoExecute"]) {
        return Placement {
            should_run: false,
            should_continue_running: !untolerated(&["NoExecute"]),
        };
    }
    Placement { should_run: true, should_continue_running: true }
}

fn template_spec(ds: &DaemonSet) -> Option<&PodSpec> {
    ds.spec.as_ref().and_then(|s| s.template.spec.as_ref())
}

/// `util.AddOrUpdateDaemonPodTolerations`: daemon pods survive the node lifecycle
/// controller's not-ready and unreachable evictions and ignore the condition taints.
pub(crate) fn add_daemon_tolerations(tolerations: &mut Vec<Toleration>, host_network: bool) {
    let exists = |key: &str, effect: &str| Toleration {
        key: Some(key.to_owned()),
        operator: Some("Exists".to_owned()),
        effect: Some(effect.to_owned()),
        ..Toleration::default()
    };
    let mut daemon = vec![
        exists(NOT_READY, "NoExecute"),
        exists(UNREACHABLE, "NoExecute"),
        exists(DISK_PRESSURE, "NoSchedule"),
        exists(MEMORY_PRESSURE, "NoSchedule"),
        exists(PID_PRESSURE, "NoSchedule"),
        exists(UNSCHEDULABLE, "NoSchedule"),
    ];
    if host_network {
        daemon.push(exists(NETWORK_UNAVAILABLE, "NoSchedule"));
    }
    for toleration in daemon {
        add_or_update_toleration(tolerations, toleration);
    }
}

/// `v1helper.AddOrUpdateTolerationInPodSpec`: a toleration with the same key, operator, value
/// and effect (`MatchToleration`) is replaced, else the new one is appended.
fn add_or_update_toleration(tolerations: &mut Vec<Toleration>, toleration: Toleration) {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let same = |t: &Toleration| {
        text(&t.key) == text(&toleration.key)
            && text(&t.operator) == text(&toleration.operator)
            && text(&t.value) == text(&toleration.value)
            && text(&t.effect) == text(&toleration.effect)
    };
    let mut replaced = false;
    for existing in tolerations.iter_mut().filter(|t| same(t)) {
        *existing = toleration.clone();
        replaced = true;
    }
    if !replaced {
        tolerations.push(toleration);
    }
}

/// `util.ReplaceDaemonSetPodNodeNameNodeAffinity`: the required node affinity becomes one term
/// selecting the node by `metadata.name`, so that the scheduler binds the pod there.
pub(crate) fn replace_node_name_affinity(affinity: Option<Affinity>, node: &str) -> Affinity {
    let selector = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".to_owned(),
                operator: "In".to_owned(),
                values: Some(vec![node.to_owned()]),
            }]),
            match_expressions: None,
        }],
    };
    let mut affinity = affinity.unwrap_or_default();
    let node_affinity = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    match node_affinity.required_during_scheduling_ignored_during_execution.as_mut() {
        Some(required) => required.node_selector_terms = selector.node_selector_terms,
        None => node_affinity.required_during_scheduling_ignored_during_execution = Some(selector),
    }
    affinity
}

/// `util.GetTargetNodeName`: the pod's node, or for a pod not yet bound the node its
/// `metadata.name` node affinity names.
pub(crate) fn target_node(pod: &CachedPod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if let Some(node) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(node);
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    let field = terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|e| e.key == "metadata.name" && e.operator == "In")?;
    match field.values.as_deref() {
        Some([node]) => Some(node.as_str()),
        _ => None,
    }
}

// === the pod of a node ===

/// `util.GetTemplateGeneration`: the `deprecated.daemonset.template.generation` annotation
/// (none when absent or unparsable, as upstream treats a parse error).
pub(crate) fn template_generation(ds: &DaemonSet) -> Option<i64> {
    let annotations = ds.metadata.annotations.as_ref()?;
    annotations.get(TEMPLATE_GENERATION_ANNOTATION)?.parse().ok()
}

/// `util.IsPodUpdated`: the pod carries the current revision's hash, or the set's template
/// generation.
pub(crate) fn is_updated(pod: &CachedPod, hash: &str, generation: Option<i64>) -> bool {
    let label = |key: &str| pod.metadata.labels.as_ref().and_then(|l| l.get(key));
    let generation_matches = generation.is_some_and(|g| {
        label(TEMPLATE_GENERATION_LABEL).map(String::as_str) == Some(&*g.to_string())
    });
    let hash_matches =
        !hash.is_empty() && label(REVISION_HASH_LABEL).map(String::as_str) == Some(hash);
    hash_matches || generation_matches
}

/// The pod `syncNodes` creates for `node`: `util.CreatePodTemplate` (the daemon tolerations,
/// the template generation and revision hash labels), the node-name affinity, and
/// `controller.GetPodFromTemplate` (named by the API server from `<set>-`, controlled by the
/// set). Not bound: the scheduler binds it.
pub(crate) fn pod_for_node(ds: &DaemonSet, hash: &str, node: &str) -> Pod {
    let name = name_of(&ds.metadata);
    let template = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let template_meta = template.metadata.unwrap_or_default();
    let mut labels: BTreeMap<String, String> = template_meta.labels.unwrap_or_default();
    if let Some(generation) = template_generation(ds) {
        labels.insert(TEMPLATE_GENERATION_LABEL.to_owned(), generation.to_string());
    }
    if !hash.is_empty() {
        labels.insert(REVISION_HASH_LABEL.to_owned(), hash.to_owned());
    }
    let mut spec = template.spec.unwrap_or_default();
    let mut tolerations = spec.tolerations.take().unwrap_or_default();
    add_daemon_tolerations(&mut tolerations, spec.host_network.unwrap_or(false));
    spec.tolerations = Some(tolerations);
    spec.affinity = Some(replace_node_name_affinity(spec.affinity.take(), node));
    // `getPodsPrefix`: the dash only when the prefix is still a valid name.
    let prefix = if name.len() < 253 { format!("{name}-") } else { name.to_owned() };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: ds.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![new_controller_ref(ds)]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

// === observed ===

/// What the plans read, indexed once a pass: the nodes by name (sorted), every pod by the uid
/// of its controller, and the orphans by namespace.
#[derive(Debug, Default)]
pub(crate) struct Observed<'a> {
    pub(crate) nodes: Vec<&'a Node>,
    by_controller: HashMap<&'a str, Vec<&'a CachedPod>>,
    orphans: HashMap<&'a str, Vec<&'a CachedPod>>,
}

impl<'a> Observed<'a> {
    pub(crate) fn new(
        nodes: impl IntoIterator<Item = &'a Node>,
        pods: impl IntoIterator<Item = &'a CachedPod>,
    ) -> Observed<'a> {
        let mut observed = Observed { nodes: nodes.into_iter().collect(), ..Observed::default() };
        observed.nodes.sort_by(|a, b| name_of(&a.metadata).cmp(name_of(&b.metadata)));
        for pod in pods {
            match controller_of(&pod.metadata) {
                Some(owner) => observed.by_controller.entry(&owner.uid).or_default().push(pod),
                None => {
                    observed.orphans.entry(namespace_of(&pod.metadata)).or_default().push(pod);
                }
            }
        }
        observed
    }

    fn node(&self, name: &str) -> Option<&'a Node> {
        let at = self.nodes.binary_search_by(|n| name_of(&n.metadata).cmp(name)).ok()?;
        Some(self.nodes[at])
    }
}

/// `ClaimPods` for a set: the pods it keeps, adopts and releases.
#[derive(Debug, Default)]
pub(crate) struct Claims<'a> {
    /// Orphans the selector matches (not being deleted): a controller reference patched in.
    pub(crate) adopt: Vec<PodRef>,
    /// Pods the set controls that its selector no longer matches.
    pub(crate) release: Vec<PodRef>,
    /// The set's pods once the adoptions are done.
    pub(crate) claimed: Vec<&'a CachedPod>,
}

/// `getDaemonPods`: every pod of the namespace (whatever its phase) the set controls and
/// selects, and the orphans it selects. Only for a set not being deleted (the sync stops
/// earlier for one).
pub(crate) fn claim<'a>(ds: &DaemonSet, observed: &Observed<'a>) -> Claims<'a> {
    let namespace = namespace_of(&ds.metadata);
    let uid = ds.metadata.uid.as_deref().unwrap_or_default();
    let selector = ds.spec.as_ref().map(|s| &s.selector);
    let matches =
        |pod: &CachedPod| selector.is_some_and(|s| selects(Some(s), pod.metadata.labels.as_ref()));
    let mut claims = Claims::default();
    let owned = observed.by_controller.get(uid).map(Vec::as_slice).unwrap_or_default();
    for pod in owned.iter().copied().filter(|p| namespace_of(&p.metadata) == namespace) {
        if matches(pod) {
            claims.claimed.push(pod);
        } else {
            claims.release.push(PodRef::of(pod));
        }
    }
    let orphans = observed.orphans.get(namespace).map(Vec::as_slice).unwrap_or_default();
    for pod in orphans.iter().copied() {
        if matches(pod) && pod.metadata.deletion_timestamp.is_none() {
            claims.adopt.push(PodRef::of(pod));
            claims.claimed.push(pod);
        }
    }
    claims
}

/// `getNodesToDaemonPods`: the claimed pods by the node they are for, oldest first
/// (`podByCreationTimestampAndPhase`); without `include_deleted_terminal`, finished pods being
/// deleted are left out. Pods with no node in sight are left out.
pub(crate) fn pods_by_node<'a>(
    claimed: &[&'a CachedPod],
    include_deleted_terminal: bool,
) -> BTreeMap<&'a str, Vec<&'a CachedPod>> {
    let mut by_node: BTreeMap<&str, Vec<&CachedPod>> = BTreeMap::new();
    for pod in claimed.iter().copied() {
        if !include_deleted_terminal
            && is_terminal(pod)
            && pod.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        if let Some(node) = target_node(pod) {
            by_node.entry(node).or_default().push(pod);
        }
    }
    for pods in by_node.values_mut() {
        pods.sort_by(|a, b| oldest_first(a, b));
    }
    by_node
}

fn phase(pod: &CachedPod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

/// `podutil.IsPodTerminal`.
fn is_terminal(pod: &CachedPod) -> bool {
    matches!(phase(pod), "Failed" | "Succeeded")
}

/// `podByCreationTimestampAndPhase`: scheduled first, then older first, then by name.
fn oldest_first(a: &CachedPod, b: &CachedPod) -> Ordering {
    let scheduled = |p: &CachedPod| {
        p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty())
    };
    let created = |p: &CachedPod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    scheduled(b)
        .cmp(&scheduled(a))
        .then_with(|| created(a).cmp(&created(b)))
        .then_with(|| name_of(&a.metadata).cmp(name_of(&b.metadata)))
}

// === the failed-pod backoff ===

/// The per-node backoff of failed-pod deletions (client-go's `flowcontrol.Backoff`, without
/// jitter): keyed `<uid>/<observedGeneration>/<node>`, 1 s doubling to 15 min, forgotten
/// after twice the maximum without a failure.
#[derive(Debug, Default)]
pub(crate) struct FailedPodBackoff {
    entries: HashMap<String, (Duration, Instant)>,
}

impl FailedPodBackoff {
    /// `IsInBackOffSinceUpdate`: how long the key still waits, if it does.
    pub(crate) fn remaining(&self, key: &str, now: Instant) -> Option<Duration> {
        let (backoff, updated) = self.entries.get(key)?;
        let since = now.saturating_duration_since(*updated);
        if since > FAILED_POD_BACKOFF_MAX * 2 {
            return None;
        }
        backoff.checked_sub(since).filter(|left| !left.is_zero())
    }

    /// `Next`: another failure of the key.
    pub(crate) fn next(&mut self, key: String, now: Instant) {
        let entry = self.entries.entry(key).or_insert((Duration::ZERO, now));
        let expired = now.saturating_duration_since(entry.1) > FAILED_POD_BACKOFF_MAX * 2;
        entry.0 = if entry.0.is_zero() || expired {
            FAILED_POD_BACKOFF
        } else {
            (entry.0 * 2).min(FAILED_POD_BACKOFF_MAX)
        };
        entry.1 = now;
    }

    /// `GC`: forgets the keys that expired.
    pub(crate) fn gc(&mut self, now: Instant) {
        self.entries.retain(|_, (_, updated)| {
            now.saturating_duration_since(*updated) <= FAILED_POD_BACKOFF_MAX * 2
        });
    }
}

/// `failedPodsBackoffKey`.
pub(crate) fn failed_pod_key(ds: &DaemonSet, node: &str) -> String {
    let uid = ds.metadata.uid.as_deref().unwrap_or_default();
    let generation = ds.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0);
    format!("{uid}/{generation}/{node}")
}

// === manage and rolling update ===

/// A pod deletion with the event that announces it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delete {
    pub(crate) pod: PodRef,
    /// `FailedDaemonPod` (a Warning, and a step of the node's backoff) or
    /// `SucceededDaemonPod`, with its message.
    pub(crate) notice: Option<Notice>,
}

/// The event that comes with deleting a finished daemon pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    Failed { message: String, backoff_key: String },
    Succeeded { message: String },
}

/// What `syncNodes` is asked to do by one pass of `manage` or `rollingUpdate`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Writes {
    /// Nodes to create a daemon pod for.
    pub(crate) create: Vec<String>,
    pub(crate) delete: Vec<Delete>,
    /// A failed pod waits for its node's backoff: sync again after this long.
    pub(crate) retry_in: Option<Duration>,
}

impl Writes {
    pub(crate) fn is_empty(&self) -> bool {
        self.create.is_empty() && self.delete.is_empty()
    }

    fn delete(&mut self, pod: &CachedPod) {
        self.delete.push(Delete { pod: PodRef::of(pod), notice: None });
    }
}

/// The update strategy with upstream's defaults filled in (`SetDefaults_DaemonSet`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Strategy {
    OnDelete,
    RollingUpdate { max_unavailable: IntOrString, max_surge: IntOrString },
}

pub(crate) fn strategy(ds: &DaemonSet) -> Strategy {
    let update = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    if update.and_then(|u| u.type_.as_deref()) == Some("OnDelete") {
        return Strategy::OnDelete;
    }
    let rolling = update.and_then(|u| u.rolling_update.as_ref());
    Strategy::RollingUpdate {
        max_unavailable: rolling
            .and_then(|r| r.max_unavailable.clone())
            .unwrap_or(IntOrString::Int(1)),
        max_surge: rolling.and_then(|r| r.max_surge.clone()).unwrap_or(IntOrString::Int(0)),
    }
}

/// `util.SurgeCount` (the `DaemonSetUpdateSurge` gate is GA).
fn surge_count(ds: &DaemonSet, desired: i32) -> Result<i64, String> {
    match strategy(ds) {
        Strategy::OnDelete => Ok(0),
        Strategy::RollingUpdate { max_surge, .. } => scaled_value(&max_surge, desired, true),
    }
}

/// `util.UnavailableCount`.
fn unavailable_count(ds: &DaemonSet, desired: i32) -> Result<i64, String> {
    match strategy(ds) {
        Strategy::OnDelete => Ok(0),
        Strategy::RollingUpdate { max_unavailable, .. } => {
            scaled_value(&max_unavailable, desired, true)
        }
    }
}

/// `util.AllowsSurge`.
fn allows_surge(ds: &DaemonSet) -> bool {
    surge_count(ds, 1).is_ok_and(|surge| surge > 0)
}

fn min_ready_seconds(ds: &DaemonSet) -> i32 {
    ds.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

fn is_available(pod: &CachedPod, ds: &DaemonSet, now: Timestamp) -> bool {
    availability(pod, min_ready_seconds(ds), now).is_ok()
}

/// The clocks a plan reads: the wall clock for pod availability (pod conditions carry wall
/// times) and the monotonic one for the failed-pod backoff.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    pub(crate) wall: Timestamp,
    pub(crate) instant: Instant,
}

/// `manage`: for every node, `podsShouldBeOnNode`; then the unscheduled pods meant for nodes
/// that do not exist.
pub(crate) fn manage(
    ds: &DaemonSet,
    observed: &Observed<'_>,
    claimed: &[&CachedPod],
    hash: &str,
    now: Now,
    backoff: &FailedPodBackoff,
) -> Writes {
    let by_node = pods_by_node(claimed, false);
    let mut writes = Writes::default();
    for node in &observed.nodes {
        pods_should_be_on_node(ds, node, &by_node, hash, now, backoff, &mut writes);
    }
    // `getUnscheduledPodsWithoutNode`.
    for (node, pods) in &by_node {
        if observed.node(node).is_some() {
            continue;
        }
        for pod in pods.iter().filter(|p| {
            p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_none_or(str::is_empty)
        }) {
            writes.delete(pod);
        }
    }
    writes
}

/// `podsShouldBeOnNode`.
fn pods_should_be_on_node(
    ds: &DaemonSet,
    node: &Node,
    by_node: &BTreeMap<&str, Vec<&CachedPod>>,
    hash: &str,
    now: Now,
    backoff: &FailedPodBackoff,
    writes: &mut Writes,
) {
    let node_name = name_of(&node.metadata);
    let placement = node_should_run(ds, node);
    let pods = by_node.get(node_name);
    match (placement, pods) {
        (Placement { should_run: true, .. }, None) => writes.create.push(node_name.to_owned()),
        (Placement { should_continue_running: true, should_run }, Some(pods)) => {
            let mut running: Vec<&CachedPod> = Vec::new();
            for pod in pods.iter().copied().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                let namespace = namespace_of(&pod.metadata);
                let name = name_of(&pod.metadata);
                match phase(pod) {
                    "Failed" => {
                        // The controller often fights a kubelet that rejects its pods: back off.
                        let key = failed_pod_key(ds, node_name);
                        if let Some(wait) = backoff.remaining(&key, now.instant) {
                            writes.retry_in = Some(writes.retry_in.map_or(wait, |r| r.min(wait)));
                            continue;
                        }
                        let message = format!(
                            "Found failed daemon pod {namespace}/{name} on node {node_name}, will try to kill it"
                        );
                        writes.delete.push(Delete {
                            pod: PodRef::of(pod),
                            notice: Some(Notice::Failed { message, backoff_key: key }),
                        });
                    }
                    "Succeeded" => {
                        let message = format!(
                            "Found succeeded daemon pod {namespace}/{name} on node {node_name}, will try to delete it"
                        );
                        writes.delete.push(Delete {
                            pod: PodRef::of(pod),
                            notice: Some(Notice::Succeeded { message }),
                        });
                    }
                    _ => running.push(pod),
                }
            }
            // `pods` are oldest first already.
            if !allows_surge(ds) {
                // Without surge, one pod per node: the oldest stays.
                for pod in running.iter().skip(1) {
                    writes.delete(pod);
                }
                return;
            }
            if running.len() <= 1 {
                if running.is_empty() && should_run {
                    // Surging: at least one pod not being deleted on the node.
                    writes.create.push(node_name.to_owned());
                }
                return;
            }
            // Surging: two pods only while the oldest new one is not available yet and the
            // oldest old one is ready; every other pod goes.
            let (mut oldest_new, mut oldest_old): (Option<&CachedPod>, Option<&CachedPod>) =
                (None, None);
            for pod in running {
                let hash_label =
                    pod.metadata.labels.as_ref().and_then(|l| l.get(REVISION_HASH_LABEL));
                let slot = if hash_label.map(String::as_str) == Some(hash) {
                    &mut oldest_new
                } else {
                    &mut oldest_old
                };
                if slot.is_none() {
                    *slot = Some(pod);
                } else {
                    writes.delete(pod);
                }
            }
            if let (Some(new), Some(old)) = (oldest_new, oldest_old)
                && (!old.is_ready() || is_available(new, ds, now.wall))
            {
                writes.delete(old);
            }
        }
        (Placement { should_continue_running: false, .. }, Some(pods)) => {
            for pod in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                writes.delete(pod);
            }
        }
        _ => {}
    }
}

/// `findUpdatedPodsOnNode`: the node's new and old pod not being deleted, if there is at most
/// one of each.
fn updated_pods_on_node<'a>(
    pods: &[&'a CachedPod],
    hash: &str,
    generation: Option<i64>,
) -> Option<(Option<&'a CachedPod>, Option<&'a CachedPod>)> {
    let (mut new, mut old) = (None, None);
    for pod in pods.iter().copied().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        let slot = if is_updated(pod, hash, generation) { &mut new } else { &mut old };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod);
    }
    Some((new, old))
}

/// `rollingUpdate` (a RollingUpdate set whose `manage` had nothing to do): without surge, the
/// old pods to delete while at most `maxUnavailable` nodes lack an available pod; with surge,
/// the nodes to give a new pod beside an old one (at most `maxSurge` at once) and the old pods
/// whose replacement is available.
pub(crate) fn rolling_update(
    ds: &DaemonSet,
    observed: &Observed<'_>,
    claimed: &[&CachedPod],
    hash: &str,
    now: Timestamp,
) -> Result<Writes, String> {
    let mut by_node = pods_by_node(claimed, false);
    // `updatedDesiredNodeCounts`: every node that wants a pod is a key.
    let mut desired: i32 = 0;
    for node in &observed.nodes {
        if node_should_run(ds, node).should_run {
            desired += 1;
            by_node.entry(name_of(&node.metadata)).or_default();
        }
    }
    let mut max_unavailable = unavailable_count(ds, desired)
        .map_err(|e| format!("invalid value for MaxUnavailable: {e}"))?;
    let max_surge =
        surge_count(ds, desired).map_err(|e| format!("invalid value for MaxSurge: {e}"))?;
    if desired > 0 && max_unavailable == 0 && max_surge == 0 {
        max_unavailable = 1;
    }
    let generation = template_generation(ds);
    let available = |pod: &CachedPod| is_available(pod, ds, now);
    let mut writes = Writes::default();

    if max_surge == 0 {
        let mut unavailable: i64 = 0;
        let mut replacements: Vec<&CachedPod> = Vec::new();
        let mut candidates: Vec<&CachedPod> = Vec::new();
        for pods in by_node.values() {
            let Some((new, old)) = updated_pods_on_node(pods, hash, generation) else {
                // Excess pods: `manage` prunes them; the node counts as unavailable.
                unavailable += 1;
                continue;
            };
            match (new, old) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(new), None) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                (None, Some(old)) => {
                    if !available(old) {
                        replacements.push(old);
                        unavailable += 1;
                    } else if unavailable < max_unavailable {
                        candidates.push(old);
                    }
                }
            }
        }
        let remaining = usize::try_from((max_unavailable - unavailable).max(0)).unwrap_or(0);
        for pod in replacements.into_iter().chain(candidates.into_iter().take(remaining)) {
            writes.delete(pod);
        }
        return Ok(writes);
    }

    let mut should_not_run: Vec<&CachedPod> = Vec::new();
    let mut candidate_nodes: Vec<&str> = Vec::new();
    let mut allowed_nodes: Vec<&str> = Vec::new();
    let mut surging: i64 = 0;
    let mut available_count: i32 = 0;
    for (node_name, pods) in &by_node {
        let Some((new, old)) = updated_pods_on_node(pods, hash, generation) else {
            surging += 1;
            continue;
        };
        if let Some(pod) = old.or(new)
            && available(pod)
        {
            available_count += 1;
        }
        let should_run =
            || observed.node(node_name).is_some_and(|node| node_should_run(ds, node).should_run);
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) => {
                if !available(old) {
                    if should_run() {
                        allowed_nodes.push(node_name);
                    } else {
                        writes.delete(old);
                    }
                } else if !should_run() {
                    should_not_run.push(old);
                } else if surging < max_surge {
                    candidate_nodes.push(node_name);
                }
            }
            (Some(new), Some(old)) => {
                if available(new) {
                    writes.delete(old);
                } else {
                    surging += 1;
                }
            }
        }
    }
    // With surge the owner expects full availability: a pod on a node that no longer wants
    // one goes only once enough pods are available elsewhere.
    let deletable = usize::try_from((available_count - desired).max(0)).unwrap_or(0);
    for pod in should_not_run.into_iter().take(deletable) {
        writes.delete(pod);
    }
    let remaining = usize::try_from((max_surge - surging).max(0)).unwrap_or(0);
    writes.create = allowed_nodes
        .into_iter()
        .chain(candidate_nodes.into_iter().take(remaining))
        .map(str::to_owned)
        .collect();
    Ok(writes)
}

// === status ===

/// What [`status`] decides.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusPlan {
    /// The status to write, unless the set has it.
    pub(crate) status: Option<DaemonSetStatus>,
    /// When a ready pod becomes available, and the set must be synced again.
    pub(crate) recheck: Option<Timestamp>,
}

/// `updateDaemonSetStatus` with `storeDaemonSetStatus`'s up-to-date check: per node that
/// should run a pod, its oldest pod counts as scheduled, ready, available and updated; a node
/// that should not run one but has one is misscheduled.
pub(crate) fn status(
    ds: &DaemonSet,
    observed: &Observed<'_>,
    claimed: &[&CachedPod],
    hash: &str,
    now: Timestamp,
) -> StatusPlan {
    let by_node = pods_by_node(claimed, false);
    let generation = template_generation(ds);
    let (mut desired, mut current, mut misscheduled, mut ready, mut updated, mut available) =
        (0i32, 0i32, 0i32, 0i32, 0i32, 0i32);
    let mut recheck: Option<Timestamp> = None;
    for node in &observed.nodes {
        let pods = by_node.get(name_of(&node.metadata)).filter(|p| !p.is_empty());
        if !node_should_run(ds, node).should_run {
            if pods.is_some() {
                misscheduled += 1;
            }
            continue;
        }
        desired += 1;
        let Some(pod) = pods.and_then(|p| p.first()) else { continue };
        current += 1;
        if pod.is_ready() {
            ready += 1;
            match availability(pod, min_ready_seconds(ds), now) {
                Ok(()) => available += 1,
                Err(Some(at)) => recheck = Some(recheck.map_or(at, |r| r.min(at))),
                Err(None) => {}
            }
        }
        if is_updated(pod, hash, generation) {
            updated += 1;
        }
    }
    let unavailable = desired - available;
    let current_status = ds.status.clone().unwrap_or_default();
    let generation_of_set = ds.metadata.generation.unwrap_or(0);
    let up_to_date = current_status.desired_number_scheduled == desired
        && current_status.current_number_scheduled == current
        && current_status.number_misscheduled == misscheduled
        && current_status.number_ready == ready
        && current_status.updated_number_scheduled.unwrap_or(0) == updated
        && current_status.number_available.unwrap_or(0) == available
        && current_status.number_unavailable.unwrap_or(0) == unavailable
        && current_status.observed_generation.unwrap_or(0) >= generation_of_set;
    let mut new = current_status;
    new.observed_generation =
        Some(generation_of_set).filter(|g| *g != 0).or(new.observed_generation);
    new.desired_number_scheduled = desired;
    new.current_number_scheduled = current;
    new.number_misscheduled = misscheduled;
    new.number_ready = ready;
    // Go's `omitempty`.
    new.updated_number_scheduled = non_zero(updated);
    new.number_available = non_zero(available);
    new.number_unavailable = non_zero(unavailable);
    StatusPlan { status: (!up_to_date).then_some(new), recheck }
}

// === one sync ===

/// What one sync of a set's pods writes, in order: claims, then `syncNodes`, then the status.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub(crate) claims: Claims<'a>,
    /// `manage`'s writes, or when it has none and the set rolls, `rollingUpdate`'s.
    pub(crate) writes: Writes,
    /// A `rollingUpdate` that cannot be computed (a bad `maxSurge` or `maxUnavailable`).
    pub(crate) error: Option<String>,
    pub(crate) status: StatusPlan,
}

/// `syncDaemonSet` after `constructHistory`, as a pure function of the set (not being
/// deleted), what is observed, the current revision's `hash` and the time. Upstream rolls only
/// when the expectations of `manage`'s writes are met, that is when `manage` wrote nothing.
pub(crate) fn plan<'a>(
    ds: &DaemonSet,
    observed: &Observed<'a>,
    hash: &str,
    now: Now,
    backoff: &FailedPodBackoff,
) -> Plan<'a> {
    let claims = claim(ds, observed);
    let mut writes = manage(ds, observed, &claims.claimed, hash, now, backoff);
    let mut error = None;
    if writes.is_empty() && matches!(strategy(ds), Strategy::RollingUpdate { .. }) {
        match rolling_update(ds, observed, &claims.claimed, hash, now.wall) {
            Ok(rolling) => {
                writes.create = rolling.create;
                writes.delete = rolling.delete;
            }
            Err(message) => error = Some(message),
        }
    }
    let status = status(ds, observed, &claims.claimed, hash, now.wall);
    Plan { claims, writes, error, status }
}

#[cfg(test)]
mod tests;
