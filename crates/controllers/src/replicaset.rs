//! The ReplicaSet controller (kube-controller-manager's `replicaset-controller`, v1.33:
//! pkg/controller/replicaset/replica_set.go and replica_set_utils.go, with
//! pkg/controller/controller_utils.go's `ActivePodsWithRanks` and controller_ref_manager.go's
//! `ClaimPods`): a ReplicaSet's pods, as many as `spec.replicas` asks, and its status.
//!
//! [`plan`] is upstream's `syncReplicaSet` up to the writes, as a pure function of the set,
//! what is observed and the time: the set's pods are the active ones (not Succeeded or Failed,
//! not being deleted) of its namespace that it controls and its selector matches, plus the
//! orphans the selector matches (adopted: a controller reference patched in); pods it controls
//! whose labels no longer match are released (the reference patched out). A set being deleted
//! neither adopts nor releases, nor creates or deletes. With too few pods the plan creates
//! `replicas − pods` (at most [`BURST_REPLICAS`]) from the template; with too many it deletes
//! the surplus, ranked by `getPodsToDelete` ([`ranked_for_deletion`]: unscheduled first, then
//! pending before unknown before running, not ready before ready, lower
//! `controller.kubernetes.io/pod-deletion-cost`, more pods of the same owner on the node,
//! ready for less time, more restarts, newer — times on upstream's logarithmic scale).
//! [`status`] is `calculateStatus`: `replicas`, `fullyLabeledReplicas`, `readyReplicas`,
//! `availableReplicas` (Ready for `minReadySeconds`, by the Ready condition's transition time)
//! and the `ReplicaFailure` condition while creates or deletes fail; it is written (PUT
//! `…/status`, one retry on a conflict) only when `updateReplicaSetStatus` would.
//!
//! The loop ([`run`], a [`WorkLoop`]) syncs every set on any change of sets or pods and every
//! [`cache::RESYNC`], a set when one of its pods becomes available, and a set whose sync
//! failed after its backoff. Creates go in `slowStartBatch` batches (1, 2, 4, …) and stop at
//! the first failure; deletes go at once. Like upstream's expectations, a pass waits until the
//! shared caches show its writes (created pods, deleted pods, patched pods, status), so the next
//! plan cannot create the same pods again. Events are upstream's `SuccessfulCreate`,
//! `FailedCreate`, `SuccessfulDelete` and `FailedDelete`.
//!
//! Left out versus upstream:
//! - ReplicationControllers (the same code upstream), which berth does not serve.
//! - The alpha `DeploymentReplicaSetTerminatingReplicas` gate (`status.terminatingReplicas`),
//!   off by default in v1.33.
//! - Per-object event handlers: any change of sets or pods queues every set (one worker syncs
//!   the queued sets in a pass from one index of the pods), not only the sets it concerns.
//! - Metrics (`SortingDeletionAgeRatio`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use tracing::Instrument;

use crate::cache;
use crate::cache::workloop::{self, Expect, WorkLoop};
use crate::cached_pod::CachedPod;
use crate::informer::Cached;
use crate::meta::{
    api_message, controller_of, name_of, namespace_of, non_zero, reference_to, selects, status_code,
};
use crate::{Context, EventType, Recorder};

/// `BurstReplicas`: at most this many pods are created or deleted by one sync.
pub(crate) const BURST_REPLICAS: usize = 500;

/// `apps.ReplicaSetReplicaFailure`.
pub(crate) const REPLICA_FAILURE: &str = "ReplicaFailure";

/// `controller.kubernetes.io/pod-deletion-cost` (the `PodDeletionCost` gate, on by default).
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// `source.component` of the events.
const COMPONENT: &str = "replicaset-controller";

/// The controller reads the whole set, its pod template included: only managedFields go.
impl Cached for ReplicaSet {}

/// A pod a plan names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodRef {
    pub(crate) name: String,
    pub(crate) uid: String,
}

impl PodRef {
    fn of(pod: &CachedPod) -> PodRef {
        PodRef {
            name: name_of(&pod.metadata).to_owned(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        }
    }
}

/// `manageReplicas`: what to do about the number of pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Manage {
    Nothing,
    /// Create this many pods from the template.
    Create(usize),
    /// Delete these pods, the first ones first.
    Delete(Vec<PodRef>),
}

/// What one sync of a set writes, before its status.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// Orphans to adopt.
    pub(crate) adopt: Vec<PodRef>,
    /// Pods the set controls that its selector no longer matches.
    pub(crate) release: Vec<PodRef>,
    /// The set's pods once the adoptions are done (upstream's `filteredPods`).
    pub(crate) claimed: Vec<&'a CachedPod>,
    pub(crate) manage: Manage,
}

/// What the plans read, indexed once a pass: active pods by the uid of their controller,
/// active orphans and all active pods by namespace, sets by the uid of their controller.
#[derive(Debug, Default)]
pub(crate) struct Observed<'a> {
    by_controller: HashMap<&'a str, Vec<&'a CachedPod>>,
    orphans: HashMap<&'a str, Vec<&'a CachedPod>>,
    active: HashMap<&'a str, Vec<&'a CachedPod>>,
    sets_by_controller: HashMap<&'a str, Vec<&'a ReplicaSet>>,
}

impl<'a> Observed<'a> {
    pub(crate) fn new(pods: &'a [Arc<CachedPod>], sets: &'a [Arc<ReplicaSet>]) -> Observed<'a> {
        let mut observed = Observed::default();
        for pod in pods.iter().filter(|p| is_active(p)) {
            let namespace = namespace_of(&pod.metadata);
            observed.active.entry(namespace).or_default().push(pod);
            match controller_of(&pod.metadata) {
                Some(owner) => observed.by_controller.entry(&owner.uid).or_default().push(pod),
                None => observed.orphans.entry(namespace).or_default().push(pod),
            }
        }
        for set in sets {
            if let Some(owner) = controller_of(&set.metadata) {
                observed.sets_by_controller.entry(&owner.uid).or_default().push(set);
            }
        }
        observed
    }
}

/// `controller.IsPodActive`.
fn is_active(pod: &CachedPod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed")) && pod.metadata.deletion_timestamp.is_none()
}

/// `syncReplicaSet` up to the writes: which pods the set claims, adopts and releases, and
/// what `manageReplicas` does at `now`.
pub(crate) fn plan<'a>(set: &ReplicaSet, observed: &Observed<'a>, now: Timestamp) -> Plan<'a> {
    let namespace = namespace_of(&set.metadata);
    let uid = set.metadata.uid.as_deref().unwrap_or_default();
    let deleting = set.metadata.deletion_timestamp.is_some();
    let selector = set.spec.as_ref().map(|s| &s.selector);
    // `LabelSelectorAsSelector(nil)` selects nothing.
    let matches =
        |pod: &CachedPod| selector.is_some_and(|s| selects(Some(s), pod.metadata.labels.as_ref()));
    let mut plan = Plan {
        adopt: Vec::new(),
        release: Vec::new(),
        claimed: Vec::new(),
        manage: Manage::Nothing,
    };
    // ClaimPods: the owned pods that match are kept, those that do not are released (unless
    // the set is being deleted); matching orphans are adopted (unless it is).
    let owned = observed.by_controller.get(uid).map(Vec::as_slice).unwrap_or_default();
    for pod in owned.iter().copied().filter(|p| namespace_of(&p.metadata) == namespace) {
        if matches(pod) {
            plan.claimed.push(pod);
        } else if !deleting {
            plan.release.push(PodRef::of(pod));
        }
    }
    if !deleting {
        let orphans = observed.orphans.get(namespace).map(Vec::as_slice).unwrap_or_default();
        for pod in orphans.iter().copied().filter(|p| matches(p)) {
            plan.adopt.push(PodRef::of(pod));
            plan.claimed.push(pod);
        }
        plan.manage = manage(set, &plan.claimed, observed, now);
    }
    plan
}

/// `manageReplicas`: how many pods to create, or which to delete.
fn manage(
    set: &ReplicaSet,
    claimed: &[&CachedPod],
    observed: &Observed<'_>,
    now: Timestamp,
) -> Manage {
    let replicas = usize::try_from(replicas_of(set)).unwrap_or(0);
    if claimed.len() < replicas {
        return Manage::Create((replicas - claimed.len()).min(BURST_REPLICAS));
    }
    if claimed.len() > replicas {
        let diff = (claimed.len() - replicas).min(BURST_REPLICAS);
        let related = related_pods(set, observed);
        let ranked = ranked_for_deletion(claimed, &related, diff, now);
        return Manage::Delete(ranked.into_iter().map(PodRef::of).collect());
    }
    Manage::Nothing
}

/// `slowStartBatch`'s batch sizes for `count` calls: 1, 2, 4, … and what remains.
pub(crate) fn slow_start_batches(count: usize) -> Vec<usize> {
    let mut batches = Vec::new();
    let mut remaining = count;
    let mut size = remaining.min(1);
    while size > 0 {
        batches.push(size);
        remaining -= size;
        size = (2 * size).min(remaining);
    }
    batches
}

fn replicas_of(set: &ReplicaSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `getIndirectlyRelatedPods`: the active pods of the sets with the same controller as this
/// one, each once (none when the set has no controller).
fn related_pods<'a>(set: &ReplicaSet, observed: &Observed<'a>) -> Vec<&'a CachedPod> {
    let Some(owner) = controller_of(&set.metadata) else { return Vec::new() };
    let namespace = namespace_of(&set.metadata);
    let sets = observed.sets_by_controller.get(owner.uid.as_str()).map(Vec::as_slice);
    let pods = observed.active.get(namespace).map(Vec::as_slice).unwrap_or_default();
    let mut seen = HashSet::new();
    let mut related = Vec::new();
    for related_set in sets.unwrap_or_default() {
        if namespace_of(&related_set.metadata) != namespace {
            continue;
        }
        let Some(spec) = related_set.spec.as_ref() else { continue };
        for pod in pods {
            if selects(Some(&spec.selector), pod.metadata.labels.as_ref())
                && seen.insert(pod.metadata.uid.as_deref().unwrap_or_default())
            {
                related.push(*pod);
            }
        }
    }
    related
}

/// `getPodsToDelete`: the first `diff` of `pods` in upstream's deletion order, each ranked by
/// how many `related` pods share its node (`getPodsRankedByRelatedPodsOnSameNode`).
pub(crate) fn ranked_for_deletion<'a>(
    pods: &[&'a CachedPod],
    related: &[&CachedPod],
    diff: usize,
    now: Timestamp,
) -> Vec<&'a CachedPod> {
    if diff >= pods.len() {
        return pods.to_vec();
    }
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for pod in related.iter().filter(|p| is_active(p)) {
        *on_node.entry(node_of(pod)).or_default() += 1;
    }
    let mut ranked: Vec<(&CachedPod, usize)> =
        pods.iter().map(|p| (*p, on_node.get(node_of(p)).copied().unwrap_or(0))).collect();
    // Upstream's order is a `Less`, not always a total order (its time clauses mix exact
    // equality with logarithmic buckets), which `sort_by` may reject: a merge sort on `Less`.
    merge_sort(&mut ranked, &|a, b| less(a, b, now));
    ranked.into_iter().take(diff).map(|(pod, _)| pod).collect()
}

fn node_of(pod: &CachedPod) -> &str {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default()
}

/// A stable merge sort by a "comes before" predicate.
fn merge_sort<T: Copy>(items: &mut [T], before: &impl Fn(&T, &T) -> bool) {
    if items.len() < 2 {
        return;
    }
    let middle = items.len() / 2;
    merge_sort(&mut items[..middle], before);
    merge_sort(&mut items[middle..], before);
    let (left, right) = (items[..middle].to_vec(), items[middle..].to_vec());
    let (mut i, mut j) = (0, 0);
    for slot in items.iter_mut() {
        let take_right = i == left.len() || (j < right.len() && before(&right[j], &left[i]));
        if take_right {
            *slot = right[j];
            j += 1;
        } else {
            *slot = left[i];
            i += 1;
        }
    }
}

/// `ActivePodsWithRanks.Less`: whether `a` should be deleted before `b`.
fn less(a: &(&CachedPod, usize), b: &(&CachedPod, usize), now: Timestamp) -> bool {
    let ((a, rank_a), (b, rank_b)) = (*a, *b);
    // 1. Unassigned < assigned.
    let (node_a, node_b) = (node_of(a), node_of(b));
    if node_a != node_b && (node_a.is_empty() || node_b.is_empty()) {
        return node_a.is_empty();
    }
    // 2. Pending < Unknown < Running.
    let (phase_a, phase_b) = (phase_ordinal(a), phase_ordinal(b));
    if phase_a != phase_b {
        return phase_a < phase_b;
    }
    // 3. Not ready < ready.
    let (ready_a, ready_b) = (a.is_ready(), b.is_ready());
    if ready_a != ready_b {
        return !ready_a;
    }
    // 4. Lower pod-deletion-cost < higher.
    let (cost_a, cost_b) = (deletion_cost(a), deletion_cost(b));
    if cost_a != cost_b {
        return cost_a < cost_b;
    }
    // 5. Doubled up < not doubled up.
    if rank_a != rank_b {
        return rank_a > rank_b;
    }
    // 6. Ready for a shorter time < longer (LogarithmicScaleDown, on by default).
    if ready_a && ready_b {
        let (time_a, time_b) = (ready_time(a), ready_time(b));
        if time_a != time_b {
            return later_on_log_scale(time_a, time_b, a, b, now);
        }
    }
    // 7. More restarts < fewer.
    let (restarts_a, restarts_b) = (max_restarts(a), max_restarts(b));
    if restarts_a != restarts_b {
        return restarts_a > restarts_b;
    }
    // 8. Newer < older.
    let created = |p: &CachedPod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let (created_a, created_b) = (created(a), created(b));
    if created_a != created_b {
        return later_on_log_scale(created_a, created_b, a, b, now);
    }
    false
}

/// `afterOrZero`, or on the logarithmic scale of the time since each (`logarithmicRankDiff`),
/// equal buckets ordered by uid.
fn later_on_log_scale(
    a: Option<Timestamp>,
    b: Option<Timestamp>,
    pod_a: &CachedPod,
    pod_b: &CachedPod,
    now: Timestamp,
) -> bool {
    let (Some(a), Some(b)) = (a, b) else { return a.is_none() };
    let bucket = |t: Timestamp| {
        let nanos = now.duration_since(t).as_nanos();
        if nanos > 0 { (nanos as f64).log2() as i64 } else { -1 }
    };
    let diff = bucket(a) - bucket(b);
    if diff == 0 {
        return pod_a.metadata.uid < pod_b.metadata.uid;
    }
    diff < 0
}

/// `podPhaseToOrdinal`: Pending 0, Unknown 1, Running 2 (anything else 0).
pub(crate) fn phase_ordinal(pod: &CachedPod) -> u8 {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

/// `helper.GetDeletionCostFromPodAnnotations` (an unparsable cost counts as 0).
fn deletion_cost(pod: &CachedPod) -> i32 {
    let annotations = pod.metadata.annotations.as_ref();
    annotations.and_then(|a| a.get(DELETION_COST)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// `podReadyTime`: when a ready pod became ready.
pub(crate) fn ready_time(pod: &CachedPod) -> Option<Timestamp> {
    pod.ready_condition().filter(|c| c.status == "True")?.last_transition_time.as_ref().map(|t| t.0)
}

/// `maxContainerRestarts`.
pub(crate) fn max_restarts(pod: &CachedPod) -> i32 {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    statuses.into_iter().flatten().map(|c| c.restart_count).max().unwrap_or(0).max(0)
}

/// `podutil.IsPodAvailable`: ready, and for more than `min_ready_seconds`; else, when it will
/// be (`Err`), if it is ready at all.
pub(crate) fn availability(
    pod: &CachedPod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Result<(), Option<Timestamp>> {
    if !pod.is_ready() {
        return Err(None);
    }
    if min_ready_seconds <= 0 {
        return Ok(());
    }
    let Some(since) = ready_time(pod) else { return Err(None) };
    let at = since.checked_add(SignedDuration::from_secs(i64::from(min_ready_seconds)));
    let at = at.unwrap_or(Timestamp::MAX);
    if at < now { Ok(()) } else { Err(Some(at)) }
}

/// A failed create or delete of the last `manageReplicas`: its error message.
pub(crate) type ManageError<'a> = Option<&'a str>;

/// What [`status`] decides.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusPlan {
    /// The status to write, unless the set has it.
    pub(crate) status: Option<ReplicaSetStatus>,
    /// When a ready pod becomes available, and the set must be planned again.
    pub(crate) recheck: Option<Timestamp>,
}

/// `calculateStatus` and `updateReplicaSetStatus`'s up-to-date check.
pub(crate) fn status(
    set: &ReplicaSet,
    claimed: &[&CachedPod],
    error: ManageError<'_>,
    now: Timestamp,
) -> StatusPlan {
    let spec = set.spec.as_ref();
    let template_labels = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.as_ref());
    let min_ready_seconds = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let (mut fully_labeled, mut ready, mut available) = (0i32, 0i32, 0i32);
    let mut recheck: Option<Timestamp> = None;
    for pod in claimed {
        let labels = pod.metadata.labels.as_ref();
        if template_labels
            .into_iter()
            .flatten()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            fully_labeled += 1;
        }
        if pod.is_ready() {
            ready += 1;
            match availability(pod, min_ready_seconds, now) {
                Ok(()) => available += 1,
                Err(Some(at)) => recheck = Some(recheck.map_or(at, |r| r.min(at))),
                Err(None) => {}
            }
        }
    }
    let current = set.status.clone().unwrap_or_default();
    let mut new = current.clone();
    let failing = current.conditions.iter().flatten().any(|c| c.type_ == REPLICA_FAILURE);
    match error {
        Some(message) if !failing => {
            let diff = claimed.len() as i64 - i64::from(replicas_of(set));
            let reason = match diff {
                ..0 => "FailedCreate",
                1.. => "FailedDelete",
                0 => "",
            };
            // Times are written to the second: keep planned and stored conditions comparable.
            let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
            new.conditions.get_or_insert_default().push(ReplicaSetCondition {
                type_: REPLICA_FAILURE.to_owned(),
                status: "True".to_owned(),
                reason: Some(reason.to_owned()),
                message: Some(message.to_owned()),
                last_transition_time: Some(Time(now)),
            });
        }
        None if failing => {
            new.conditions = new
                .conditions
                .map(|c| c.into_iter().filter(|c| c.type_ != REPLICA_FAILURE).collect());
            new.conditions = new.conditions.filter(|c| !c.is_empty());
        }
        _ => {}
    }
    new.replicas = claimed.len() as i32;
    new.fully_labeled_replicas = non_zero(fully_labeled);
    new.ready_replicas = non_zero(ready);
    new.available_replicas = non_zero(available);
    new.terminating_replicas = None;
    let generation = set.metadata.generation.unwrap_or(0);
    let up_to_date = current.replicas == new.replicas
        && current.fully_labeled_replicas.unwrap_or(0) == fully_labeled
        && current.ready_replicas.unwrap_or(0) == ready
        && current.available_replicas.unwrap_or(0) == available
        && current.terminating_replicas == new.terminating_replicas
        && current.observed_generation.unwrap_or(0) == generation
        && current.conditions.clone().unwrap_or_default()
            == new.conditions.clone().unwrap_or_default();
    new.observed_generation = (generation != 0).then_some(generation);
    StatusPlan { status: (!up_to_date).then_some(new), recheck }
}

/// `controller.GetPodFromTemplate` with `metav1.NewControllerRef`: a pod of the set, named
/// by the API server from `<set>-`.
pub(crate) fn pod_from_template(set: &ReplicaSet) -> Pod {
    let name = name_of(&set.metadata);
    let template: PodTemplateSpec =
        set.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default();
    let template_meta = template.metadata.unwrap_or_default();
    // `getPodsPrefix`: the dash only when the prefix is still a valid name.
    let prefix = if name.len() < 253 { format!("{name}-") } else { name.to_owned() };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: set.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![controller_ref(set)]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// `metav1.NewControllerRef(set, apps/v1 ReplicaSet)`.
fn controller_ref(set: &ReplicaSet) -> OwnerReference {
    crate::meta::new_controller_ref(set)
}

fn key_of(set: &ReplicaSet) -> String {
    format!("{}/{}", namespace_of(&set.metadata), name_of(&set.metadata))
}

// === the loop ===

/// Why one set's sync failed; it is synced again after a backoff.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot {action} pod {namespace}/{name}")]
    Pod {
        action: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot {action} replicaset {key}")]
    Set {
        action: &'static str,
        key: String,
        #[source]
        source: kube::Error,
    },
    #[error("replicaset {key} has just been deleted or replaced: its orphans are not adopted")]
    Gone { key: String },
}

/// The caches whose writes a pass expects to see.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Pod,
    Set,
}

/// The ReplicaSet controller: never returns.
pub(crate) async fn run(cx: Context) {
    let mut work = WorkLoop::new(COMPONENT);
    let sets = work.cache::<ReplicaSet>(&cx.informers);
    let pods = work.cache::<CachedPod>(&cx.informers);
    sets.wait_until_ready().await;
    pods.wait_until_ready().await;
    let client = cx.client.clone();
    let recorder = Recorder::new(client.clone(), COMPONENT, None);
    loop {
        let all = sets.state();
        let pass = work.pass(all.iter().map(|s| key_of(s)));
        if !pass.keys.is_empty() {
            let by_key: HashMap<String, &ReplicaSet> =
                all.iter().map(|s| (key_of(s), &**s)).collect();
            let pod_list = pods.state();
            let observed = Observed::new(&pod_list, &all);
            let mut expected: Vec<Expect<Kind>> = Vec::new();
            for key in pass.keys {
                let set = by_key[&key];
                let span = tracing::debug_span!("sync replicaset", object.ref = %key);
                let result =
                    sync(&client, &recorder, set, &observed, &mut expected).instrument(span).await;
                // Planned again just after a pod becomes available.
                work.done(key, result.map(|recheck| recheck.map(workloop::just_after)));
            }
            drop(observed);
            // The next pass must see what was written, or it would create the same pods again.
            work.caught_up(|| {
                expected.iter().all(|e| match e.kind {
                    Kind::Pod => e.shown_by(&pods),
                    Kind::Set => e.shown_by(&sets),
                })
            })
            .await;
        }
        work.wait().await;
    }
}

/// One set's sync: claim, manage, status. Returns when a pod becomes available.
async fn sync(
    client: &kube::Client,
    recorder: &Recorder,
    set: &ReplicaSet,
    observed: &Observed<'_>,
    expected: &mut Vec<Expect<Kind>>,
) -> Result<Option<Timestamp>, Error> {
    let namespace = namespace_of(&set.metadata).to_owned();
    let key = key_of(set);
    let plan = plan(set, observed, Timestamp::now());
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);

    // Claim.
    let mut vanished = false;
    if !plan.adopt.is_empty() {
        // `RecheckDeletionTimestamp`: an uncached read before adopting.
        let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &namespace);
        let fresh = sets.get(name_of(&set.metadata)).await.map_err(|source| Error::Set {
            action: "read",
            key: key.clone(),
            source,
        })?;
        if fresh.metadata.uid != set.metadata.uid || fresh.metadata.deletion_timestamp.is_some() {
            return Err(Error::Gone { key });
        }
        let reference = controller_ref(set);
        for pod in &plan.adopt {
            // `ownerRefControllerPatch`: the uid makes it a precondition on the pod.
            let patch = serde_json::json!({
                "metadata": { "ownerReferences": [reference], "uid": pod.uid }
            });
            tracing::info!(pod = %pod.name, "adopting pod");
            match pods.patch(&pod.name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
                Ok(written) => expected.push(Expect::at(
                    Kind::Pod,
                    namespace.clone(),
                    pod.name.clone(),
                    cache::revision_of(&written.metadata),
                )),
                Err(error) if status_code(&error) == Some(404) => vanished = true,
                Err(source) => {
                    return Err(Error::Pod {
                        action: "adopt",
                        namespace,
                        name: pod.name.clone(),
                        source,
                    });
                }
            }
        }
    }
    let set_uid = set.metadata.uid.clone().unwrap_or_default();
    for pod in &plan.release {
        // `deleteOwnerRefStrategicMergePatch`.
        let patch = serde_json::json!({
            "metadata": { "ownerReferences": [{ "$patch": "delete", "uid": set_uid }], "uid": pod.uid }
        });
        tracing::info!(pod = %pod.name, "releasing pod");
        match pods.patch(&pod.name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
            Ok(written) => expected.push(Expect::at(
                Kind::Pod,
                namespace.clone(),
                pod.name.clone(),
                cache::revision_of(&written.metadata),
            )),
            // Gone, or no longer ours: nothing to release.
            Err(error) if matches!(status_code(&error), Some(404 | 422)) => {}
            Err(source) => {
                return Err(Error::Pod {
                    action: "release",
                    namespace,
                    name: pod.name.clone(),
                    source,
                });
            }
        }
    }
    if vanished {
        // An orphan went away while being adopted: plan again from what the caches show.
        return Ok(None);
    }

    // Manage.
    let object = reference_to(set);
    let mut failure: Option<Error> = None;
    match &plan.manage {
        Manage::Nothing => {}
        Manage::Create(count) => {
            tracing::debug!(creating = count, "too few replicas");
            let template = pod_from_template(set);
            let pp = PostParams::default();
            for size in slow_start_batches(*count) {
                if failure.is_some() {
                    break;
                }
                let creates = (0..size).map(|_| pods.create(&pp, &template));
                for result in futures::future::join_all(creates).await {
                    match result {
                        Ok(pod) => {
                            let name = name_of(&pod.metadata).to_owned();
                            recorder.record(
                                &object,
                                EventType::Normal,
                                "SuccessfulCreate",
                                format!("Created pod: {name}"),
                            );
                            expected.push(Expect::created(Kind::Pod, namespace.clone(), name));
                        }
                        // The namespace is going away: no create can succeed, nor is needed.
                        Err(error) if namespace_terminating(&error) => {}
                        Err(source) => {
                            let message = format!("Error creating: {}", api_message(&source));
                            recorder.record(&object, EventType::Warning, "FailedCreate", message);
                            if failure.is_none() {
                                failure = Some(Error::Pod {
                                    action: "create",
                                    namespace: namespace.clone(),
                                    name: template
                                        .metadata
                                        .generate_name
                                        .clone()
                                        .unwrap_or_default(),
                                    source,
                                });
                            }
                        }
                    }
                }
            }
        }
        Manage::Delete(victims) => {
            tracing::debug!(deleting = victims.len(), "too many replicas");
            let deletes = victims.iter().map(|pod| {
                let params = DeleteParams::default().preconditions(Preconditions {
                    uid: Some(pod.uid.clone()),
                    resource_version: None,
                });
                let pods = pods.clone();
                async move { (pod, pods.delete(&pod.name, &params).await) }
            });
            for (pod, result) in futures::future::join_all(deletes).await {
                match result {
                    Ok(_) => {
                        recorder.record(
                            &object,
                            EventType::Normal,
                            "SuccessfulDelete",
                            format!("Deleted pod: {}", pod.name),
                        );
                        expected.push(Expect::deleted(
                            Kind::Pod,
                            namespace.clone(),
                            pod.name.clone(),
                            pod.uid.clone(),
                        ));
                    }
                    // Gone already, or replaced by another pod of the same name.
                    Err(error) if matches!(status_code(&error), Some(404 | 409)) => {}
                    Err(source) => {
                        let message = format!("Error deleting: {}", api_message(&source));
                        recorder.record(&object, EventType::Warning, "FailedDelete", message);
                        if failure.is_none() {
                            failure = Some(Error::Pod {
                                action: "delete",
                                namespace: namespace.clone(),
                                name: pod.name.clone(),
                                source,
                            });
                        }
                    }
                }
            }
        }
    }

    // Status.
    let message = failure.as_ref().map(|error| match error {
        Error::Pod { source, .. } => api_message(source),
        other => other.to_string(),
    });
    let planned = status(set, &plan.claimed, message.as_deref(), Timestamp::now());
    if let Some(new) = planned.status {
        write_status(client, set, new, expected).await?;
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(planned.recheck),
    }
}

/// `updateReplicaSetStatus`: PUT `…/status`, once more on a fresh copy after a conflict.
async fn write_status(
    client: &kube::Client,
    set: &ReplicaSet,
    status: ReplicaSetStatus,
    expected: &mut Vec<Expect<Kind>>,
) -> Result<(), Error> {
    let namespace = namespace_of(&set.metadata).to_owned();
    let name = name_of(&set.metadata).to_owned();
    let key = key_of(set);
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), &namespace);
    let mut current = set.clone();
    for attempt in 0..2 {
        // The generation observed stays the planned one, as upstream's.
        current.status = Some(status.clone());
        match api.replace_status(&name, &PostParams::default(), &current).await {
            Ok(written) => {
                expected.push(Expect::at(
                    Kind::Set,
                    namespace,
                    name,
                    cache::revision_of(&written.metadata),
                ));
                return Ok(());
            }
            Err(error) if status_code(&error) == Some(404) => return Ok(()),
            Err(error) if status_code(&error) == Some(409) && attempt == 0 => {
                current = match api.get(&name).await {
                    Ok(fresh) => fresh,
                    Err(error) if status_code(&error) == Some(404) => return Ok(()),
                    Err(source) => return Err(Error::Set { action: "read", key, source }),
                };
            }
            Err(source) => return Err(Error::Set { action: "update the status of", key, source }),
        }
    }
    Ok(())
}

/// Whether a create failed because its namespace is being deleted (`NamespaceTerminatingCause`;
/// kube's error carries no causes, so by the API server's message).
pub(crate) fn namespace_terminating(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 403 && status.message.contains("because it is being terminated"))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn now() -> Timestamp {
        "2026-01-01T00:10:00Z".parse().unwrap()
    }

    fn set(value: Value) -> ReplicaSet {
        let mut base = json!({
            "metadata": { "name": "web", "namespace": "ns", "uid": "rs-uid", "generation": 1 },
            "spec": {
                "replicas": 3,
                "selector": { "matchLabels": { "app": "web" } },
                "template": {
                    "metadata": { "labels": { "app": "web", "tier": "front" } },
                    "spec": { "containers": [{ "name": "c", "image": "nginx" }] },
                },
            },
        });
        merge(&mut base, value);
        serde_json::from_value(base).unwrap()
    }

    fn merge(base: &mut Value, patch: Value) {
        match (base, patch) {
            (Value::Object(base), Value::Object(patch)) => {
                for (key, value) in patch {
                    merge(base.entry(key).or_insert(Value::Null), value);
                }
            }
            (base, patch) => *base = patch,
        }
    }

    /// A pod as the informer keeps it.
    fn pod(name: &str, value: Value) -> Arc<CachedPod> {
        let mut base = json!({
            "metadata": {
                "name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                "labels": { "app": "web", "tier": "front" },
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                      "uid": "rs-uid", "controller": true }],
            },
            "spec": { "nodeName": "n1", "containers": [{ "name": "c" }] },
            "status": { "phase": "Running", "conditions": [
                { "type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:01:00Z" }] },
        });
        merge(&mut base, value);
        let mut pod: CachedPod = serde_json::from_value(base).unwrap();
        pod.prune();
        Arc::new(pod)
    }

    fn names(pods: &[&CachedPod]) -> Vec<String> {
        pods.iter().map(|p| name_of(&p.metadata).to_owned()).collect()
    }

    #[test]
    fn too_few_pods_are_created_up_to_the_burst() {
        let set = set(json!({}));
        let pods = vec![pod("a", json!({}))];
        let sets = vec![Arc::new(set.clone())];
        let observed = Observed::new(&pods, &sets);
        let plan = plan(&set, &observed, now());
        assert_eq!(plan.manage, Manage::Create(2));
        let big = self::set(json!({ "spec": { "replicas": 2000 } }));
        assert_eq!(super::plan(&big, &observed, now()).manage, Manage::Create(BURST_REPLICAS));
    }

    #[test]
    fn creates_go_in_slow_start_batches() {
        assert_eq!(slow_start_batches(0), Vec::<usize>::new());
        assert_eq!(slow_start_batches(1), [1]);
        assert_eq!(slow_start_batches(5), [1, 2, 2]);
        assert_eq!(slow_start_batches(10), [1, 2, 4, 3]);
        assert_eq!(slow_start_batches(BURST_REPLICAS), [1, 2, 4, 8, 16, 32, 64, 128, 245]);
    }

    #[test]
    fn inactive_and_other_sets_pods_do_not_count() {
        let set = set(json!({}));
        let pods = vec![
            pod("done", json!({ "status": { "phase": "Succeeded" } })),
            pod("failed", json!({ "status": { "phase": "Failed" } })),
            pod("going", json!({ "metadata": { "deletionTimestamp": "2026-01-01T00:05:00Z" } })),
            pod(
                "other",
                json!({ "metadata": { "ownerReferences": [{ "apiVersion": "apps/v1",
                "kind": "ReplicaSet", "name": "x", "uid": "x-uid", "controller": true }] } }),
            ),
            pod(
                "elsewhere",
                json!({ "metadata": { "namespace": "other", "ownerReferences": null } }),
            ),
        ];
        let sets = vec![Arc::new(set.clone())];
        let observed = Observed::new(&pods, &sets);
        let plan = plan(&set, &observed, now());
        assert!(plan.claimed.is_empty() && plan.adopt.is_empty() && plan.release.is_empty());
        assert_eq!(plan.manage, Manage::Create(3));
    }

    #[test]
    fn orphans_that_match_are_adopted_and_owned_pods_that_do_not_are_released() {
        let set = set(json!({}));
        let pods = vec![
            pod("owned", json!({})),
            pod("orphan", json!({ "metadata": { "ownerReferences": null } })),
            pod(
                "stranger",
                json!({ "metadata": { "ownerReferences": null,
                                                   "labels": { "app": "db" } } }),
            ),
            pod("relabeled", json!({ "metadata": { "labels": { "app": "db" } } })),
        ];
        let sets = vec![Arc::new(set.clone())];
        let observed = Observed::new(&pods, &sets);
        let plan = plan(&set, &observed, now());
        assert_eq!(plan.adopt, [PodRef { name: "orphan".into(), uid: "uid-orphan".into() }]);
        assert_eq!(
            plan.release,
            [PodRef { name: "relabeled".into(), uid: "uid-relabeled".into() }]
        );
        assert_eq!(names(&plan.claimed), ["owned", "orphan"]);
        assert_eq!(plan.manage, Manage::Create(1));

        // A set being deleted neither adopts, releases, creates nor deletes.
        let deleting =
            self::set(json!({ "metadata": { "deletionTimestamp": "2026-01-01T00:09:00Z" } }));
        let plan = super::plan(&deleting, &observed, now());
        assert!(plan.adopt.is_empty() && plan.release.is_empty());
        assert_eq!(names(&plan.claimed), ["owned"]);
        assert_eq!(plan.manage, Manage::Nothing);
    }

    #[test]
    fn surplus_pods_are_deleted_in_upstream_rank_order() {
        let set = set(json!({ "spec": { "replicas": 1 } }));
        let pods = vec![
            pod("running-old", json!({})),
            pod(
                "unscheduled",
                json!({ "spec": { "nodeName": null },
                                       "status": { "phase": "Pending", "conditions": [] } }),
            ),
            pod("pending", json!({ "status": { "phase": "Pending", "conditions": [] } })),
            pod("unknown", json!({ "status": { "phase": "Unknown" } })),
            pod(
                "not-ready",
                json!({ "status": { "conditions": [
                { "type": "Ready", "status": "False" }] } }),
            ),
            pod(
                "expensive",
                json!({ "metadata": { "annotations": { DELETION_COST: "100" } },
                                     "status": { "conditions": [{ "type": "Ready", "status": "False" }] } }),
            ),
            pod(
                "restarts",
                json!({ "status": { "containerStatuses": [
                { "name": "c", "restartCount": 5, "image": "x", "imageID": "", "ready": true }] } }),
            ),
            pod("newer", json!({ "metadata": { "creationTimestamp": "2026-01-01T00:08:00Z" } })),
            pod(
                "recently-ready",
                json!({ "status": { "conditions": [
                { "type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:09:59Z" }] } }),
            ),
        ];
        let sets = vec![Arc::new(set.clone())];
        let observed = Observed::new(&pods, &sets);
        let plan = plan(&set, &observed, now());
        let Manage::Delete(victims) = plan.manage else { panic!("{:?}", plan.manage) };
        let victims: Vec<&str> = victims.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            victims,
            [
                "unscheduled",
                "pending",
                "unknown",
                "not-ready",
                "expensive",
                "recently-ready",
                "restarts",
                "newer"
            ],
            "the oldest, longest-ready running pod stays"
        );
    }

    #[test]
    fn pods_doubled_up_on_a_node_with_their_siblings_go_first() {
        let owned_by_deployment = json!({ "metadata": { "ownerReferences": [{ "apiVersion": "apps/v1",
            "kind": "Deployment", "name": "d", "uid": "d-uid", "controller": true }] } });
        let set = set(owned_by_deployment.clone());
        let mut sibling = self::set(owned_by_deployment);
        sibling.metadata.name = Some("web-old".into());
        sibling.metadata.uid = Some("old-uid".into());
        sibling.spec.as_mut().unwrap().selector.match_labels =
            Some([("app".to_owned(), "old".to_owned())].into());
        let pods = vec![
            pod("alone", json!({ "spec": { "nodeName": "n1" } })),
            pod("crowded", json!({ "spec": { "nodeName": "n2" } })),
            pod(
                "old",
                json!({ "spec": { "nodeName": "n2" }, "metadata": {
                "labels": { "app": "old" }, "ownerReferences": [{ "apiVersion": "apps/v1",
                "kind": "ReplicaSet", "name": "web-old", "uid": "old-uid", "controller": true }] } }),
            ),
        ];
        let mut one = set.clone();
        one.spec.as_mut().unwrap().replicas = Some(1);
        let sets = vec![Arc::new(one.clone()), Arc::new(sibling)];
        let observed = Observed::new(&pods, &sets);
        let Manage::Delete(victims) = plan(&one, &observed, now()).manage else { panic!() };
        assert_eq!(victims.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["crowded"]);
    }

    #[test]
    fn status_counts_labeled_ready_and_available_pods_after_min_ready_seconds() {
        let set = set(json!({ "spec": { "minReadySeconds": 60 } }));
        let pods = [
            pod("long-ready", json!({})),
            pod(
                "just-ready",
                json!({ "status": { "conditions": [
                { "type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:09:30Z" }] } }),
            ),
            pod(
                "not-ready",
                json!({ "status": { "conditions": [{ "type": "Ready", "status": "False" }] } }),
            ),
            pod("partly-labeled", json!({ "metadata": { "labels": { "tier": "back" } } })),
        ];
        let claimed: Vec<&CachedPod> = pods.iter().map(|p| &**p).collect();
        let planned = status(&set, &claimed, None, now());
        let status = planned.status.expect("a new status");
        assert_eq!(status.replicas, 4);
        assert_eq!(status.fully_labeled_replicas, Some(3));
        assert_eq!(status.ready_replicas, Some(3));
        assert_eq!(status.available_replicas, Some(2));
        assert_eq!(status.observed_generation, Some(1));
        assert_eq!(planned.recheck, Some("2026-01-01T00:10:30Z".parse().unwrap()), "just-ready's");

        // Written once, it is up to date.
        let mut written = set.clone();
        written.status = Some(status);
        assert_eq!(super::status(&written, &claimed, None, now()).status, None);
        // A new generation is observed.
        written.metadata.generation = Some(2);
        let again = super::status(&written, &claimed, None, now()).status.expect("new generation");
        assert_eq!(again.observed_generation, Some(2));
    }

    #[test]
    fn a_failed_create_sets_replica_failure_until_a_sync_succeeds() {
        let set = set(json!({}));
        let pods = [pod("a", json!({}))];
        let claimed: Vec<&CachedPod> = pods.iter().map(|p| &**p).collect();
        let message = "pods \"web-x\" is forbidden: exceeded quota";
        let failed = status(&set, &claimed, Some(message), now()).status.expect("a condition");
        let condition = &failed.conditions.as_ref().unwrap()[0];
        assert_eq!(condition.type_, REPLICA_FAILURE);
        assert_eq!(condition.status, "True");
        assert_eq!(condition.reason.as_deref(), Some("FailedCreate"));
        assert_eq!(condition.message.as_deref(), Some(message));

        let mut failing = set.clone();
        failing.status = Some(failed);
        // Failing again changes nothing; succeeding removes the condition.
        assert_eq!(status(&failing, &claimed, Some("other"), now()).status, None);
        let healed = status(&failing, &claimed, None, now()).status.expect("condition removed");
        assert_eq!(healed.conditions, None);
    }

    #[test]
    fn a_pod_from_the_template_is_controlled_by_the_set() {
        let set = set(json!({}));
        let pod = serde_json::to_value(pod_from_template(&set)).unwrap();
        assert_eq!(pod["metadata"]["generateName"], "web-");
        assert_eq!(pod["metadata"]["namespace"], "ns");
        assert_eq!(pod["metadata"]["labels"], json!({ "app": "web", "tier": "front" }));
        assert_eq!(
            pod["metadata"]["ownerReferences"],
            json!([{ "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-uid",
                     "controller": true, "blockOwnerDeletion": true }])
        );
        assert_eq!(pod["spec"]["containers"][0]["image"], "nginx");
    }

    #[test]
    fn the_cache_keeps_the_template() {
        let mut set = set(json!({ "metadata": { "managedFields": [{ "manager": "kubectl" }] } }));
        set.prune();
        assert!(set.metadata.managed_fields.is_none());
        assert!(set.spec.unwrap().template.is_some());
    }
}
