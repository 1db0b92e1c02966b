//! The pure heart of the StatefulSet controller: from what one sync observes (the set, its pods
//! and claims, its current and update revisions) to the writes to make and the status to
//! report, in the order and with the blocking rules of `updateStatefulSet`, `processReplica`
//! and `processCondemned` (pkg/controller/statefulset/stateful_set_control.go, v1.33).
//!
//! One addition to Kubernetes (k8s issue 67250): under a rolling update, a pod that is not
//! Ready and was made from a revision its ordinal should no longer run is replaced instead of
//! blocking the set forever, so reverting a broken template heals the set on its own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::identity::{self, ClaimOwners};
use crate::cached_pod::CachedPod;

/// A revision as the plan needs it: its name and the pod template it records.
#[derive(Debug, Clone)]
pub(crate) struct Revision {
    pub(crate) name: String,
    pub(crate) template: PodTemplateSpec,
}

/// Everything one sync looks at.
#[derive(Debug, Clone)]
pub(crate) struct Observed {
    pub(crate) set: StatefulSet,
    /// The pods the set owns.
    pub(crate) pods: Vec<Arc<CachedPod>>,
    /// The claims of the set's namespace, by name.
    pub(crate) claims: BTreeMap<String, Arc<PersistentVolumeClaim>>,
    pub(crate) current: Revision,
    pub(crate) update: Revision,
    pub(crate) collision_count: i32,
    pub(crate) now: Timestamp,
    /// The `MaxUnavailableStatefulSet` feature gate: a RollingUpdate honours `maxUnavailable`.
    pub(crate) max_unavailable: bool,
}

/// Why a pod is deleted (the executor's log and events say it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeleteReason {
    /// It failed; a new one replaces it once it is gone.
    Failed,
    /// It succeeded (containers exited 0, e.g. after a node reboot); replaced the same way.
    Succeeded,
    /// Its ordinal is out of range.
    ScaleDown,
    /// The rolling update replaces it with the update revision.
    Update,
    /// It never became Ready and runs a revision its ordinal no longer wants (k8s 67250).
    Stuck,
}

/// One write through the API.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Create a claim of `pod` (an existing one is fine).
    CreateClaim {
        claim: Box<PersistentVolumeClaim>,
        pod: String,
    },
    CreatePod(Box<Pod>),
    /// A claim the pod needs is being deleted: record `FailedCreate` and stop.
    ClaimTerminating {
        pod: String,
        claim: String,
    },
    DeletePod {
        name: String,
        uid: String,
        reason: DeleteReason,
    },
    /// Put the identity labels back on a pod.
    LabelPod {
        name: String,
        uid: String,
        labels: BTreeMap<String, String>,
    },
    /// Set a claim's owner references as the retention policy wants.
    SetClaimOwners {
        claim: String,
        uid: String,
        owner_references: Vec<OwnerReference>,
    },
    /// Another controller owns a claim: warn with `ConflictingController`.
    ConflictingController {
        claim: String,
    },
}

/// Actions done in order; one failing stops the rest of its step.
pub(crate) type Step = Vec<Action>;

/// What one sync does.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    /// Run the steps of a phase concurrently (in slow-start batches) instead of one by one.
    pub(crate) parallel: bool,
    /// Each phase runs only if the one before completed without error.
    pub(crate) phases: Vec<Vec<Step>>,
    /// The status to report (before `completeRollingUpdate`).
    pub(crate) status: StatefulSetStatus,
    /// Sync again after this long (a pod becomes available after minReadySeconds).
    pub(crate) requeue_after: Option<Duration>,
}

// === pod predicates (stateful_set_utils.go) ===

fn phase(pod: &CachedPod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn is_created(pod: &CachedPod) -> bool {
    !phase(pod).is_empty()
}

fn is_terminating(pod: &CachedPod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn ready_since(pod: &CachedPod) -> Option<Option<Timestamp>> {
    let condition =
        pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")?;
    (condition.status == "True").then(|| condition.last_transition_time.as_ref().map(|t| t.0))
}

pub(crate) fn is_running_and_ready(pod: &CachedPod) -> bool {
    phase(pod) == "Running" && ready_since(pod).is_some()
}

/// When `pod` is (or becomes) available: Ready for `min_ready` seconds (`podutil.IsPodAvailable`).
fn available_at(pod: &CachedPod, min_ready: i32) -> Option<Timestamp> {
    if !is_running_and_ready(pod) {
        return None;
    }
    let since = ready_since(pod).flatten();
    if min_ready <= 0 {
        return Some(Timestamp::UNIX_EPOCH);
    }
    let since = since?;
    since.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(i64::from(min_ready))).ok()
}

fn is_available(pod: &CachedPod, min_ready: i32, now: Timestamp) -> bool {
    match available_at(pod, min_ready) {
        Some(at) if min_ready <= 0 => at <= now,
        Some(at) => at < now,
        None => false,
    }
}

fn is_healthy(pod: &CachedPod) -> bool {
    is_running_and_ready(pod) && !is_terminating(pod)
}

fn is_unavailable(pod: &CachedPod, min_ready: i32, now: Timestamp) -> bool {
    !is_healthy(pod) || !is_available(pod, min_ready, now)
}

fn uid(pod: &CachedPod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

fn name(pod: &CachedPod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// `computeReplicaStatus` over `pods`.
fn count(status: &mut StatefulSetStatus, pods: &[&CachedPod], min_ready: i32, now: Timestamp) {
    let (mut replicas, mut ready, mut available, mut current, mut updated) = (0, 0, 0, 0, 0);
    let current_name = status.current_revision.clone().unwrap_or_default();
    let update_name = status.update_revision.clone().unwrap_or_default();
    for pod in pods {
        if is_created(pod) {
            replicas += 1;
        }
        if is_running_and_ready(pod) {
            ready += 1;
            if is_available(pod, min_ready, now) {
                available += 1;
            }
        }
        if is_created(pod) && !is_terminating(pod) {
            let revision = identity::pod_revision(pod);
            if revision == current_name {
                current += 1;
            }
            if revision == update_name {
                updated += 1;
            }
        }
    }
    status.replicas = replicas;
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.current_replicas = Some(current);
    status.updated_replicas = Some(updated);
}

/// `completeRollingUpdate`: a finished rolling update (every wanted replica exists, is updated
/// and Ready) makes the update revision current.
pub(crate) fn complete_rolling_update(set: &StatefulSet, status: &mut StatefulSetStatus) {
    let wanted = identity::replicas(set);
    if strategy(set) == "RollingUpdate"
        && status.updated_replicas.unwrap_or(0) == wanted
        && status.ready_replicas.unwrap_or(0) == wanted
        && status.replicas == wanted
    {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
}

/// `inconsistentStatus`: whether `status` differs from what the set reports.
pub(crate) fn status_changed(set: &StatefulSet, status: &StatefulSetStatus) -> bool {
    let old = set.status.clone().unwrap_or_default();
    status.observed_generation.unwrap_or(0) > old.observed_generation.unwrap_or(0)
        || status.replicas != old.replicas
        || status.current_replicas.unwrap_or(0) != old.current_replicas.unwrap_or(0)
        || status.ready_replicas.unwrap_or(0) != old.ready_replicas.unwrap_or(0)
        || status.updated_replicas.unwrap_or(0) != old.updated_replicas.unwrap_or(0)
        || status.available_replicas.unwrap_or(0) != old.available_replicas.unwrap_or(0)
        || status.current_revision != old.current_revision
        || status.update_revision != old.update_revision
}

fn strategy(set: &StatefulSet) -> &str {
    set.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

/// The revision a pod at `index` (ordinal − start) is made from (`newVersionedStatefulSetPod`).
fn wants_current(set: &StatefulSet, index: i32) -> bool {
    let Some(strategy_spec) = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref()) else {
        return false;
    };
    if strategy(set) != "RollingUpdate" {
        return false;
    }
    match &strategy_spec.rolling_update {
        None => index < set.status.as_ref().and_then(|s| s.current_replicas).unwrap_or(0),
        Some(rolling) => index < rolling.partition.unwrap_or(0),
    }
}

// === the plan ===

/// What one sync of `observed` does.
pub(crate) fn plan(observed: &Observed) -> Plan {
    let set = &observed.set;
    let set_name = identity::set_name(set);
    let spec = set.spec.clone().unwrap_or_default();
    let now = observed.now;
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let start = identity::start_ordinal(set);
    let count_wanted = identity::replicas(set);
    let monotonic = spec.pod_management_policy.as_deref() != Some("Parallel");

    let mut replicas: Vec<Option<&CachedPod>> =
        vec![None; usize::try_from(count_wanted).unwrap_or(0)];
    let mut condemned: Vec<(i32, &CachedPod)> = Vec::new();
    for pod in observed.pods.iter().map(|p| &**p) {
        let Some(ordinal) = identity::ordinal_of(set_name, pod) else { continue };
        if ordinal >= start && ordinal - start < count_wanted {
            replicas[usize::try_from(ordinal - start).unwrap_or(0)] = Some(pod);
        } else if ordinal >= 0 {
            condemned.push((ordinal, pod));
        }
    }
    condemned.sort_by_key(|c| std::cmp::Reverse(c.0));

    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(observed.current.name.clone()),
        update_revision: Some(observed.update.name.clone()),
        collision_count: Some(observed.collision_count),
        ..StatefulSetStatus::default()
    };
    let counted: Vec<&CachedPod> =
        replicas.iter().flatten().copied().chain(condemned.iter().map(|(_, p)| *p)).collect();
    count(&mut status, &counted, min_ready, now);

    let mut plan = Plan {
        parallel: !monotonic,
        requeue_after: requeue(&counted, min_ready, now),
        ..Plan::default()
    };
    if set.metadata.deletion_timestamp.is_some() {
        plan.status = status;
        return plan;
    }

    // The first unavailable pod: the lowest in range, else the lowest condemned.
    let first_unavailable: Option<String> = replicas
        .iter()
        .find(|p| p.is_none_or(|p| is_unavailable(p, min_ready, now)))
        .map(|p| p.map(name).unwrap_or_default())
        .or_else(|| {
            condemned
                .iter()
                .rev()
                .find(|(_, p)| is_unavailable(p, min_ready, now))
                .map(|(_, p)| name(p))
        });

    let rolling = strategy(set) == "RollingUpdate";
    let mut blocked = false;

    // 1. Every replica in ordinal order.
    let mut steps = Vec::new();
    for (index, pod) in replicas.iter().enumerate() {
        let index = i32::try_from(index).unwrap_or(i32::MAX);
        let ordinal = start + index;
        let pod_name = identity::pod_name(set_name, ordinal);
        let revision = if wants_current(set, index) { &observed.current } else { &observed.update };
        let mut step = Vec::new();
        let Some(pod) = pod else {
            let (stop, actions) = create_pod(observed, ordinal, revision);
            steps.push(actions);
            if stop || monotonic {
                blocked |= monotonic;
                if monotonic {
                    break;
                }
            }
            continue;
        };
        if matches!(phase(pod), "Failed" | "Succeeded") {
            if !is_terminating(pod) {
                step.push(Action::DeletePod {
                    name: name(pod),
                    uid: uid(pod),
                    reason: if phase(pod) == "Failed" {
                        DeleteReason::Failed
                    } else {
                        DeleteReason::Succeeded
                    },
                });
            }
            steps.push(step);
            if monotonic {
                blocked = true;
                break;
            }
            continue;
        }
        if phase(pod) == "Pending" {
            step.extend(missing_claims(observed, ordinal));
        }
        if monotonic {
            let stuck = rolling
                && !is_running_and_ready(pod)
                && !is_terminating(pod)
                && identity::pod_revision(pod) != revision.name;
            if stuck {
                step.push(Action::DeletePod {
                    name: name(pod),
                    uid: uid(pod),
                    reason: DeleteReason::Stuck,
                });
            }
            if is_terminating(pod)
                || !is_running_and_ready(pod)
                || !is_available(pod, min_ready, now)
            {
                steps.push(step);
                blocked = true;
                break;
            }
        }
        if !identity::identity_matches(set, pod)
            && let Some(labels) = identity::identity_labels(set, pod)
        {
            step.push(Action::LabelPod { name: name(pod), uid: uid(pod), labels });
        }
        step.extend(claim_owner_actions(observed, &pod_name, &uid(pod), ordinal, true));
        steps.push(step);
    }
    plan.phases.push(steps);

    if !blocked {
        // 2. Claims of condemned pods get the references the policy wants before they go.
        let fixes: Vec<Step> = condemned
            .iter()
            .map(|(ordinal, pod)| {
                claim_owner_actions(observed, &name(pod), &uid(pod), *ordinal, false)
            })
            .filter(|s| !s.is_empty())
            .collect();
        plan.phases.push(fixes);

        // 3. Scale down, highest ordinal first.
        let mut deletes = Vec::new();
        for (_, pod) in &condemned {
            if is_terminating(pod) {
                if monotonic {
                    blocked = true;
                    break;
                }
                continue;
            }
            let first = first_unavailable.as_deref() == Some(name(pod).as_str());
            if monotonic
                && !first
                && (!is_running_and_ready(pod) || !is_available(pod, min_ready, now))
            {
                blocked = true;
                break;
            }
            deletes.push(vec![Action::DeletePod {
                name: name(pod),
                uid: uid(pod),
                reason: DeleteReason::ScaleDown,
            }]);
            if monotonic {
                blocked = true;
                break;
            }
        }
        plan.phases.push(deletes);
    }

    // 4. The rolling update: replace the highest pod not at the update revision, one at a time
    // (or up to `maxUnavailable` at a time with the MaxUnavailableStatefulSet gate).
    let rolling_update = spec.update_strategy.as_ref().and_then(|u| u.rolling_update.as_ref());
    let update_min = rolling_update.map_or(0, |r| r.partition.unwrap_or(0).max(0));
    if !blocked && rolling && observed.max_unavailable {
        let max_unavailable = rolling_update
            .and_then(|r| r.max_unavailable.as_ref())
            .map_or(1, |value| scaled_down(value, count_wanted))
            .max(1);
        let unavailable = replicas.iter().flatten().filter(|p| is_unavailable(p, min_ready, now));
        let budget =
            usize::try_from(max_unavailable).unwrap_or(1).saturating_sub(unavailable.count());
        plan.phases.push(update_within(observed, &replicas, update_min, budget, &mut status));
    } else if !blocked && rolling {
        let mut update = Vec::new();
        for target in (update_min..count_wanted).rev() {
            let Some(pod) = replicas[usize::try_from(target).unwrap_or(0)] else { break };
            if identity::pod_revision(pod) != observed.update.name && !is_terminating(pod) {
                update.push(vec![Action::DeletePod {
                    name: name(pod),
                    uid: uid(pod),
                    reason: DeleteReason::Update,
                }]);
                status.current_replicas = Some(status.current_replicas.unwrap_or(0) - 1);
                break;
            }
            if is_unavailable(pod, min_ready, now) {
                break;
            }
        }
        plan.phases.push(update);
    }
    plan.status = status;
    plan
}

/// `updateStatefulSetAfterInvariantEstablished` (the MaxUnavailableStatefulSet gate): with
/// `budget` = `maxUnavailable` less the replicas unavailable now, delete that many pods not at
/// the update revision (and not terminating), from the highest ordinal down to the partition.
fn update_within(
    observed: &Observed,
    replicas: &[Option<&CachedPod>],
    update_min: i32,
    budget: usize,
    status: &mut StatefulSetStatus,
) -> Vec<Step> {
    let from = usize::try_from(update_min).unwrap_or(0).min(replicas.len());
    let outdated =
        replicas[from..].iter().rev().flatten().filter(|pod| {
            identity::pod_revision(pod) != observed.update.name && !is_terminating(pod)
        });
    outdated
        .take(budget)
        .map(|pod| {
            status.current_replicas = Some(status.current_replicas.unwrap_or(0) - 1);
            vec![Action::DeletePod { name: name(pod), uid: uid(pod), reason: DeleteReason::Update }]
        })
        .collect()
}

/// `intstr.GetScaledValueFromIntOrPercent(value, total, false)`: an int as it is, a percentage
/// of `total` rounded down; anything else counts as 1.
fn scaled_down(value: &IntOrString, total: i32) -> i32 {
    match value {
        IntOrString::Int(n) => *n,
        IntOrString::String(text) => text
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(1, |p| i32::try_from(p * i64::from(total) / 100).unwrap_or(i32::MAX)),
    }
}

/// Steps to create the pod at `ordinal`: its missing claims, then the pod (`CreateStatefulPod`),
/// unless a claim still belongs to a deleted pod of the same name (`PodClaimIsStale`). The
/// bool says whether the set must stop here.
fn create_pod(observed: &Observed, ordinal: i32, revision: &Revision) -> (bool, Step) {
    let set = &observed.set;
    let pod_name = identity::pod_name(identity::set_name(set), ordinal);
    let claims = identity::claims(set, ordinal);
    if identity::retention(set).delete_when_scaled
        && claims.iter().any(|(_, c)| {
            observed
                .claims
                .get(c.metadata.name.as_deref().unwrap_or_default())
                .is_some_and(|existing| identity::claim_is_stale(existing, &pod_name))
        })
    {
        return (true, Vec::new());
    }
    let mut step = Vec::new();
    for (_, claim) in claims {
        let claim_name = claim.metadata.name.clone().unwrap_or_default();
        match observed.claims.get(&claim_name) {
            Some(existing) if existing.metadata.deletion_timestamp.is_some() => {
                step.push(Action::ClaimTerminating { pod: pod_name, claim: claim_name });
                return (true, step);
            }
            Some(_) => {}
            None => {
                let mut claim = claim;
                if let ClaimOwners::Set(refs) =
                    identity::claim_owners(&claim, set, &pod_name, "", true)
                {
                    claim.metadata.owner_references = (!refs.is_empty()).then_some(refs);
                }
                step.push(Action::CreateClaim { claim: Box::new(claim), pod: pod_name.clone() });
            }
        }
    }
    step.push(Action::CreatePod(Box::new(identity::new_pod(
        set,
        &revision.template,
        ordinal,
        &revision.name,
    ))));
    step.extend(claim_owner_actions(observed, &pod_name, "", ordinal, true));
    (false, step)
}

/// `createMissingPersistentVolumeClaims` for a pending pod.
fn missing_claims(observed: &Observed, ordinal: i32) -> Step {
    let pod_name = identity::pod_name(identity::set_name(&observed.set), ordinal);
    identity::claims(&observed.set, ordinal)
        .into_iter()
        .filter(|(_, c)| {
            !observed.claims.contains_key(c.metadata.name.as_deref().unwrap_or_default())
        })
        .map(|(_, claim)| Action::CreateClaim { claim: Box::new(claim), pod: pod_name.clone() })
        .collect()
}

/// Owner reference fixes for the existing claims of a pod (`UpdatePodClaimForRetentionPolicy`).
fn claim_owner_actions(
    observed: &Observed,
    pod_name: &str,
    pod_uid: &str,
    ordinal: i32,
    in_range: bool,
) -> Step {
    let mut step = Vec::new();
    for (_, claim) in identity::claims(&observed.set, ordinal) {
        let claim_name = claim.metadata.name.unwrap_or_default();
        let Some(existing) = observed.claims.get(&claim_name) else { continue };
        if existing.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match identity::claim_owners(existing, &observed.set, pod_name, pod_uid, in_range) {
            ClaimOwners::Keep => {}
            ClaimOwners::Set(owner_references) => step.push(Action::SetClaimOwners {
                claim: claim_name,
                uid: existing.metadata.uid.clone().unwrap_or_default(),
                owner_references,
            }),
            ClaimOwners::Conflict => step.push(Action::ConflictingController { claim: claim_name }),
        }
    }
    step
}

/// When the next pod becomes available, if any Ready pod is still waiting out minReadySeconds.
fn requeue(pods: &[&CachedPod], min_ready: i32, now: Timestamp) -> Option<Duration> {
    if min_ready <= 0 {
        return None;
    }
    pods.iter()
        .filter_map(|p| available_at(p, min_ready))
        .filter(|at| *at >= now)
        .map(|at| {
            let wait = at.duration_since(now);
            Duration::from_millis(u64::try_from(wait.as_millis()).unwrap_or(0) + 100)
        })
        .min()
}

#[cfg(test)]
mod tests;
