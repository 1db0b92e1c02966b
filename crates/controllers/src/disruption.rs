//! The disruption controller (kube-controller-manager's `disruption`, v1.33:
//! pkg/controller/disruption/disruption.go, and the `DisruptionAllowed` condition of
//! component-helpers/apps/poddisruptionbudget/helpers.go): the status of every
//! PodDisruptionBudget, which the API server's eviction subresource reads.
//!
//! [`plan`] is upstream's `trySync` → `updatePdbStatus` (or `failSafe` when the sync fails) as
//! a pure function of the budget, what is observed and the time: the budget's pods are those
//! of its namespace its selector matches (`{}` every pod, no selector none); `currentHealthy`
//! counts the Ready ones that are not being deleted and not in `disruptedPods` for less than
//! [`DELETION_TIMEOUT`]; `maxUnavailable` and a percentage `minAvailable` count against the sum
//! of the scales of the pods' controllers (`getExpectedScale`: a Deployment through its
//! ReplicaSet, a ReplicaSet, a StatefulSet, else the scale subresource of the owner's kind),
//! an integer `minAvailable` against the number of pods, neither against nothing (0 allowed).
//! Pods without a controller are left out of the scale, as upstream's "unmanaged pods"; a
//! controller that cannot be found fails the sync, which then writes `disruptionsAllowed: 0`
//! and `DisruptionAllowed=False/SyncFailed` with the error (`failSafe`), as does a status
//! write the API refuses. The status is written (PUT `…/status`) only when upstream's
//! up-to-date check says it changed; a conflict re-reads the budget and plans it again.
//!
//! The loop re-plans every budget on any change of budgets, pods, StatefulSets, ReplicaSets or
//! Deployments (level-triggered; with no budget a pass costs nothing), when the oldest fresh
//! `disruptedPods` entry of a budget expires (a tokio timer), and every [`cache::RESYNC`].
//!
//! Left out versus upstream:
//! - The stale `DisruptionTarget` condition cleanup (`syncStalePodDisruption`): the shared
//!   pod cache ([`CachedPod`]) keeps only the `Ready` and `PodScheduled` conditions, and
//!   nothing in berth sets `DisruptionTarget` without deleting the pod yet.
//! - Events (`NoPods`, `UnmanagedPods`, `CalculateExpectedPodCountFailed`, `NotDeleted`, the
//!   pods' `MultiplePodDisruptionBudgets`): logged at debug level instead.
//! - ReplicationControllers, which berth does not serve: an owner of that kind fails the sync
//!   as any kind unknown to the API does. The scale subresource of the other kinds is read
//!   from the shared caches (berth's kinds with one are Deployment, ReplicaSet and
//!   StatefulSet), not through `GET …/scale`.
//!
//! Time: the controller's "now" is the later of the system's wall clock and the wall clock at
//! start plus tokio's elapsed time — the wall clock in a server (the API server stamps
//! `disruptedPods` with it), and movable in tests that pause and advance tokio's clock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    Condition, LabelSelector, OwnerReference, Time,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Resource;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument;

use crate::Context;
use crate::cache;
use crate::cached_pod::CachedPod;
use crate::informer::Cached;
use crate::meta::{
    controller_of, error_chain, name_of, namespace_of, non_zero, scaled_value, selects, status_code,
};

/// `DeletionTimeout`: how long a pod the eviction API let go (`disruptedPods`) is expected to
/// take to be marked for deletion; until then it does not count as healthy.
pub(crate) const DELETION_TIMEOUT: SignedDuration = SignedDuration::from_secs(120);

/// `policy.DisruptionAllowedCondition` and its reasons.
pub(crate) const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
pub(crate) const SUFFICIENT_PODS: &str = "SufficientPods";
pub(crate) const INSUFFICIENT_PODS: &str = "InsufficientPods";
pub(crate) const SYNC_FAILED: &str = "SyncFailed";

/// How many times a write re-reads the budget after a conflict before the pass gives up on it.
const CONFLICT_ATTEMPTS: u32 = 3;

impl Cached for PodDisruptionBudget {}

/// Why a budget's status cannot be computed; the message is upstream's, written into the
/// `SyncFailed` condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SyncError {
    /// `metav1.LabelSelectorAsSelector`.
    #[error("{0:?} is not a valid label selector operator")]
    SelectorOperator(String),
    #[error("values: Invalid value: {values:?}: {reason}")]
    SelectorValues { values: Vec<String>, reason: &'static str },
    /// `schema.ParseGroupVersion`.
    #[error("unexpected GroupVersion string: {0}")]
    GroupVersion(String),
    /// The REST mapper's `NoKindMatchError`.
    #[error("no matches for kind {kind:?} in version {version:?}")]
    NoKindMatch { kind: String, version: String },
    /// `getScaleController`, for a kind without a scale subresource.
    #[error("{0} does not implement the scale subresource")]
    NoScale(String),
    /// `getExpectedScale`: a pod's controller is not found (or is not the one it names).
    #[error("found no controllers for pod {0:?}")]
    NoController(String),
    /// `intstr.GetScaledValueFromIntOrPercent`.
    #[error("invalid value for IntOrString: {0}")]
    IntOrPercent(String),
}

/// What one budget needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// The status to write, when it is not up to date.
    pub(crate) status: Option<PodDisruptionBudgetStatus>,
    /// When the oldest fresh `disruptedPods` entry expires and the budget must be planned
    /// again.
    pub(crate) recheck: Option<Timestamp>,
    /// Why the sync failed (the status is then the fail-safe one).
    pub(crate) error: Option<SyncError>,
}

/// What the plans read, indexed: pods by namespace (in name order), the workloads by
/// namespace and name.
#[derive(Debug)]
pub(crate) struct Observed<'a> {
    pods: HashMap<&'a str, Vec<&'a CachedPod>>,
    stateful_sets: HashMap<(&'a str, &'a str), &'a StatefulSet>,
    replica_sets: HashMap<(&'a str, &'a str), &'a ReplicaSet>,
    deployments: HashMap<(&'a str, &'a str), &'a Deployment>,
}

impl<'a> Observed<'a> {
    pub(crate) fn new(
        pods: &'a [Arc<CachedPod>],
        stateful_sets: &'a [Arc<StatefulSet>],
        replica_sets: &'a [Arc<ReplicaSet>],
        deployments: &'a [Arc<Deployment>],
    ) -> Observed<'a> {
        let mut by_namespace: HashMap<&str, Vec<&CachedPod>> = HashMap::new();
        for pod in pods {
            by_namespace.entry(namespace_of(&pod.metadata)).or_default().push(pod);
        }
        for list in by_namespace.values_mut() {
            list.sort_by_key(|p| name_of(&p.metadata));
        }
        Observed {
            pods: by_namespace,
            stateful_sets: index(stateful_sets),
            replica_sets: index(replica_sets),
            deployments: index(deployments),
        }
    }
}

fn index<K: Resource>(objects: &[Arc<K>]) -> HashMap<(&str, &str), &K> {
    objects.iter().map(|o| ((namespace_of(o.meta()), name_of(o.meta())), &**o)).collect()
}

/// Upstream's `sync` of one budget at `now`: the status it should have, unless it has it.
pub(crate) fn plan(budget: &PodDisruptionBudget, observed: &Observed<'_>, now: Timestamp) -> Plan {
    match try_sync(budget, observed, now) {
        Ok(synced) => Plan {
            status: updated_status(budget, &synced, now),
            recheck: synced.recheck,
            error: None,
        },
        Err(error) => Plan {
            status: fail_safe(budget, &error.to_string(), now),
            recheck: None,
            error: Some(error),
        },
    }
}

/// What `trySync` computes.
#[derive(Debug)]
struct Synced {
    current_healthy: i32,
    desired_healthy: i32,
    expected_count: i32,
    disrupted_pods: BTreeMap<String, Time>,
    recheck: Option<Timestamp>,
}

fn try_sync(
    budget: &PodDisruptionBudget,
    observed: &Observed<'_>,
    now: Timestamp,
) -> Result<Synced, SyncError> {
    let pods = pods_for(budget, observed)?;
    if pods.is_empty() {
        tracing::debug!(pdb = %key_of(budget), "no matching pods found");
    }
    let (expected_count, desired_healthy) = expected_pod_count(budget, &pods, observed)?;
    let (disrupted_pods, recheck) = disrupted_pod_map(budget, &pods, now);
    let current_healthy = count_healthy(&pods, &disrupted_pods, now);
    Ok(Synced { current_healthy, desired_healthy, expected_count, disrupted_pods, recheck })
}

/// `getPodsForPdb`: the pods of the budget's namespace its selector selects.
fn pods_for<'a>(
    budget: &PodDisruptionBudget,
    observed: &Observed<'a>,
) -> Result<Vec<&'a CachedPod>, SyncError> {
    // `LabelSelectorAsSelector(nil)` is `labels.Nothing()`.
    let Some(selector) = budget.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return Ok(Vec::new());
    };
    check_selector(selector)?;
    let pods = observed.pods.get(namespace_of(&budget.metadata)).map(Vec::as_slice);
    Ok(pods
        .unwrap_or_default()
        .iter()
        .copied()
        .filter(|pod| selects(Some(selector), pod.metadata.labels.as_ref()))
        .collect())
}

/// The checks of `LabelSelectorAsSelector` a selector the API server admitted could still
/// fail (operators and value counts; keys and values are validated on admission).
fn check_selector(selector: &LabelSelector) -> Result<(), SyncError> {
    for expression in selector.match_expressions.iter().flatten() {
        let values = expression.values.clone().unwrap_or_default();
        match expression.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(SyncError::SelectorValues {
                    values,
                    reason: "for 'in', 'notin' operators, values set can't be empty",
                });
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(SyncError::SelectorValues {
                    values,
                    reason: "values set must be empty for exists and does not exist",
                });
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => return Err(SyncError::SelectorOperator(other.to_owned())),
        }
    }
    Ok(())
}

/// `getExpectedPodCount`: (expectedCount, desiredHealthy).
fn expected_pod_count(
    budget: &PodDisruptionBudget,
    pods: &[&CachedPod],
    observed: &Observed<'_>,
) -> Result<(i32, i32), SyncError> {
    let spec = budget.spec.as_ref();
    if let Some(max_unavailable) = spec.and_then(|s| s.max_unavailable.as_ref()) {
        let expected = expected_scale(pods, observed)?;
        let max_unavailable =
            scaled_value(max_unavailable, expected, true).map_err(SyncError::IntOrPercent)?;
        let desired = clamp(i64::from(expected) - max_unavailable).max(0);
        return Ok((expected, desired));
    }
    match spec.and_then(|s| s.min_available.as_ref()) {
        Some(IntOrString::Int(min_available)) => Ok((clamp(pods.len() as i64), *min_available)),
        Some(min_available) => {
            let expected = expected_scale(pods, observed)?;
            Ok((
                expected,
                clamp(
                    scaled_value(min_available, expected, true).map_err(SyncError::IntOrPercent)?,
                ),
            ))
        }
        None => Ok((0, 0)),
    }
}

fn clamp(value: i64) -> i32 {
    value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// `getExpectedScale`: the sum of the scales of the pods' controllers, each counted once.
/// Pods without a controller are left out; a controller that is not found fails the sync.
fn expected_scale(pods: &[&CachedPod], observed: &Observed<'_>) -> Result<i32, SyncError> {
    let mut scales: BTreeMap<String, i32> = BTreeMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let Some(reference) = controller_of(&pod.metadata) else {
            unmanaged.push(name_of(&pod.metadata));
            continue;
        };
        if scales.contains_key(&reference.uid) {
            continue;
        }
        let namespace = namespace_of(&pod.metadata);
        match find_controller(reference, namespace, observed)? {
            Some((uid, scale)) => {
                scales.insert(uid, scale);
            }
            None => return Err(SyncError::NoController(name_of(&pod.metadata).to_owned())),
        }
    }
    if !unmanaged.is_empty() {
        tracing::debug!(pods = ?unmanaged, "unmanaged pods selected by a poddisruptionbudget");
    }
    Ok(scales.values().fold(0i32, |sum, scale| sum.saturating_add(*scale)))
}

/// `schema.ParseGroupVersion`: (group, version).
fn parse_group_version(api_version: &str) -> Result<(&str, &str), SyncError> {
    if api_version.is_empty() || api_version == "/" {
        return Ok(("", ""));
    }
    match api_version.matches('/').count() {
        0 => Ok(("", api_version)),
        1 => Ok(api_version.split_once('/').unwrap_or_default()),
        _ => Err(SyncError::GroupVersion(api_version.to_owned())),
    }
}

/// `verifyGroupKind`.
fn is_kind(reference: &OwnerReference, kind: &str, groups: &[&str]) -> Result<bool, SyncError> {
    let (group, _) = parse_group_version(&reference.api_version)?;
    Ok(reference.kind == kind && groups.contains(&group))
}

const APPS_EXTENSIONS: &[&str] = &["apps", "extensions"];

/// `dc.finders()` in order (the ReplicationController finder finds nothing: berth does not
/// serve them): the UID and scale of the controller `reference` names.
fn find_controller(
    reference: &OwnerReference,
    namespace: &str,
    observed: &Observed<'_>,
) -> Result<Option<(String, i32)>, SyncError> {
    let replicas = |replicas: Option<i32>| replicas.unwrap_or(1);
    let replica_set = || {
        observed
            .replica_sets
            .get(&(namespace, reference.name.as_str()))
            .filter(|rs| rs.metadata.uid.as_deref() == Some(reference.uid.as_str()))
    };
    // getPodDeployment: a ReplicaSet's Deployment.
    if is_kind(reference, "ReplicaSet", APPS_EXTENSIONS)?
        && let Some(rs) = replica_set()
        && let Some(owner) = controller_of(&rs.metadata)
        && is_kind(owner, "Deployment", APPS_EXTENSIONS)?
        && let Some(deployment) = observed.deployments.get(&(namespace, owner.name.as_str()))
        && deployment.metadata.uid.as_deref() == Some(owner.uid.as_str())
    {
        let scale = replicas(deployment.spec.as_ref().and_then(|s| s.replicas));
        return Ok(Some((owner.uid.clone(), scale)));
    }
    // getPodReplicaSet: a ReplicaSet no Deployment controls.
    if is_kind(reference, "ReplicaSet", APPS_EXTENSIONS)?
        && let Some(rs) = replica_set()
        && controller_of(&rs.metadata).is_none_or(|owner| owner.kind != "Deployment")
    {
        let scale = replicas(rs.spec.as_ref().and_then(|s| s.replicas));
        return Ok(Some((reference.uid.clone(), scale)));
    }
    // getPodStatefulSet.
    if is_kind(reference, "StatefulSet", &["apps"])?
        && let Some(set) = observed.stateful_sets.get(&(namespace, reference.name.as_str()))
        && set.metadata.uid.as_deref() == Some(reference.uid.as_str())
    {
        let scale = replicas(set.spec.as_ref().and_then(|s| s.replicas));
        return Ok(Some((reference.uid.clone(), scale)));
    }
    scale_controller(reference, namespace, observed)
}

/// `getScaleController`: the owner's scale subresource, for any kind that has one.
fn scale_controller(
    reference: &OwnerReference,
    namespace: &str,
    observed: &Observed<'_>,
) -> Result<Option<(String, i32)>, SyncError> {
    let (group, version) = parse_group_version(&reference.api_version)?;
    let Some(resource) = berth_api::kinds::find_kind(group, version, &reference.kind) else {
        return Err(SyncError::NoKindMatch {
            kind: reference.kind.clone(),
            version: berth_api::kinds::group_version(group, version),
        });
    };
    if resource.subresource("scale").is_none() {
        let group_resource = if group.is_empty() {
            resource.plural.to_owned()
        } else {
            format!("{}.{group}", resource.plural)
        };
        return Err(SyncError::NoScale(group_resource));
    }
    let key = (namespace, reference.name.as_str());
    let found = match resource.kind {
        "Deployment" => observed
            .deployments
            .get(&key)
            .map(|d| (&d.metadata, d.spec.as_ref().and_then(|s| s.replicas))),
        "ReplicaSet" => observed
            .replica_sets
            .get(&key)
            .map(|r| (&r.metadata, r.spec.as_ref().and_then(|s| s.replicas))),
        "StatefulSet" => observed
            .stateful_sets
            .get(&key)
            .map(|s| (&s.metadata, s.spec.as_ref().and_then(|s| s.replicas))),
        _ => None,
    };
    Ok(found
        .filter(|(meta, _)| meta.uid.as_deref() == Some(reference.uid.as_str()))
        .map(|(_, replicas)| (reference.uid.clone(), replicas.unwrap_or(1))))
}

/// `buildDisruptedPodMap`: the entries of `disruptedPods` for pods that are selected, not
/// being deleted and not expired, and when the first of them expires.
fn disrupted_pod_map(
    budget: &PodDisruptionBudget,
    pods: &[&CachedPod],
    now: Timestamp,
) -> (BTreeMap<String, Time>, Option<Timestamp>) {
    let mut kept = BTreeMap::new();
    let mut recheck: Option<Timestamp> = None;
    let Some(disrupted) = budget.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()) else {
        return (kept, recheck);
    };
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let name = name_of(&pod.metadata);
        let Some(time) = disrupted.get(name) else { continue };
        let expected_deletion = expiry(time);
        if expected_deletion < now {
            tracing::debug!(
                pdb = %key_of(budget),
                pod = name,
                "pod was expected to be deleted but it wasn't"
            );
        } else {
            recheck = Some(recheck.map_or(expected_deletion, |r| r.min(expected_deletion)));
            kept.insert(name.to_owned(), time.clone());
        }
    }
    (kept, recheck)
}

fn expiry(disrupted_at: &Time) -> Timestamp {
    disrupted_at.0.checked_add(DELETION_TIMEOUT).unwrap_or(Timestamp::MAX)
}

/// `countHealthyPods`.
fn count_healthy(pods: &[&CachedPod], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    let healthy = pods.iter().filter(|pod| {
        pod.metadata.deletion_timestamp.is_none()
            && disrupted.get(name_of(&pod.metadata)).is_none_or(|t| expiry(t) <= now)
            && pod.is_ready()
    });
    clamp(healthy.count() as i64)
}

/// `updatePdbStatus`: the new status, unless the current one is up to date.
fn updated_status(
    budget: &PodDisruptionBudget,
    synced: &Synced,
    now: Timestamp,
) -> Option<PodDisruptionBudgetStatus> {
    // expectedCount > 0 keeps a budget that matched no pods safe when its first pods appear.
    let mut allowed = synced.current_healthy.saturating_sub(synced.desired_healthy);
    if synced.expected_count <= 0 || allowed <= 0 {
        allowed = 0;
    }
    let current = budget.status.clone().unwrap_or_default();
    let generation = budget.metadata.generation.unwrap_or(0);
    let current_disrupted = current.disrupted_pods.clone().unwrap_or_default();
    if current.current_healthy == synced.current_healthy
        && current.desired_healthy == synced.desired_healthy
        && current.expected_pods == synced.expected_count
        && current.disruptions_allowed == allowed
        && current_disrupted == synced.disrupted_pods
        && current.observed_generation.unwrap_or(0) == generation
        && conditions_are_up_to_date(budget)
    {
        return None;
    }
    let mut status = PodDisruptionBudgetStatus {
        current_healthy: synced.current_healthy,
        desired_healthy: synced.desired_healthy,
        expected_pods: synced.expected_count,
        disruptions_allowed: allowed,
        disrupted_pods: (!synced.disrupted_pods.is_empty()).then(|| synced.disrupted_pods.clone()),
        observed_generation: non_zero(generation),
        conditions: current.conditions,
    };
    update_disruption_allowed_condition(&mut status, now);
    Some(status)
}

/// `pdbhelper.UpdateDisruptionAllowedCondition`.
fn update_disruption_allowed_condition(status: &mut PodDisruptionBudgetStatus, now: Timestamp) {
    let (value, reason) = if status.disruptions_allowed > 0 {
        ("True", SUFFICIENT_PODS)
    } else {
        ("False", INSUFFICIENT_PODS)
    };
    let condition = condition(value, reason, String::new(), status.observed_generation, now);
    set_status_condition(status.conditions.get_or_insert_default(), condition);
}

/// `pdbhelper.ConditionsAreUpToDate`.
fn conditions_are_up_to_date(budget: &PodDisruptionBudget) -> bool {
    let Some(status) = budget.status.as_ref() else { return false };
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let Some(condition) = conditions.iter().find(|c| c.type_ == DISRUPTION_ALLOWED) else {
        return false;
    };
    if status.observed_generation.unwrap_or(0) != budget.metadata.generation.unwrap_or(0) {
        return false;
    }
    if status.disruptions_allowed > 0 {
        condition.status == "True" && condition.reason == SUFFICIENT_PODS
    } else {
        condition.status == "False" && condition.reason == INSUFFICIENT_PODS
    }
}

/// `failSafe`: the current status with no disruption allowed and the `SyncFailed` condition
/// (its observedGeneration the status's, as upstream's), unless it is that already.
fn fail_safe(
    budget: &PodDisruptionBudget,
    message: &str,
    now: Timestamp,
) -> Option<PodDisruptionBudgetStatus> {
    let current = budget.status.clone().unwrap_or_default();
    let mut status = current.clone();
    status.disruptions_allowed = 0;
    let generation = status.observed_generation.and_then(non_zero);
    let condition = condition("False", SYNC_FAILED, message.to_owned(), generation, now);
    set_status_condition(status.conditions.get_or_insert_default(), condition);
    (status != current).then_some(status)
}

fn condition(
    status: &str,
    reason: &str,
    message: String,
    observed_generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    // Times are written to the second: keep planned and stored conditions comparable.
    let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
    Condition {
        type_: DISRUPTION_ALLOWED.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation,
        last_transition_time: Time(now),
    }
}

/// `apimeta.SetStatusCondition`: the transition time changes only with the status.
fn set_status_condition(conditions: &mut Vec<Condition>, new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        None => conditions.push(new),
        Some(existing) => {
            if existing.status != new.status {
                existing.status = new.status;
                existing.last_transition_time = new.last_transition_time;
            }
            existing.reason = new.reason;
            existing.message = new.message;
            existing.observed_generation = new.observed_generation;
        }
    }
}

fn key_of(budget: &PodDisruptionBudget) -> String {
    format!("{}/{}", namespace_of(&budget.metadata), name_of(&budget.metadata))
}

// === the loop ===

/// The time the controller decides by (see the module docs).
#[derive(Debug, Clone, Copy)]
struct Clock {
    wall: Timestamp,
    at: Instant,
}

impl Clock {
    fn start() -> Clock {
        Clock { wall: Timestamp::now(), at: Instant::now() }
    }

    fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.at.elapsed()).unwrap_or(SignedDuration::MAX);
        let advanced = self.wall.checked_add(elapsed).unwrap_or(Timestamp::MAX);
        Timestamp::now().max(advanced)
    }

    /// The tokio instant just after [`Clock::now`] passes `time` (an entry expiring at `time`
    /// still counts at `time` itself).
    fn instant_after(&self, time: Timestamp) -> Instant {
        let wait = Duration::try_from(time.duration_since(self.now())).unwrap_or(Duration::ZERO);
        Instant::now() + wait + Duration::from_millis(1)
    }
}

/// Why a budget's status could not be written.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot write the status of poddisruptionbudget {key}")]
    Write {
        key: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot read poddisruptionbudget {key}")]
    Read {
        key: String,
        #[source]
        source: kube::Error,
    },
    #[error("poddisruptionbudget {key} kept changing under its status writes")]
    Conflicts { key: String },
}

/// The disruption controller: never returns.
pub(crate) async fn run(cx: Context) {
    let wake = Arc::new(Notify::new());
    let budgets = cache::cache::<PodDisruptionBudget>(&cx.informers, &wake);
    let pods = cache::cache::<CachedPod>(&cx.informers, &wake);
    let stateful_sets = cache::cache::<StatefulSet>(&cx.informers, &wake);
    let replica_sets = cache::cache::<ReplicaSet>(&cx.informers, &wake);
    let deployments = cache::cache::<Deployment>(&cx.informers, &wake);
    budgets.wait_until_ready().await;
    pods.wait_until_ready().await;
    stateful_sets.wait_until_ready().await;
    replica_sets.wait_until_ready().await;
    deployments.wait_until_ready().await;
    // Woken by budget changes only: has the cache caught up with our writes.
    let budgets_changed = Arc::new(Notify::new());
    budgets.wake(&budgets_changed);
    let clock = Clock::start();
    let client = cx.client.clone();
    let mut backoff = cache::Backoff::new(cache::RETRY * 128);
    loop {
        let mut next = Instant::now() + cache::RESYNC;
        let mut all = budgets.state();
        all.sort_by_key(|b| key_of(b));
        backoff.retain(|key: &String| all.iter().any(|b| key_of(b) == *key));
        let mut written: Vec<(String, String, u64)> = Vec::new();
        // Nothing else is read when there is no budget: most clusters have none.
        if !all.is_empty() {
            let (pods, sets, rs, deploys) =
                (pods.state(), stateful_sets.state(), replica_sets.state(), deployments.state());
            let observed = Observed::new(&pods, &sets, &rs, &deploys);
            for budget in &all {
                let key = key_of(budget);
                if let Some(due) = backoff.waiting(&key) {
                    next = next.min(due);
                    continue;
                }
                let plan = plan(budget, &observed, clock.now());
                if let Some(error) = &plan.error {
                    tracing::debug!(pdb = %key, %error, "failed to sync poddisruptionbudget");
                }
                if let Some(status) = plan.status {
                    let span = tracing::debug_span!("disruption", object.ref = %key);
                    let result =
                        write(&client, budget, status, plan.error.is_some(), &observed, &clock)
                            .instrument(span)
                            .await;
                    match result {
                        Ok(done) => {
                            backoff.succeeded(&key);
                            written.extend(done);
                        }
                        Err(error) => {
                            tracing::warn!(error = %error_chain(&error), "poddisruptionbudget status");
                            next = next.min(backoff.failed(key));
                            continue;
                        }
                    }
                }
                if let Some(expiry) = plan.recheck {
                    next = next.min(clock.instant_after(expiry));
                }
            }
        }
        // The next pass must see what was written, or it would write it again (and conflict).
        cache::caught_up(&budgets_changed, || {
            written.iter().all(|(namespace, name, rv)| {
                budgets
                    .get(&ObjectRef::new(name).within(namespace))
                    .is_none_or(|b| cache::revision_of(&b.metadata) >= *rv)
            })
        })
        .await;
        let _ = tokio::time::timeout_at(next, wake.notified()).await;
    }
}

/// Writes `status` (`PUT …/status` with the cached resourceVersion). On a conflict the budget
/// is read again and planned again; a write the API refuses otherwise is answered, unless
/// `failing` already, by the fail-safe status with the refusal as its message. Returns what
/// was written: namespace, name and resourceVersion.
async fn write(
    client: &kube::Client,
    cached: &PodDisruptionBudget,
    status: PodDisruptionBudgetStatus,
    failing: bool,
    observed: &Observed<'_>,
    clock: &Clock,
) -> Result<Option<(String, String, u64)>, Error> {
    let key = key_of(cached);
    let namespace = namespace_of(&cached.metadata).to_owned();
    let name = name_of(&cached.metadata).to_owned();
    let api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &namespace);
    let pp = PostParams::default();
    let mut current = cached.clone();
    let mut status = status;
    let mut failing = failing;
    for _ in 0..CONFLICT_ATTEMPTS {
        let mut budget = current.clone();
        budget.status = Some(status);
        match api.replace_status(&name, &pp, &budget).await {
            Ok(written) => {
                tracing::debug!(pdb = %key, "wrote poddisruptionbudget status");
                let rv = cache::revision_of(&written.metadata);
                return Ok(Some((namespace, name, rv)));
            }
            Err(error) if status_code(&error) == Some(404) => return Ok(None),
            Err(error) if status_code(&error) == Some(409) => {
                current = match api.get(&name).await {
                    Ok(fresh) => fresh,
                    Err(error) if status_code(&error) == Some(404) => return Ok(None),
                    Err(source) => return Err(Error::Read { key, source }),
                };
                let again = plan(&current, observed, clock.now());
                failing = again.error.is_some();
                match again.status {
                    Some(next) => status = next,
                    None => return Ok(None),
                }
            }
            Err(source) => {
                // failSafe of a failed updatePdbStatus: at least no disruption allowed.
                if !failing {
                    let message = match &source {
                        kube::Error::Api(status) => status.message.clone(),
                        other => other.to_string(),
                    };
                    if let Some(safe) = fail_safe(&current, &message, clock.now()) {
                        current.status = Some(safe);
                        if let Err(error) = api.replace_status(&name, &pp, &current).await {
                            let error = error_chain(&error);
                            tracing::debug!(pdb = %key, %error, "fail-safe status write failed");
                        }
                    }
                }
                return Err(Error::Write { key, source });
            }
        }
    }
    Err(Error::Conflicts { key })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const NOW: &str = "2026-01-01T12:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    fn at(seconds_before_now: i64) -> Timestamp {
        now().checked_sub(SignedDuration::from_secs(seconds_before_now)).unwrap()
    }

    /// A budget in `default` with this spec (and status), generation 2.
    fn budget(spec: Value, status: Option<Value>) -> PodDisruptionBudget {
        let mut value = json!({
            "metadata": { "name": "web", "namespace": "default", "generation": 2 },
            "spec": spec,
        });
        if let Some(status) = status {
            value["status"] = status;
        }
        serde_json::from_value(value).unwrap()
    }

    /// A pod in `default` labelled `app: web`, owned by `owner` (kind, name, uid).
    fn pod(name: &str, ready: bool, owner: Option<(&str, &str, &str)>) -> Arc<CachedPod> {
        let owners: Vec<Value> = owner
            .into_iter()
            .map(|(kind, name, uid)| {
                let api_version = match kind {
                    "Job" => "batch/v1",
                    "Widget" => "example.com/v1",
                    _ => "apps/v1",
                };
                json!({ "apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
                        "controller": true })
            })
            .collect();
        Arc::new(
            serde_json::from_value(json!({
                "metadata": { "name": name, "namespace": "default", "labels": { "app": "web" },
                              "ownerReferences": owners },
                "status": { "conditions": [{ "type": "Ready",
                                             "status": if ready { "True" } else { "False" } }] },
            }))
            .unwrap(),
        )
    }

    fn sts_pod(name: &str, ready: bool) -> Arc<CachedPod> {
        pod(name, ready, Some(("StatefulSet", "web", "uid-sts")))
    }

    fn terminating(pod: Arc<CachedPod>) -> Arc<CachedPod> {
        let mut pod = (*pod).clone();
        pod.metadata.deletion_timestamp = Some(Time(at(1)));
        Arc::new(pod)
    }

    fn stateful_set(replicas: i32) -> Arc<StatefulSet> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": { "name": "web", "namespace": "default", "uid": "uid-sts" },
                "spec": { "replicas": replicas, "serviceName": "web", "selector": {},
                          "template": {} },
            }))
            .unwrap(),
        )
    }

    /// What the tests read of a planned status: (expected, desired, healthy, allowed,
    /// condition status/reason).
    fn summary(status: &PodDisruptionBudgetStatus) -> (i32, i32, i32, i32, String) {
        let condition = &status.conditions.as_ref().unwrap()[0];
        (
            status.expected_pods,
            status.desired_healthy,
            status.current_healthy,
            status.disruptions_allowed,
            format!("{}/{}", condition.status, condition.reason),
        )
    }

    struct World {
        pods: Vec<Arc<CachedPod>>,
        sets: Vec<Arc<StatefulSet>>,
        replica_sets: Vec<Arc<ReplicaSet>>,
        deployments: Vec<Arc<Deployment>>,
    }

    impl World {
        fn pods(pods: Vec<Arc<CachedPod>>) -> World {
            World { pods, sets: Vec::new(), replica_sets: Vec::new(), deployments: Vec::new() }
        }

        fn with_set(mut self, replicas: i32) -> World {
            self.sets.push(stateful_set(replicas));
            self
        }

        fn plan(&self, budget: &PodDisruptionBudget) -> Plan {
            let observed =
                Observed::new(&self.pods, &self.sets, &self.replica_sets, &self.deployments);
            plan(budget, &observed, now())
        }

        fn summary(&self, budget: &PodDisruptionBudget) -> (i32, i32, i32, i32, String) {
            summary(&self.plan(budget).status.expect("a status to write"))
        }
    }

    fn selector() -> Value {
        json!({ "matchLabels": { "app": "web" } })
    }

    fn outcome(
        expected: i32,
        desired: i32,
        healthy: i32,
        allowed: i32,
    ) -> (i32, i32, i32, i32, String) {
        let condition = if allowed > 0 { "True/SufficientPods" } else { "False/InsufficientPods" };
        (expected, desired, healthy, allowed, condition.to_owned())
    }

    #[test]
    fn min_available_as_an_integer_counts_the_matching_pods() {
        let world =
            World::pods(vec![pod("a", true, None), pod("b", true, None), pod("c", false, None)]);
        let spec = json!({ "selector": selector(), "minAvailable": 1 });
        assert_eq!(world.summary(&budget(spec, None)), outcome(3, 1, 2, 1));
        let spec = json!({ "selector": selector(), "minAvailable": 2 });
        assert_eq!(world.summary(&budget(spec, None)), outcome(3, 2, 2, 0));
    }

    #[test]
    fn percentages_count_against_the_controllers_scale_rounded_up() {
        // Two pods of a StatefulSet of 5: the scale, not the pods, is what is expected.
        let world = World::pods(vec![sts_pod("web-0", true), sts_pod("web-1", true)]).with_set(5);
        let spec = json!({ "selector": selector(), "minAvailable": "30%" });
        assert_eq!(world.summary(&budget(spec, None)), outcome(5, 2, 2, 0));
        let spec = json!({ "selector": selector(), "minAvailable": "20%" });
        assert_eq!(world.summary(&budget(spec, None)), outcome(5, 1, 2, 1));
    }

    #[test]
    fn max_unavailable_counts_against_the_stateful_set_scale() {
        let world = World::pods(vec![
            sts_pod("web-0", true),
            sts_pod("web-1", true),
            sts_pod("web-2", false),
        ])
        .with_set(3);
        let spec = json!({ "selector": selector(), "maxUnavailable": 1 });
        assert_eq!(world.summary(&budget(spec, None)), outcome(3, 2, 2, 0));
        // 50% of 3, rounded up, is 2 unavailable.
        let spec = json!({ "selector": selector(), "maxUnavailable": "50%" });
        assert_eq!(world.summary(&budget(spec, None)), outcome(3, 1, 2, 1));
        // More unavailable than expected: none need be healthy.
        let spec = json!({ "selector": selector(), "maxUnavailable": 5 });
        assert_eq!(world.summary(&budget(spec, None)), outcome(3, 0, 2, 2));
    }

    #[test]
    fn deployments_count_once_through_their_replica_sets() {
        let mut world = World::pods(vec![
            pod("a", true, Some(("ReplicaSet", "web-1", "uid-rs1"))),
            pod("b", true, Some(("ReplicaSet", "web-2", "uid-rs2"))),
            pod("c", true, Some(("ReplicaSet", "solo", "uid-solo"))),
        ]);
        let replica_set = |name: &str, uid: &str, owned: bool| -> Arc<ReplicaSet> {
            let owners = if owned {
                json!([{ "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                         "uid": "uid-deploy", "controller": true }])
            } else {
                json!([])
            };
            Arc::new(
                serde_json::from_value(json!({
                    "metadata": { "name": name, "namespace": "default", "uid": uid,
                                  "ownerReferences": owners },
                    "spec": { "replicas": 7, "selector": {} },
                }))
                .unwrap(),
            )
        };
        world.replica_sets = vec![
            replica_set("web-1", "uid-rs1", true),
            replica_set("web-2", "uid-rs2", true),
            replica_set("solo", "uid-solo", false),
        ];
        world.deployments = vec![Arc::new(
            serde_json::from_value(json!({
                "metadata": { "name": "web", "namespace": "default", "uid": "uid-deploy" },
                "spec": { "replicas": 4, "selector": {}, "template": {} },
            }))
            .unwrap(),
        )];
        // The Deployment's 4 (once for both of its ReplicaSets) and the lone ReplicaSet's 7.
        let spec = json!({ "selector": selector(), "maxUnavailable": 0 });
        assert_eq!(world.summary(&budget(spec, None)), outcome(11, 11, 3, 0));
    }

    #[test]
    fn an_empty_selector_selects_the_namespace_and_a_missing_one_nothing() {
        let mut other = (*pod("elsewhere", true, None)).clone();
        other.metadata.namespace = Some("other".to_owned());
        let mut unlabelled = (*pod("plain", true, None)).clone();
        unlabelled.metadata.labels = None;
        let world = World::pods(vec![pod("a", true, None), Arc::new(unlabelled), Arc::new(other)]);
        let spec = json!({ "selector": {}, "minAvailable": 1 });
        assert_eq!(world.summary(&budget(spec, None)), outcome(2, 1, 2, 1));
        let spec = json!({ "minAvailable": 1 });
        assert_eq!(world.summary(&budget(spec, None)), outcome(0, 1, 0, 0));
        // Neither minAvailable nor maxUnavailable: nothing expected, nothing allowed.
        let spec = json!({ "selector": {} });
        assert_eq!(world.summary(&budget(spec, None)), outcome(0, 0, 2, 0));
    }

    #[test]
    fn unready_and_terminating_pods_are_not_healthy() {
        let world = World::pods(vec![
            pod("a", true, None),
            pod("b", false, None),
            terminating(pod("c", true, None)),
        ]);
        let spec = json!({ "selector": selector(), "minAvailable": 0 });
        assert_eq!(world.summary(&budget(spec, None)), outcome(3, 0, 1, 1));
    }

    #[test]
    fn disrupted_pods_are_unhealthy_until_their_entry_expires() {
        let world = World::pods(vec![
            pod("fresh", true, None),
            pod("expired", true, None),
            pod("other", true, None),
            terminating(pod("going", true, None)),
        ]);
        let time = |t: Timestamp| json!(Time(t));
        let status = json!({
            "disruptedPods": { "fresh": time(at(60)), "expired": time(at(121)),
                               "going": time(at(10)), "gone": time(at(10)) },
            "currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0,
            "expectedPods": 0,
        });
        let spec = json!({ "selector": selector(), "minAvailable": 1 });
        let plan = world.plan(&budget(spec, Some(status)));
        let status = plan.status.unwrap();
        // Only the fresh entry stays (the terminating pod's and the gone pod's are dropped).
        let kept: Vec<&String> = status.disrupted_pods.as_ref().unwrap().keys().collect();
        assert_eq!(kept, ["fresh"]);
        assert_eq!(summary(&status), outcome(4, 1, 2, 1));
        assert_eq!(plan.recheck, Some(at(60).checked_add(DELETION_TIMEOUT).unwrap()));
    }

    #[test]
    fn a_pod_without_its_controller_fails_the_sync_safely() {
        let world = World::pods(vec![sts_pod("web-0", true)]);
        let status = json!({
            "currentHealthy": 1, "desiredHealthy": 0, "disruptionsAllowed": 1,
            "expectedPods": 1, "observedGeneration": 1,
            "conditions": [{ "type": "DisruptionAllowed", "status": "True",
                             "reason": "SufficientPods", "message": "",
                             "lastTransitionTime": "2025-12-31T00:00:00Z",
                             "observedGeneration": 1 }],
        });
        let spec = json!({ "selector": selector(), "maxUnavailable": 1 });
        let failed = budget(spec.clone(), Some(status));
        let plan = world.plan(&failed);
        assert_eq!(plan.error, Some(SyncError::NoController("web-0".to_owned())));
        let status = plan.status.unwrap();
        assert_eq!((status.disruptions_allowed, status.current_healthy), (0, 1));
        assert_eq!(status.observed_generation, Some(1), "failSafe keeps the rest");
        let condition = &status.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str(), condition.message.as_str()),
            ("False", "SyncFailed", "found no controllers for pod \"web-0\"")
        );
        assert_eq!(condition.observed_generation, Some(1));
        assert_eq!(condition.last_transition_time, Time(now()), "the status changed");

        // Failing again writes nothing.
        let mut again = failed.clone();
        again.status = Some(status.clone());
        assert_eq!(world.plan(&again).status, None);

        // Once the StatefulSet is there the sync succeeds; the condition stays False, so its
        // transition time stays too.
        let world = World::pods(vec![sts_pod("web-0", false)]).with_set(1);
        let status = world.plan(&again).status.unwrap();
        assert_eq!(summary(&status), outcome(1, 0, 0, 0));
        let condition = &status.conditions.as_ref().unwrap()[0];
        assert_eq!(condition.message, "");
        assert_eq!(condition.observed_generation, Some(2));
        assert_eq!(condition.last_transition_time, Time(now()));
    }

    #[test]
    fn owners_of_other_kinds_fail_or_are_left_out_as_upstream() {
        let spec = json!({ "selector": selector(), "maxUnavailable": 1 });
        let error = |world: World| world.plan(&budget(spec.clone(), None)).error;
        assert_eq!(
            error(World::pods(vec![pod("a", true, Some(("DaemonSet", "ds", "uid-ds")))])),
            Some(SyncError::NoScale("daemonsets.apps".to_owned()))
        );
        assert_eq!(
            error(World::pods(vec![pod("a", true, Some(("Job", "job", "uid-job")))])),
            Some(SyncError::NoScale("jobs.batch".to_owned()))
        );
        // A kind this server does not serve (as the REST mapper does not know it).
        assert_eq!(
            error(World::pods(vec![pod("a", true, Some(("Widget", "w", "uid-w")))])),
            Some(SyncError::NoKindMatch {
                kind: "Widget".to_owned(),
                version: "example.com/v1".to_owned()
            })
        );
        // A StatefulSet of the same name but another UID is not the pod's controller.
        let mut world = World::pods(vec![pod("a", true, Some(("StatefulSet", "web", "uid-old")))]);
        world.sets.push(stateful_set(3));
        assert_eq!(error(world), Some(SyncError::NoController("a".to_owned())));
        // Pods with no controller at all are unmanaged: left out of the scale.
        let world = World::pods(vec![sts_pod("web-0", true), pod("loose", true, None)]).with_set(2);
        assert_eq!(world.summary(&budget(spec.clone(), None)), outcome(2, 1, 2, 1));
    }

    #[test]
    fn an_up_to_date_status_is_not_written_and_transitions_keep_their_time() {
        let world = World::pods(vec![sts_pod("web-0", true), sts_pod("web-1", true)]).with_set(2);
        let spec = json!({ "selector": selector(), "maxUnavailable": 1 });
        let mut current = budget(spec, None);
        let first = world.plan(&current).status.unwrap();
        assert_eq!(summary(&first), outcome(2, 1, 2, 1));
        assert_eq!(first.observed_generation, Some(2));
        current.status = Some(first.clone());
        assert_eq!(world.plan(&current), Plan { status: None, recheck: None, error: None });

        // A new generation is observed even when the numbers are the same.
        current.metadata.generation = Some(3);
        let observed = world.plan(&current).status.unwrap();
        assert_eq!(observed.observed_generation, Some(3));
        assert_eq!(observed.conditions.as_ref().unwrap()[0].observed_generation, Some(3));

        // An older condition time survives while the condition's status does not change.
        let old = Time("2025-06-01T00:00:00Z".parse().unwrap());
        let mut aged = first.clone();
        aged.conditions.as_mut().unwrap()[0].last_transition_time = old.clone();
        aged.current_healthy = 5;
        current.status = Some(aged);
        let kept = world.plan(&current).status.unwrap();
        assert_eq!(kept.current_healthy, 2);
        assert_eq!(kept.conditions.as_ref().unwrap()[0].last_transition_time, old);
    }

    #[test]
    fn the_clock_is_the_later_of_the_wall_clock_and_tokio_time() {
        // A clock whose tokio time ran an hour ahead of the wall clock (as a paused test's
        // can): its "now" is that hour later, and a recheck waits from there.
        let ahead = Timestamp::now().checked_add(SignedDuration::from_hours(1)).unwrap();
        let clock = Clock { wall: ahead, at: Instant::now() };
        assert!(clock.now() >= ahead);
        let wait = clock.instant_after(ahead.checked_add(SignedDuration::from_secs(10)).unwrap())
            - Instant::now();
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_millis(10_001), "{wait:?}");
        // One behind the wall clock reads the wall clock; a past time is due at once.
        let behind = Clock { wall: at(3600), at: Instant::now() };
        assert!(behind.now() > at(1));
        assert!(behind.instant_after(at(10)) <= Instant::now() + Duration::from_millis(1));
    }

    #[test]
    fn scaled_values_follow_intstr() {
        let percent = |s: &str| IntOrString::String(s.to_owned());
        let scaled_value =
            |v: &IntOrString, total| scaled_value(v, total, true).map_err(SyncError::IntOrPercent);
        assert_eq!(scaled_value(&percent("50%"), 3), Ok(2));
        assert_eq!(scaled_value(&percent("0%"), 3), Ok(0));
        assert_eq!(scaled_value(&IntOrString::Int(4), 3), Ok(4));
        assert_eq!(
            scaled_value(&percent("50"), 3).unwrap_err().to_string(),
            "invalid value for IntOrString: invalid type: string is not a percentage"
        );
        assert!(scaled_value(&percent("x%"), 3).is_err());
    }
}
