//! The Job controller's decisions as pure functions of a Job, its pods, the pod-failure backoff
//! and the time: upstream's `syncJob` (job_controller.go) cut at its writes.
//!
//! Suggested reading order: [`claim`] (`getPodsForJob`'s `ClaimPods`), [`plan`] (`syncJob` up
//! to `manageJob`'s writes: the counters, the failure and success criteria, what to create or
//! delete), [`settle`] (what `syncJob` does with the writes' outcome: the `complete` check, the
//! `Suspended` condition, active/ready/terminating), [`track`] (`trackJobStatusAndRemoveFinalizers`
//! up to its first write: finished pods into `uncountedTerminatedPods`, the interim
//! `FailureTarget` / `SuccessCriteriaMet` conditions, which finalizers go), [`count_uncounted`]
//! (`cleanUncountedPodsWithoutFinalizers`) and [`enact_finished`] (`enactJobFinished`).
//! Around them: [`Intervals`] (indexed_job_utils.go's `orderedIntervals`), the pod failure
//! policy (pod_failure_policy.go), the success policy (success_policy.go), the pod-failure
//! backoff (backoff_utils.go) and [`pod_from_template`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{
    Job, JobCondition, JobSpec, JobStatus, PodFailurePolicy,
    PodFailurePolicyOnExitCodesRequirement, SuccessPolicy, UncountedTerminatedPods,
};
use k8s_openapi::api::core::v1::{Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::cached_pod::{CachedContainerStatus, CachedPod};
use crate::meta::{controller_of, name_of, namespace_of, new_controller_ref, selects};
use crate::replicaset::{max_restarts, phase_ordinal, ready_time};

/// `batch.JobTrackingFinalizer`: a pod keeps it until the controller has counted it.
pub(crate) const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// `batch.JobCompletionIndexAnnotation` (also the label, `PodIndexLabel` being GA).
pub(crate) const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// `batch.JobIndexFailureCountAnnotation`.
pub(crate) const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// `batch.JobIndexIgnoredFailureCountAnnotation`.
pub(crate) const INDEX_IGNORED_FAILURE_COUNT: &str =
    "batch.kubernetes.io/job-index-ignored-failure-count";
/// `completionIndexEnvName`.
pub(crate) const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// `batch.JobControllerName`: the `spec.managedBy` this controller serves.
pub(crate) const JOB_CONTROLLER_NAME: &str = "kubernetes.io/job-controller";

/// `MaxUncountedPods`: how many pods one sync moves through `uncountedTerminatedPods`.
pub(crate) const MAX_UNCOUNTED_PODS: usize = 500;
/// `MaxPodCreateDeletePerSync`.
pub(crate) const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;
/// `DefaultJobPodFailureBackOff`: the delay after the first failed pod.
pub(crate) const POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// `MaxJobPodFailureBackOff`.
pub(crate) const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(600);
/// `syncJobBatchPeriod`: the least delay of a backoff requeue.
const SYNC_BATCH_PERIOD: Duration = Duration::from_secs(1);
/// `names.MaxGeneratedNameLength`.
const MAX_GENERATED_NAME_LENGTH: usize = 58;

// Condition types and reasons (batch/v1).
pub(crate) const COMPLETE: &str = "Complete";
pub(crate) const FAILED: &str = "Failed";
pub(crate) const FAILURE_TARGET: &str = "FailureTarget";
pub(crate) const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
pub(crate) const SUSPENDED: &str = "Suspended";

// === the Job ===

/// `util.IsJobFinished`: a `Complete` or `Failed` condition that is True.
pub(crate) fn is_finished(job: &Job) -> bool {
    conditions(job).iter().any(|c| (c.type_ == COMPLETE || c.type_ == FAILED) && c.status == "True")
}

/// `managedByExternalController` (`JobManagedBy`, beta and on in v1.33).
pub(crate) fn managed_externally(job: &Job) -> Option<&str> {
    let managed_by = job.spec.as_ref()?.managed_by.as_deref()?;
    (managed_by != JOB_CONTROLLER_NAME).then_some(managed_by)
}

fn conditions(job: &Job) -> &[JobCondition] {
    job.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default()
}

fn spec_of(job: &Job) -> &JobSpec {
    static EMPTY: std::sync::OnceLock<JobSpec> = std::sync::OnceLock::new();
    job.spec.as_ref().unwrap_or_else(|| EMPTY.get_or_init(JobSpec::default))
}

fn is_indexed(job: &Job) -> bool {
    spec_of(job).completion_mode.as_deref() == Some("Indexed")
}

fn suspended(job: &Job) -> bool {
    spec_of(job).suspend == Some(true)
}

/// `spec.completions` of an Indexed Job (validation requires it; 0 when missing).
fn index_completions(job: &Job) -> i32 {
    spec_of(job).completions.unwrap_or(0)
}

/// `hasBackoffLimitPerIndex` (`JobBackoffLimitPerIndex`, GA in v1.33).
fn per_index(job: &Job) -> Option<i32> {
    spec_of(job).backoff_limit_per_index
}

/// `spec.backoffLimit` as defaulted: 6, or MaxInt32 with a per-index limit.
fn backoff_limit(job: &Job) -> i32 {
    let spec = spec_of(job);
    spec.backoff_limit.unwrap_or(if spec.backoff_limit_per_index.is_some() { i32::MAX } else { 6 })
}

/// `onlyReplaceFailedPods`: `podReplacementPolicy: Failed`, or any pod failure policy.
fn only_replace_failed(job: &Job) -> bool {
    let spec = spec_of(job);
    spec.pod_replacement_policy.as_deref() == Some("Failed") || spec.pod_failure_policy.is_some()
}

/// A condition as `newCondition` makes it, the time to the second as the API keeps it.
pub(crate) fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    let now = Time(Timestamp::from_second(now.as_second()).unwrap_or(now));
    JobCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()).filter(|r| !r.is_empty()),
        message: Some(message.to_owned()).filter(|m| !m.is_empty()),
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

/// `ensureJobConditionStatus`: sets the condition of that type (a new one is added only when
/// its status is not False); returns whether anything changed.
fn ensure_condition(
    list: &mut Option<Vec<JobCondition>>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let conditions = list.get_or_insert_default();
    if let Some(existing) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if existing.status != status
            || existing.reason.as_deref().unwrap_or_default() != reason
            || existing.message.as_deref().unwrap_or_default() != message
        {
            *existing = condition(type_, status, reason, message, now);
            return true;
        }
        return false;
    }
    if status != "False" {
        conditions.push(condition(type_, status, reason, message, now));
        return true;
    }
    if conditions.is_empty() {
        *list = None;
    }
    false
}

fn find_condition<'c>(list: &'c [JobCondition], type_: &str) -> Option<&'c JobCondition> {
    list.iter().find(|c| c.type_ == type_)
}

// === pods ===

/// A pod a plan names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodRef {
    pub(crate) name: String,
    pub(crate) uid: String,
    /// Whether it was Ready (what a delete takes off `status.ready`).
    pub(crate) ready: bool,
    /// Whether it has the tracking finalizer.
    pub(crate) tracked: bool,
}

impl PodRef {
    pub(crate) fn of(pod: &CachedPod) -> PodRef {
        PodRef {
            name: name_of(&pod.metadata).to_owned(),
            uid: uid_of(pod).to_owned(),
            ready: pod.is_ready(),
            tracked: has_tracking_finalizer(pod),
        }
    }
}

fn uid_of(pod: &CachedPod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

fn phase(pod: &CachedPod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

pub(crate) fn has_tracking_finalizer(pod: &CachedPod) -> bool {
    pod.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER)
}

/// `controller.IsPodActive`.
fn is_active(pod: &CachedPod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// `controller.IsPodTerminating`.
fn is_terminating(pod: &CachedPod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_some()
}

/// `getCompletionIndex`: the annotation as a non-negative number.
pub(crate) fn completion_index(pod: &CachedPod) -> Option<i32> {
    let value = pod.metadata.annotations.as_ref()?.get(COMPLETION_INDEX)?;
    value.parse::<i32>().ok().filter(|i| *i >= 0)
}

/// A pod's index when it is below `completions`.
fn valid_index(pod: &CachedPod, completions: i32) -> Option<i32> {
    completion_index(pod).filter(|i| *i < completions)
}

/// `isPodFailed`: Failed, or (unless only failed pods are replaced) being deleted while not
/// Succeeded — a pod deleted while running counts as a failure.
fn is_pod_failed(pod: &CachedPod, job: &Job) -> bool {
    if phase(pod) == "Failed" {
        return true;
    }
    if only_replace_failed(job) {
        return false;
    }
    pod.metadata.deletion_timestamp.is_some() && phase(pod) != "Succeeded"
}

fn annotation_count(pod: &CachedPod, key: &str) -> i32 {
    let value = pod.metadata.annotations.as_ref().and_then(|a| a.get(key));
    value
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| (0..=i64::from(i32::MAX)).contains(v))
        .map_or(0, |v| v as i32)
}

/// `getIndexAbsoluteFailureCount`.
fn absolute_failure_count(pod: &CachedPod) -> i32 {
    annotation_count(pod, INDEX_FAILURE_COUNT)
        .saturating_add(annotation_count(pod, INDEX_IGNORED_FAILURE_COUNT))
}

// === ClaimPods ===

/// What `getPodsForJob` writes before the sync goes on.
#[derive(Debug, Default)]
pub(crate) struct Claims<'a> {
    /// Orphans the selector matches: adopted with a controller reference and the finalizer.
    pub(crate) adopt: Vec<PodRef>,
    /// Pods the Job controls that its selector no longer matches.
    pub(crate) release: Vec<PodRef>,
    /// The Job's pods, of every phase.
    pub(crate) pods: Vec<&'a CachedPod>,
}

/// `ClaimPods` over the pods of the Job's namespace: owned pods that match stay, owned ones
/// that do not are released and matching orphans not being deleted are adopted (neither while
/// the Job is being deleted).
pub(crate) fn claim<'a>(job: &Job, namespace_pods: &[&'a CachedPod]) -> Claims<'a> {
    let uid = job.metadata.uid.as_deref().unwrap_or_default();
    let deleting = job.metadata.deletion_timestamp.is_some();
    // `LabelSelectorAsSelector(nil)` selects nothing.
    let selector = spec_of(job).selector.as_ref();
    let matches =
        |pod: &CachedPod| selector.is_some_and(|s| selects(Some(s), pod.metadata.labels.as_ref()));
    let mut claims = Claims::default();
    for pod in namespace_pods.iter().copied() {
        match controller_of(&pod.metadata) {
            Some(owner) if owner.uid == uid => {
                if matches(pod) {
                    claims.pods.push(pod);
                } else if !deleting {
                    claims.release.push(PodRef::of(pod));
                }
            }
            Some(_) => {}
            None => {
                if !deleting && matches(pod) && pod.metadata.deletion_timestamp.is_none() {
                    claims.adopt.push(PodRef::of(pod));
                }
            }
        }
    }
    claims
}

/// Whether an orphaned pod's tracking finalizer is to be removed (`syncOrphanPod`): it has
/// one, and no controller, or a batch/v1 Job controller that `live` does not know (gone,
/// replaced) or that is finished. `live` finds a Job by namespace and name.
pub(crate) fn orphan_needs_cleanup<'j>(
    pod: &CachedPod,
    live: impl Fn(&str, &str) -> Option<&'j Job>,
) -> bool {
    if !has_tracking_finalizer(pod) {
        return false;
    }
    let Some(owner) = controller_of(&pod.metadata) else { return true };
    if owner.kind != "Job" || owner.api_version != "batch/v1" {
        return false;
    }
    match live(namespace_of(&pod.metadata), &owner.name) {
        Some(job) if job.metadata.uid.as_deref() == Some(owner.uid.as_str()) => {
            managed_externally(job).is_none() && is_finished(job)
        }
        _ => true,
    }
}

// === the pod failure policy (pod_failure_policy.go) ===

/// What a failed pod's match against the pod failure policy says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyMatch {
    /// The Job's failure message, for a `FailJob` rule.
    pub(crate) fail_job: Option<String>,
    /// Whether the failure counts towards the backoff limits (not for `Ignore`).
    pub(crate) count: bool,
    /// The action of the rule that matched.
    pub(crate) action: Option<&'static str>,
}

/// `matchPodFailurePolicy`: the first rule whose exit codes or pod conditions match.
pub(crate) fn match_pod_failure_policy(
    policy: Option<&PodFailurePolicy>,
    pod: &CachedPod,
) -> PolicyMatch {
    let unmatched = PolicyMatch { fail_job: None, count: true, action: None };
    let Some(policy) = policy else { return unmatched };
    let status = pod.status.as_ref();
    for (index, rule) in policy.rules.iter().enumerate() {
        let matched: Option<String> = if let Some(requirement) = &rule.on_exit_codes {
            let containers =
                status.and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
            let init =
                status.and_then(|s| s.init_container_statuses.as_deref()).unwrap_or_default();
            matching_container(containers, requirement).or_else(|| matching_container(init, requirement)).map(|(name, code)| {
                format!(
                    "Container {name} for pod {}/{} failed with exit code {code} matching {} rule at index {index}",
                    namespace_of(&pod.metadata),
                    name_of(&pod.metadata),
                    rule.action
                )
            })
        } else if let Some(patterns) = &rule.on_pod_conditions {
            let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or_default();
            conditions
                .iter()
                .find(|c| patterns.iter().any(|p| p.type_ == c.type_ && p.status == c.status))
                .map(|c| {
                    format!(
                        "Pod {}/{} has condition {} matching {} rule at index {index}",
                        namespace_of(&pod.metadata),
                        name_of(&pod.metadata),
                        c.type_,
                        rule.action
                    )
                })
        } else {
            None
        };
        let Some(message) = matched else { continue };
        match rule.action.as_str() {
            "Ignore" => {
                return PolicyMatch { fail_job: None, count: false, action: Some("Ignore") };
            }
            "FailIndex" => {
                return PolicyMatch { fail_job: None, count: true, action: Some("FailIndex") };
            }
            "Count" => return PolicyMatch { fail_job: None, count: true, action: Some("Count") },
            "FailJob" => {
                return PolicyMatch {
                    fail_job: Some(message),
                    count: true,
                    action: Some("FailJob"),
                };
            }
            // An unknown action matches nothing (as Go's switch without a case).
            _ => {}
        }
    }
    unmatched
}

/// `getMatchingContainerFromList`: the first terminated container with a non-zero exit code
/// the requirement matches.
fn matching_container<'c>(
    statuses: &'c [CachedContainerStatus],
    requirement: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<(&'c str, i32)> {
    statuses.iter().find_map(|status| {
        let terminated = status.state.as_ref()?.terminated.as_ref()?;
        let named = requirement.container_name.as_deref().is_none_or(|n| n == status.name);
        let code = terminated.exit_code;
        let operator = match requirement.operator.as_str() {
            "In" => requirement.values.contains(&code),
            "NotIn" => !requirement.values.contains(&code),
            _ => false,
        };
        (named && code != 0 && operator).then_some((status.name.as_str(), code))
    })
}

/// `getFailJobMessage`: the message of the first failed pod that matches a `FailJob` rule.
fn fail_job_message(job: &Job, pods: &[&CachedPod]) -> Option<String> {
    let policy = spec_of(job).pod_failure_policy.as_ref()?;
    pods.iter()
        .filter(|p| is_pod_failed(p, job))
        .find_map(|p| match_pod_failure_policy(Some(policy), p).fail_job)
}

// === indexes (indexed_job_utils.go) ===

/// `orderedIntervals`: sorted, disjoint, non-adjacent `[first, last]` ranges of indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Intervals(pub(crate) Vec<(i32, i32)>);

impl Intervals {
    /// `parseIndexesFromString`: "1,3-5,7", indexes from `completions` on dropped, corrupt
    /// intervals skipped.
    pub(crate) fn parse(text: &str, completions: i32) -> Intervals {
        let mut result: Vec<(i32, i32)> = Vec::new();
        if text.is_empty() {
            return Intervals(result);
        }
        for interval in text.split(',') {
            let mut limits = interval.split('-');
            let Ok(first) = limits.next().unwrap_or_default().parse::<i32>() else { continue };
            if first >= completions {
                break;
            }
            let last = match limits.next() {
                Some(last) => match last.parse::<i32>() {
                    Ok(last) => last.min(completions - 1),
                    Err(_) => continue,
                },
                None => first,
            };
            match result.last_mut() {
                Some(previous) if previous.1 == first - 1 => previous.1 = last,
                _ => result.push((first, last)),
            }
        }
        Intervals(result)
    }

    /// `withOrderedIndexes`: these plus `indexes` (increasing).
    pub(crate) fn with_indexes(&self, indexes: impl IntoIterator<Item = i32>) -> Intervals {
        self.merge(&Intervals(indexes.into_iter().map(|i| (i, i)).collect()))
    }

    /// `merge`.
    pub(crate) fn merge(&self, other: &Intervals) -> Intervals {
        let mut all: Vec<(i32, i32)> = self.0.iter().chain(other.0.iter()).copied().collect();
        // Stable: on equal starts, ours first, as upstream's two-pointer merge.
        all.sort_by_key(|i| i.0);
        let mut result: Vec<(i32, i32)> = Vec::new();
        for interval in all {
            match result.last_mut() {
                Some(last) if interval.0 <= last.1.saturating_add(1) => {
                    last.1 = last.1.max(interval.1)
                }
                _ => result.push(interval),
            }
        }
        Intervals(result)
    }

    /// `total`: how many indexes.
    pub(crate) fn total(&self) -> i32 {
        self.0.iter().map(|(first, last)| last - first + 1).sum()
    }

    /// `has`.
    pub(crate) fn has(&self, index: i32) -> bool {
        let at = self.0.partition_point(|(_, last)| *last < index);
        self.0.get(at).is_some_and(|(first, _)| *first <= index)
    }
}

impl fmt::Display for Intervals {
    /// "0-2,4,6,7": ranges of three or more with a dash, pairs with a comma.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (first, last)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{first}")?;
            if last > first {
                write!(f, "{}{last}", if *last == first + 1 { ',' } else { '-' })?;
            }
        }
        Ok(())
    }
}

/// `isIndexFailed`: the pod failed its index (a `FailIndex` rule, or its counted failures
/// reached `backoffLimitPerIndex`).
fn is_index_failed(job: &Job, pod: &CachedPod, limit: i32) -> bool {
    if !is_pod_failed(pod, job) {
        return false;
    }
    let counted = match spec_of(job).pod_failure_policy.as_ref() {
        Some(policy) => {
            let matched = match_pod_failure_policy(Some(policy), pod);
            if matched.action == Some("FailIndex") {
                return true;
            }
            matched.count
        }
        None => true,
    };
    counted && annotation_count(pod, INDEX_FAILURE_COUNT) >= limit
}

// === the pod-failure backoff (backoff_utils.go) ===

/// `backoffRecord`: consecutive failures since the last success, and when the last was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BackoffRecord {
    pub(crate) failures_after_last_success: i32,
    pub(crate) last_failure_time: Option<Timestamp>,
}

impl BackoffRecord {
    /// `getRemainingTime`: how long new pods must still wait.
    pub(crate) fn remaining(&self, now: Timestamp) -> Duration {
        remaining_for(self.failures_after_last_success, self.last_failure_time, now)
    }
}

/// `getRemainingTimeForFailuresCount`: 10 s doubling per failure up to 10 min, from the last
/// failure.
fn remaining_for(failures: i32, last: Option<Timestamp>, now: Timestamp) -> Duration {
    let Some(last) = last.filter(|_| failures > 0) else { return Duration::ZERO };
    let mut backoff = POD_FAILURE_BACKOFF;
    for _ in 1..failures {
        backoff *= 2;
        if backoff >= MAX_POD_FAILURE_BACKOFF {
            backoff = MAX_POD_FAILURE_BACKOFF;
            break;
        }
    }
    let elapsed = Duration::try_from(now.duration_since(last)).unwrap_or(Duration::ZERO);
    backoff.saturating_sub(elapsed)
}

/// `newBackoffRecord`: the record after this sync's newly finished pods.
fn new_backoff_record(
    old: Option<&BackoffRecord>,
    succeeded: &[&CachedPod],
    failed: &[&CachedPod],
) -> BackoffRecord {
    let mut record = old.cloned().unwrap_or_default();
    let mut failed_times: Vec<Timestamp> = failed.iter().map(|p| finished_time(p)).collect();
    failed_times.sort();
    let last_success = succeeded.iter().map(|p| finished_time(p)).max();
    match last_success {
        None => {
            if let Some(last) = failed_times.last() {
                record.failures_after_last_success += failed_times.len() as i32;
                record.last_failure_time = Some(*last);
            }
        }
        Some(success) => {
            record.failures_after_last_success = 0;
            record.last_failure_time = None;
            for failure in failed_times.iter().rev() {
                if *failure <= success {
                    break;
                }
                record.last_failure_time.get_or_insert(*failure);
                record.failures_after_last_success += 1;
            }
        }
    }
    record
}

/// `getFinishedTime`: the last container's finish, else when Ready went False, else the
/// deletion time less its grace, else the creation time.
fn finished_time(pod: &CachedPod) -> Timestamp {
    let statuses =
        pod.status.as_ref().and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
    let mut from_containers: Option<Timestamp> = None;
    let mut all_finished = !statuses.is_empty();
    for status in statuses {
        let at = status
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.finished_at.as_ref());
        match at {
            Some(at) => {
                from_containers = Some(from_containers.map_or(at.0, |f: Timestamp| f.max(at.0)))
            }
            None => all_finished = false,
        }
    }
    if all_finished && let Some(at) = from_containers {
        return at;
    }
    if let Some(ready) = pod.ready_condition().filter(|c| c.status == "False")
        && let Some(at) = &ready.last_transition_time
    {
        return at.0;
    }
    if let Some(deleted) = &pod.metadata.deletion_timestamp {
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
        return deleted.0.checked_sub(SignedDuration::from_secs(grace)).unwrap_or(deleted.0);
    }
    pod.metadata.creation_timestamp.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0)
}

// === syncJob ===

/// What `manageJob` (or, for a finished Job, `deleteActivePods`) writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Manage {
    /// Nothing, or `manageJob` was not called (the Job is being deleted).
    Nothing,
    /// The Job finished: its active pods are deleted, their finalizers kept for the tracking.
    DeleteActive(Vec<PodRef>),
    /// Suspended, or too many pods: each pod's finalizer removed, then the pod deleted
    /// (`deleteJobPods`).
    Delete(Vec<PodRef>),
    /// Create these pods.
    Create(Vec<NewPod>),
    /// Pods are missing but the pod-failure backoff holds them back until then.
    Wait(Timestamp),
}

/// A pod to create: its completion index (Indexed Jobs) and, with `backoffLimitPerIndex`,
/// the failure counts it carries on from the pod it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewPod {
    pub(crate) index: Option<i32>,
    /// `job-index-failure-count` and `job-index-ignored-failure-count`.
    pub(crate) failure_counts: Option<(i32, i32)>,
}

/// `syncJobCtx` once `syncJob` has decided, before the writes.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// The Job's pods (`jobCtx.pods`).
    pub(crate) pods: Vec<&'a CachedPod>,
    /// The status being built: `uncountedTerminatedPods` present, `startTime` set.
    pub(crate) status: JobStatus,
    /// `finishedCondition`: the condition the sync is heading for.
    pub(crate) finished: Option<JobCondition>,
    pub(crate) manage: Manage,
    /// Whether `manageJob` ran (the Job is not finishing nor being deleted).
    pub(crate) manage_called: bool,
    pub(crate) active: i32,
    pub(crate) ready: i32,
    pub(crate) terminating: i32,
    /// `jobCtx.succeeded`: counted, uncounted and newly succeeded pods (indexes).
    pub(crate) succeeded: i32,
    /// The backoff record once this sync's flush is written (`newBackoffRecord`).
    pub(crate) backoff: BackoffRecord,
    /// When to sync again: the active deadline, or the end of a backoff.
    pub(crate) recheck: Option<Timestamp>,
    /// Indexed Jobs: `prevSucceededIndexes`, `succeededIndexes` and `failedIndexes`.
    pub(crate) indexes: Option<IndexState>,
    /// `podsWithDelayedDeletionPerIndex`: per index, the uid of the failed pod whose finalizer
    /// stays until its replacement exists.
    pub(crate) delayed_deletion: HashMap<i32, String>,
    /// The event of a `Suspended` change ([`settle`]).
    pub(crate) suspend_event: Option<(&'static str, &'static str)>,
    /// Whether the status changed outside the tracking (`needsStatusUpdate`; [`settle`]).
    pub(crate) needs_update: bool,
}

/// The indexes of an Indexed Job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IndexState {
    pub(crate) previous_succeeded: Intervals,
    pub(crate) succeeded: Intervals,
    /// Only with `backoffLimitPerIndex`.
    pub(crate) failed: Option<Intervals>,
}

/// `syncJob` up to its writes, for a Job that is not finished nor managed elsewhere, with its
/// claimed pods and its backoff record.
pub(crate) fn plan<'a>(
    job: &Job,
    pods: Vec<&'a CachedPod>,
    backoff: Option<&BackoffRecord>,
    now: Timestamp,
) -> Plan<'a> {
    let spec = spec_of(job);
    let mut status = job.status.clone().unwrap_or_default();
    let uncounted = status.uncounted_terminated_pods.get_or_insert_default();
    let uncounted_succeeded: HashSet<&str> =
        uncounted.succeeded.iter().flatten().map(String::as_str).collect();
    let uncounted_failed: HashSet<&str> =
        uncounted.failed.iter().flatten().map(String::as_str).collect();
    let active_pods: Vec<&CachedPod> = pods.iter().copied().filter(|p| is_active(p)).collect();
    let ready = active_pods.iter().filter(|p| p.is_ready()).count() as i32;
    let terminating = pods.iter().filter(|p| is_terminating(p)).count() as i32;
    let active = active_pods.len() as i32;

    // `getNewFinishedPods`: pods with the finalizer not yet uncounted (and a valid index).
    let valid = |p: &&CachedPod| {
        has_tracking_finalizer(p)
            && (!is_indexed(job) || valid_index(p, index_completions(job)).is_some())
    };
    let new_succeeded: Vec<&CachedPod> = pods
        .iter()
        .copied()
        .filter(valid)
        .filter(|p| !uncounted_succeeded.contains(uid_of(p)) && phase(p) == "Succeeded")
        .collect();
    let new_failed: Vec<&CachedPod> = pods
        .iter()
        .copied()
        .filter(valid)
        .filter(|p| !uncounted_failed.contains(uid_of(p)) && is_pod_failed(p, job))
        .collect();
    let policy = spec.pod_failure_policy.as_ref();
    let non_ignored =
        new_failed.iter().filter(|p| match_pod_failure_policy(policy, p).count).count();
    let mut succeeded = status.succeeded.unwrap_or(0)
        + new_succeeded.len() as i32
        + uncounted_succeeded.len() as i32;
    let failed = status.failed.unwrap_or(0) + non_ignored as i32 + uncounted_failed.len() as i32;

    if status.start_time.is_none() && !suspended(job) {
        status.start_time = Some(Time(Timestamp::from_second(now.as_second()).unwrap_or(now)));
    }
    let new_backoff = new_backoff_record(backoff, &new_succeeded, &new_failed);

    let mut recheck: Option<Timestamp> = None;
    let existing = status.conditions.as_deref().unwrap_or_default();
    let mut finished: Option<JobCondition> =
        find_condition(existing, SUCCESS_CRITERIA_MET).filter(|c| c.status == "True").cloned();
    if finished.is_none() {
        if let Some(target) =
            find_condition(existing, FAILURE_TARGET).filter(|c| c.status == "True")
        {
            finished = Some(condition(
                FAILED,
                "True",
                target.reason.as_deref().unwrap_or_default(),
                target.message.as_deref().unwrap_or_default(),
                now,
            ));
        } else if let Some(message) = fail_job_message(job, &pods) {
            finished = Some(condition(FAILURE_TARGET, "True", "PodFailurePolicy", &message, now));
        }
    }
    if finished.is_none() {
        if failed > backoff_limit(job) || past_backoff_limit_on_failure(job, &pods) {
            finished = Some(condition(
                FAILURE_TARGET,
                "True",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                now,
            ));
        } else if let Some(deadline) = active_deadline(job, &status) {
            if now >= deadline {
                finished = Some(condition(
                    FAILURE_TARGET,
                    "True",
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                    now,
                ));
            } else {
                recheck = Some(deadline);
            }
        }
    }

    let mut indexes = None;
    let mut delayed_deletion = HashMap::new();
    if is_indexed(job) {
        let completions = index_completions(job);
        let previous =
            Intervals::parse(status.completed_indexes.as_deref().unwrap_or_default(), completions);
        let newly: BTreeSet<i32> = pods
            .iter()
            .filter(|p| phase(p) == "Succeeded" && has_tracking_finalizer(p))
            .filter_map(|p| valid_index(p, completions))
            .collect();
        let all_succeeded = previous.with_indexes(newly);
        succeeded = all_succeeded.total();
        let mut failed_indexes = None;
        if let Some(limit) = per_index(job) {
            let before = status
                .failed_indexes
                .as_deref()
                .map(|f| Intervals::parse(f, completions))
                .unwrap_or_default();
            let newly: BTreeSet<i32> = pods
                .iter()
                .filter(|p| has_tracking_finalizer(p) && is_index_failed(job, p, limit))
                .filter_map(|p| valid_index(p, completions))
                .collect();
            let failed_now = before.with_indexes(newly);
            if finished.is_none() {
                if spec.max_failed_indexes.is_some_and(|max| failed_now.total() > max) {
                    finished = Some(condition(
                        FAILURE_TARGET,
                        "True",
                        "MaxFailedIndexesExceeded",
                        "Job has exceeded the specified maximal number of failed indexes",
                        now,
                    ));
                } else if failed_now.total() > 0
                    && failed_now.total() + all_succeeded.total() >= completions
                {
                    finished = Some(condition(
                        FAILURE_TARGET,
                        "True",
                        "FailedIndexes",
                        "Job has failed indexes",
                        now,
                    ));
                }
            }
            delayed_deletion =
                delayed_deletion_per_index(job, &pods, &active_pods, &all_succeeded, &failed_now);
            failed_indexes = Some(failed_now);
        }
        if finished.is_none()
            && let Some(message) =
                match_success_policy(spec.success_policy.as_ref(), completions, &all_succeeded)
        {
            finished =
                Some(condition(SUCCESS_CRITERIA_MET, "True", "SuccessPolicy", &message, now));
        }
        indexes = Some(IndexState {
            previous_succeeded: previous,
            succeeded: all_succeeded,
            failed: failed_indexes,
        });
    }

    let mut plan = Plan {
        pods,
        status,
        finished,
        manage: Manage::Nothing,
        manage_called: false,
        active,
        ready,
        terminating,
        succeeded,
        backoff: new_backoff,
        recheck,
        indexes,
        delayed_deletion,
        suspend_event: None,
        needs_update: false,
    };
    if plan.finished.is_some() {
        plan.manage = Manage::DeleteActive(active_pods.iter().map(|p| PodRef::of(p)).collect());
    } else if job.metadata.deletion_timestamp.is_none() {
        plan.manage = manage(job, &plan, &active_pods, now);
        plan.manage_called = true;
        if let Manage::Wait(at) = plan.manage {
            plan.recheck = Some(plan.recheck.map_or(at, |r| r.min(at)));
        }
    }
    plan
}

/// When `activeDeadlineSeconds` runs out (`pastActiveDeadline`; never while suspended).
fn active_deadline(job: &Job, status: &JobStatus) -> Option<Timestamp> {
    let seconds = spec_of(job).active_deadline_seconds?;
    let start = status.start_time.as_ref()?;
    if suspended(job) {
        return None;
    }
    Some(start.0.checked_add(SignedDuration::from_secs(seconds)).unwrap_or(Timestamp::MAX))
}

/// `pastBackoffLimitOnFailure`: with `restartPolicy: OnFailure`, the restarts of the running
/// and pending pods reach the backoff limit.
fn past_backoff_limit_on_failure(job: &Job, pods: &[&CachedPod]) -> bool {
    let template = spec_of(job).template.spec.as_ref();
    if template.and_then(|s| s.restart_policy.as_deref()) != Some("OnFailure") {
        return false;
    }
    let restarts: i64 = pods
        .iter()
        .filter(|p| matches!(phase(p), "Running" | "Pending"))
        .flat_map(|p| {
            let status = p.status.as_ref();
            let init =
                status.and_then(|s| s.init_container_statuses.as_deref()).unwrap_or_default();
            let main = status.and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
            init.iter().chain(main).map(|c| i64::from(c.restart_count))
        })
        .sum();
    let limit = i64::from(backoff_limit(job));
    if limit == 0 { restarts > 0 } else { restarts >= limit }
}

/// `matchSuccessPolicy` (`JobSuccessPolicy`, GA in v1.33): "Matched rules at index N".
pub(crate) fn match_success_policy(
    policy: Option<&SuccessPolicy>,
    completions: i32,
    succeeded: &Intervals,
) -> Option<String> {
    let policy = policy?;
    if succeeded.0.is_empty() {
        return None;
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        let matched = if let Some(required) = &rule.succeeded_indexes {
            let required = Intervals::parse(required, completions);
            if required.0.is_empty() {
                continue;
            }
            let overlap = required.0.iter().map(|(first, last)| {
                succeeded
                    .0
                    .iter()
                    .map(|(f, l)| ((*last).min(*l) - (*first).max(*f) + 1).max(0))
                    .sum::<i32>()
            });
            let contains: i32 = overlap.sum();
            contains == required.total() || rule.succeeded_count.is_some_and(|c| contains >= c)
        } else {
            rule.succeeded_count.is_some_and(|c| succeeded.total() >= c)
        };
        if matched {
            return Some(format!("Matched rules at index {index}"));
        }
    }
    None
}

/// `getPodsWithDelayedDeletionPerIndex`: per index that is neither succeeded, failed nor
/// active, the last failed pod, whose finalizer stays until its replacement carries its count.
fn delayed_deletion_per_index(
    job: &Job,
    pods: &[&CachedPod],
    active: &[&CachedPod],
    succeeded: &Intervals,
    failed: &Intervals,
) -> HashMap<i32, String> {
    let completions = index_completions(job);
    let active_indexes: HashSet<i32> = active.iter().filter_map(|p| completion_index(p)).collect();
    let mut last: HashMap<i32, &CachedPod> = HashMap::new();
    for pod in pods.iter().copied().filter(|p| has_tracking_finalizer(p) && is_pod_failed(p, job)) {
        let Some(index) = valid_index(pod, completions) else { continue };
        if succeeded.has(index) || failed.has(index) || active_indexes.contains(&index) {
            continue;
        }
        match last.get(&index) {
            Some(previous)
                if !(absolute_failure_count(previous) <= absolute_failure_count(pod)
                    && finished_time(pod) >= finished_time(previous)) => {}
            _ => {
                last.insert(index, pod);
            }
        }
    }
    last.into_iter().map(|(index, pod)| (index, uid_of(pod).to_owned())).collect()
}

/// `manageJob`: delete every active pod of a suspended Job, the surplus of a Job with too many,
/// or create the missing ones (unless the backoff holds them back).
fn manage(job: &Job, plan: &Plan<'_>, active_pods: &[&CachedPod], now: Timestamp) -> Manage {
    let spec = spec_of(job);
    let active = plan.active;
    if suspended(job) {
        return Manage::Delete(pods_for_removal(job, active_pods, active_pods.len()));
    }
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let want_active = match spec.completions {
        None if plan.succeeded > 0 => active,
        None => parallelism,
        Some(completions) => (completions - plan.succeeded).min(parallelism).max(0),
    };
    let remove = usize::try_from(active - want_active).unwrap_or(0);
    let mut doomed = pods_for_removal(job, active_pods, remove);
    doomed.truncate(MAX_POD_CREATE_DELETE_PER_SYNC);
    if !doomed.is_empty() {
        return Manage::Delete(doomed);
    }
    let terminating = if only_replace_failed(job) { plan.terminating } else { 0 };
    let diff = want_active - terminating - active;
    if diff <= 0 {
        return Manage::Nothing;
    }
    let wait_until = |remaining: Duration| {
        let remaining = remaining.max(SYNC_BATCH_PERIOD);
        now.checked_add(SignedDuration::try_from(remaining).unwrap_or(SignedDuration::MAX))
            .unwrap_or(Timestamp::MAX)
    };
    if per_index(job).is_none() {
        let remaining = plan.backoff.remaining(now);
        if !remaining.is_zero() {
            return Manage::Wait(wait_until(remaining));
        }
    }
    let diff = (diff as usize).min(MAX_POD_CREATE_DELETE_PER_SYNC);
    if !is_indexed(job) {
        return Manage::Create(vec![NewPod { index: None, failure_counts: None }; diff]);
    }
    let mut indexes = first_pending_indexes(job, plan, active_pods, diff);
    let mut counts: HashMap<i32, (i32, i32)> = HashMap::new();
    if per_index(job).is_some() {
        // `getPodCreationInfoForIndependentIndexes`: indexes whose backoff is over, else the
        // earliest end of one.
        let by_uid: HashMap<&str, &CachedPod> = plan.pods.iter().map(|p| (uid_of(p), *p)).collect();
        let replaced = |index: i32| {
            plan.delayed_deletion.get(&index).and_then(|uid| by_uid.get(uid.as_str()).copied())
        };
        let mut soonest: Option<Duration> = None;
        indexes.retain(|index| {
            let remaining = replaced(*index).map_or(Duration::ZERO, |pod| {
                remaining_for(absolute_failure_count(pod) + 1, Some(finished_time(pod)), now)
            });
            if !remaining.is_zero() {
                soonest = Some(soonest.map_or(remaining, |s| s.min(remaining)));
            }
            remaining.is_zero()
        });
        if indexes.is_empty()
            && let Some(remaining) = soonest
        {
            return Manage::Wait(wait_until(remaining));
        }
        for index in &indexes {
            counts.insert(*index, new_index_failure_counts(job, replaced(*index)));
        }
    }
    if indexes.is_empty() {
        return Manage::Nothing;
    }
    Manage::Create(
        indexes
            .into_iter()
            .map(|index| NewPod { index: Some(index), failure_counts: counts.get(&index).copied() })
            .collect(),
    )
}

/// `getNewIndexFailureCounts`: the replaced pod's counts, one more failure (counted or
/// ignored by the pod failure policy).
fn new_index_failure_counts(job: &Job, replaced: Option<&CachedPod>) -> (i32, i32) {
    let Some(pod) = replaced else { return (0, 0) };
    let (mut counted, mut ignored) = (
        annotation_count(pod, INDEX_FAILURE_COUNT),
        annotation_count(pod, INDEX_IGNORED_FAILURE_COUNT),
    );
    let policy = spec_of(job).pod_failure_policy.as_ref();
    if policy.is_none() || match_pod_failure_policy(policy, pod).count {
        counted += 1;
    } else {
        ignored += 1;
    }
    (counted, ignored)
}

/// `firstPendingIndexes`: the first `count` indexes below `completions` that are not
/// succeeded, active, failed or (replacing only failed pods) terminating.
fn first_pending_indexes(
    job: &Job,
    plan: &Plan<'_>,
    active_pods: &[&CachedPod],
    count: usize,
) -> Vec<i32> {
    let completions = index_completions(job);
    let Some(state) = &plan.indexes else { return Vec::new() };
    let active: BTreeSet<i32> = active_pods.iter().filter_map(|p| completion_index(p)).collect();
    let mut busy = state.succeeded.with_indexes(active);
    if only_replace_failed(job) {
        let terminating: BTreeSet<i32> = plan
            .pods
            .iter()
            .filter(|p| is_terminating(p))
            .filter_map(|p| completion_index(p))
            .collect();
        busy = busy.with_indexes(terminating);
    }
    if let Some(failed) = &state.failed {
        busy = busy.merge(failed);
    }
    (0..completions).filter(|i| !busy.has(*i)).take(count).collect()
}

/// `activePodsForRemoval`: for Indexed Jobs, first the pods without a valid index and the
/// duplicates of an index; then, to reach `at_least`, the active pods in `ActivePods` order.
fn pods_for_removal(job: &Job, pods: &[&CachedPod], at_least: usize) -> Vec<PodRef> {
    let mut remove: Vec<&CachedPod> = Vec::new();
    let mut left: Vec<&CachedPod> = Vec::new();
    if is_indexed(job) {
        let completions = index_completions(job);
        let mut by_index: std::collections::BTreeMap<i32, Vec<&CachedPod>> =
            std::collections::BTreeMap::new();
        for pod in pods {
            match completion_index(pod) {
                Some(index) if index < completions => by_index.entry(index).or_default().push(pod),
                _ => remove.push(pod),
            }
        }
        for (_, mut same) in by_index {
            if same.len() > 1 {
                same.sort_by(|a, b| active_pods_order(a, b));
            }
            let keep = same.pop();
            remove.extend(same);
            left.extend(keep);
        }
    } else {
        left = pods.to_vec();
    }
    if remove.len() < at_least {
        left.sort_by(|a, b| active_pods_order(a, b));
        let more = at_least - remove.len();
        remove.extend(left.into_iter().take(more));
    }
    remove.into_iter().map(PodRef::of).collect()
}

/// `controller.ActivePods`' order: unassigned, pending, not ready, ready for less time, more
/// restarts, newer first.
fn active_pods_order(a: &CachedPod, b: &CachedPod) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let node =
        |p: &CachedPod| p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    let (node_a, node_b) = (node(a), node(b));
    if node_a != node_b && (node_a.is_empty() || node_b.is_empty()) {
        return if node_a.is_empty() { Ordering::Less } else { Ordering::Greater };
    }
    let by_phase = phase_ordinal(a).cmp(&phase_ordinal(b));
    if by_phase != Ordering::Equal {
        return by_phase;
    }
    if a.is_ready() != b.is_ready() {
        return if a.is_ready() { Ordering::Greater } else { Ordering::Less };
    }
    // `afterOrZero`: a missing time first, then the later one.
    let after_or_zero = |x: Option<Timestamp>, y: Option<Timestamp>| match (x, y) {
        (None, _) | (_, None) => {
            if x.is_none() {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (Some(x), Some(y)) => y.cmp(&x),
    };
    if a.is_ready() && b.is_ready() && ready_time(a) != ready_time(b) {
        return after_or_zero(ready_time(a), ready_time(b));
    }
    if max_restarts(a) != max_restarts(b) {
        return max_restarts(b).cmp(&max_restarts(a));
    }
    let created = |p: &CachedPod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    if created(a) != created(b) {
        return after_or_zero(created(a), created(b));
    }
    Ordering::Equal
}

/// What the writes of [`Manage`] achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Pods deleted (or already gone).
    pub(crate) deleted: i32,
    /// Of those, the ones that were Ready.
    pub(crate) deleted_ready: i32,
    /// Pods created.
    pub(crate) created: i32,
}

/// The rest of `syncJob` once the pods are written: the counts, and — when `manageJob` ran —
/// `complete` or the `Suspended` condition (and the start time of a resumed Job).
pub(crate) fn settle(job: &Job, plan: &mut Plan<'_>, outcome: Outcome, now: Timestamp) {
    let mut suspend_changed = false;
    match &plan.manage {
        Manage::DeleteActive(pods) => {
            // Not finished while some pod could not be deleted.
            if outcome.deleted != pods.len() as i32 {
                plan.finished = None;
            }
            plan.active -= outcome.deleted;
            plan.terminating += outcome.deleted;
            plan.ready -= outcome.deleted_ready;
        }
        manage => {
            match manage {
                Manage::Delete(_) => {
                    plan.active -= outcome.deleted;
                    plan.terminating += outcome.deleted;
                    plan.ready -= outcome.deleted_ready;
                }
                Manage::Create(_) => plan.active += outcome.created,
                _ => {}
            }
            let complete = match spec_of(job).completions {
                None => plan.succeeded > 0 && plan.active == 0,
                Some(completions) => plan.succeeded >= completions && plan.active == 0,
            };
            if complete {
                plan.finished = Some(condition(
                    SUCCESS_CRITERIA_MET,
                    "True",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    now,
                ));
            } else if plan.manage_called {
                let conditions = &mut plan.status.conditions;
                if suspended(job) {
                    if ensure_condition(
                        conditions,
                        SUSPENDED,
                        "True",
                        "JobSuspended",
                        "Job suspended",
                        now,
                    ) {
                        suspend_changed = true;
                        plan.suspend_event = Some(("Suspended", "Job suspended"));
                    }
                } else if ensure_condition(
                    conditions,
                    SUSPENDED,
                    "False",
                    "JobResumed",
                    "Job resumed",
                    now,
                ) {
                    suspend_changed = true;
                    plan.suspend_event = Some(("Resumed", "Job resumed"));
                    // `activeDeadlineSeconds` counts from the resumption.
                    plan.status.start_time =
                        Some(Time(Timestamp::from_second(now.as_second()).unwrap_or(now)));
                }
            }
        }
    }
    let status = &plan.status;
    plan.needs_update = suspend_changed
        || plan.active != status.active.unwrap_or(0)
        || Some(plan.ready) != status.ready
        || Some(plan.terminating) != status.terminating;
    plan.status.active = Some(plan.active).filter(|a| *a != 0);
    plan.status.ready = Some(plan.ready);
    plan.status.terminating = Some(plan.terminating);
}

/// What `trackJobStatusAndRemoveFinalizers` writes first.
#[derive(Debug)]
pub(crate) struct Track {
    /// The status with the newly finished pods uncounted and any interim condition.
    pub(crate) status: JobStatus,
    /// Whether that status must be written before the finalizers go.
    pub(crate) needs_flush: bool,
    /// The pods whose finalizer to remove.
    pub(crate) remove: Vec<PodRef>,
    /// The uids of the Job's pods that still have the finalizer.
    pub(crate) with_finalizer: HashSet<String>,
    /// The terminal condition to set once every pod is counted (`Complete` or `Failed`).
    pub(crate) finished: Option<JobCondition>,
    /// Whether the sync stopped at [`MAX_UNCOUNTED_PODS`].
    pub(crate) reached_max: bool,
}

/// `trackJobStatusAndRemoveFinalizers` up to its first write: finished pods join
/// `uncountedTerminatedPods` (Indexed Jobs' succeeded ones their index instead), the interim
/// `FailureTarget`/`SuccessCriteriaMet` condition is added, and the finalizers to remove are
/// chosen (`canRemoveFinalizer`).
pub(crate) fn track(job: &Job, plan: &Plan<'_>, now: Timestamp) -> Track {
    let indexed = is_indexed(job);
    let completions = index_completions(job);
    let mut status = plan.status.clone();
    let mut pods = plan.pods.clone();
    if indexed {
        // Stable: pods without an index first, as upstream's sort puts -1 first.
        pods.sort_by_key(|p| completion_index(p).unwrap_or(-1));
    }
    let mut with_finalizer: HashSet<String> =
        pods.iter().filter(|p| has_tracking_finalizer(p)).map(|p| uid_of(p).to_owned()).collect();
    let mut needs_flush = plan.needs_update;
    if count_uncounted(&mut status, &with_finalizer) {
        needs_flush = true;
    }
    let uncounted_before = plan.status.uncounted_terminated_pods.clone().unwrap_or_default();
    let was_uncounted_failed: HashSet<&str> =
        uncounted_before.failed.iter().flatten().map(String::as_str).collect();
    let was_uncounted_succeeded: HashSet<&str> =
        uncounted_before.succeeded.iter().flatten().map(String::as_str).collect();
    let policy = spec_of(job).pod_failure_policy.as_ref();
    let finishing_unsuccessfully =
        plan.finished.as_ref().is_some_and(|c| c.type_ != SUCCESS_CRITERIA_MET);
    let mut remove = Vec::new();
    let mut new_succeeded_indexes: Vec<i32> = Vec::new();
    let mut reached_max = false;
    let uncounted = status.uncounted_terminated_pods.get_or_insert_default();
    for pod in pods.iter().copied() {
        if !has_tracking_finalizer(pod) {
            continue;
        }
        let failed = is_pod_failed(pod, job);
        if !can_remove_finalizer(job, plan, pod, failed) {
            continue;
        }
        remove.push(PodRef::of(pod));
        let uid = uid_of(pod);
        if phase(pod) == "Succeeded" && !was_uncounted_failed.contains(uid) {
            if indexed {
                let previous = plan.indexes.as_ref().map(|s| &s.previous_succeeded);
                if let Some(index) = valid_index(pod, completions)
                    && !previous.is_some_and(|p| p.has(index))
                {
                    new_succeeded_indexes.push(index);
                    needs_flush = true;
                }
            } else if !was_uncounted_succeeded.contains(uid) {
                needs_flush = true;
                uncounted.succeeded.get_or_insert_default().push(uid.to_owned());
            }
        } else if (failed || finishing_unsuccessfully)
            && !was_uncounted_failed.contains(uid)
            && (!indexed || valid_index(pod, completions).is_some())
            && match_pod_failure_policy(policy, pod).count
        {
            needs_flush = true;
            uncounted.failed.get_or_insert_default().push(uid.to_owned());
        }
        let uncounted_now = uncounted.succeeded.as_ref().map_or(0, Vec::len)
            + uncounted.failed.as_ref().map_or(0, Vec::len);
        if new_succeeded_indexes.len() + uncounted_now >= MAX_UNCOUNTED_PODS {
            reached_max = true;
            break;
        }
    }
    if indexed && let Some(state) = &plan.indexes {
        new_succeeded_indexes.sort_unstable();
        let succeeded = state.succeeded.with_indexes(new_succeeded_indexes);
        let text = succeeded.to_string();
        if Some(text.as_str()) != status.completed_indexes.as_deref().or(Some("")) {
            needs_flush = true;
        }
        status.succeeded = Some(succeeded.total()).filter(|s| *s != 0);
        status.completed_indexes = Some(text).filter(|t| !t.is_empty());
        let failed = state.failed.as_ref().map(ToString::to_string);
        if failed != status.failed_indexes {
            status.failed_indexes = failed;
            needs_flush = true;
        }
    }
    let mut finished = plan.finished.clone();
    if let Some(target) = finished.as_ref().filter(|c| c.type_ == FAILURE_TARGET) {
        status.conditions.get_or_insert_default().push(target.clone());
        needs_flush = true;
        finished = Some(condition(
            FAILED,
            "True",
            target.reason.as_deref().unwrap_or_default(),
            target.message.as_deref().unwrap_or_default(),
            now,
        ));
    }
    if let Some(met) =
        finished.as_ref().filter(|c| c.type_ == SUCCESS_CRITERIA_MET && c.status == "True")
    {
        let existing = status.conditions.as_deref().unwrap_or_default();
        let has =
            find_condition(existing, SUCCESS_CRITERIA_MET).is_some_and(|c| c.status == "True");
        let met = met.clone();
        if !has {
            status.conditions.get_or_insert_default().push(met.clone());
            needs_flush = true;
        }
        finished = Some(condition(
            COMPLETE,
            "True",
            met.reason.as_deref().unwrap_or_default(),
            met.message.as_deref().unwrap_or_default(),
            now,
        ));
    }
    with_finalizer.shrink_to_fit();
    Track { status, needs_flush, remove, with_finalizer, finished, reached_max }
}

/// `canRemoveFinalizer`: the Job is being deleted or finishing, the pod succeeded, or it
/// failed (unless, with `backoffLimitPerIndex`, it awaits its replacement).
fn can_remove_finalizer(job: &Job, plan: &Plan<'_>, pod: &CachedPod, failed: bool) -> bool {
    if job.metadata.deletion_timestamp.is_some()
        || plan.finished.is_some()
        || phase(pod) == "Succeeded"
    {
        return true;
    }
    if !failed {
        return false;
    }
    if per_index(job).is_some()
        && let Some(index) = completion_index(pod)
        && plan.delayed_deletion.get(&index).is_some_and(|uid| uid == uid_of(pod))
    {
        return false;
    }
    true
}

/// `cleanUncountedPodsWithoutFinalizers`: uncounted pods whose finalizer is gone are counted
/// into `succeeded` and `failed`. Returns whether the status changed.
pub(crate) fn count_uncounted(status: &mut JobStatus, with_finalizer: &HashSet<String>) -> bool {
    let mut changed = false;
    let uncounted =
        status.uncounted_terminated_pods.get_or_insert_with(UncountedTerminatedPods::default);
    for (list, counter) in [
        (&mut uncounted.succeeded, &mut status.succeeded),
        (&mut uncounted.failed, &mut status.failed),
    ] {
        let Some(uids) = list.as_mut() else { continue };
        let before = uids.len();
        uids.retain(|uid| with_finalizer.contains(uid));
        if uids.len() != before {
            changed = true;
            let total = counter.unwrap_or(0) + (before - uids.len()) as i32;
            *counter = Some(total).filter(|t| *t != 0);
        }
        if uids.is_empty() {
            *list = None;
        }
    }
    changed
}

/// `enactJobFinished`: the terminal condition, once no pod is uncounted nor terminating (and
/// `completionTime` with `Complete`). Returns whether the Job finished.
pub(crate) fn enact_finished(
    status: &mut JobStatus,
    finished: Option<&JobCondition>,
    terminating: i32,
    now: Timestamp,
) -> bool {
    let Some(finished) = finished else { return false };
    let uncounted = status.uncounted_terminated_pods.as_ref();
    let count = uncounted.map_or(0, |u| {
        u.succeeded.as_ref().map_or(0, Vec::len) + u.failed.as_ref().map_or(0, Vec::len)
    });
    if count > 0 || terminating > 0 {
        return false;
    }
    let reason = finished.reason.as_deref().unwrap_or_default();
    let message = finished.message.as_deref().unwrap_or_default();
    ensure_condition(
        &mut status.conditions,
        &finished.type_,
        &finished.status,
        reason,
        message,
        now,
    );
    if finished.type_ == COMPLETE {
        let conditions = status.conditions.as_deref().unwrap_or_default();
        status.completion_time =
            find_condition(conditions, COMPLETE).and_then(|c| c.last_transition_time.clone());
    }
    true
}

// === pods from the template ===

/// `GetPodFromTemplate` with the Job's additions: a pod controlled by the Job with the
/// tracking finalizer; Indexed Jobs' pods get `<job>-<index>-` names, the completion index as
/// annotation and label, `JOB_COMPLETION_INDEX` in every container and the hostname
/// `<job>-<index>`, and with `backoffLimitPerIndex` the failure counts of their index.
pub(crate) fn pod_from_template(job: &Job, new: &NewPod) -> Pod {
    let name = name_of(&job.metadata);
    let mut template = spec_of(job).template.clone();
    let mut meta = template.metadata.take().unwrap_or_default();
    let mut spec = template.spec.take().unwrap_or_default();
    if is_indexed(job) {
        spec.init_containers.iter_mut().flatten().for_each(add_completion_index_env);
        spec.containers.iter_mut().for_each(add_completion_index_env);
    }
    let finalizers = meta.finalizers.get_or_insert_default();
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.to_owned());
    }
    let generate_name = match new.index {
        Some(index) => {
            meta.annotations
                .get_or_insert_default()
                .insert(COMPLETION_INDEX.to_owned(), index.to_string());
            meta.labels
                .get_or_insert_default()
                .insert(COMPLETION_INDEX.to_owned(), index.to_string());
            spec.hostname = Some(format!("{name}-{index}"));
            if let Some((counted, ignored)) = new.failure_counts {
                let annotations = meta.annotations.get_or_insert_default();
                annotations.insert(INDEX_FAILURE_COUNT.to_owned(), counted.to_string());
                if ignored > 0 {
                    annotations.insert(INDEX_IGNORED_FAILURE_COUNT.to_owned(), ignored.to_string());
                }
            }
            generate_name_with_index(name, index)
        }
        // `getPodsPrefix`: the dash only while the prefix is still a valid name.
        None if name.len() < 253 => format!("{name}-"),
        None => name.to_owned(),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![new_controller_ref(job)]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// `addCompletionIndexEnvVariable`: `JOB_COMPLETION_INDEX` from the index label (the
/// `PodIndexLabel` gate is GA), unless the container sets it.
fn add_completion_index_env(container: &mut Container) {
    let env = container.env.get_or_insert_default();
    if env.iter().any(|e| e.name == COMPLETION_INDEX_ENV) {
        return;
    }
    env.push(EnvVar {
        name: COMPLETION_INDEX_ENV.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: format!("metadata.labels['{COMPLETION_INDEX}']"),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    });
}

/// `podGenerateNameWithIndex`: `<job>-<index>-`, the job name cut to fit.
fn generate_name_with_index(job: &str, index: i32) -> String {
    let suffix = format!("-{index}-");
    let prefix = format!("{job}{suffix}");
    if prefix.len() <= MAX_GENERATED_NAME_LENGTH {
        return prefix;
    }
    let mut keep = MAX_GENERATED_NAME_LENGTH - suffix.len();
    while !job.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", &job[..keep])
}

#[cfg(test)]
mod tests;
