//! The TTL-after-finished controller (kube-controller-manager's `ttl-after-finished-controller`,
//! v1.33: pkg/controller/ttlafterfinished/ttlafterfinished_controller.go, with
//! pkg/controller/job/util's `IsJobFinished`): deletes a finished Job
//! `spec.ttlSecondsAfterFinished` seconds after it finished.
//!
//! A Job needs cleaning up (`needsCleanup`) when it has `ttlSecondsAfterFinished` and a
//! `Complete` or `Failed` condition that is True, and is not being deleted already. Its finish
//! time is that condition's `lastTransitionTime` (`jobFinishTime`: the first such condition; a
//! finished Job without one is an error, retried with backoff), and it expires `ttl` seconds
//! later. [`plan`] is `processTTL` over every cached Job as a pure function of the Jobs and the
//! time: the expired ones, and the earliest expiry still ahead. Before deleting an expired Job
//! the controller reads it again from the API server, not the cache (the TTL may have been
//! changed or removed meanwhile), and deletes it only if that fresh copy has expired too, with
//! `propagationPolicy: Foreground` (the garbage collector deletes its pods first) and a
//! precondition on the fresh copy's uid, so a Job re-created under the same name is not
//! deleted. Upstream sets no resourceVersion precondition, nor does this.
//!
//! The loop ([`run`]) re-plans on any Job change, at the earliest expiry (a tokio timer) and
//! every [`cache::RESYNC`]; after its deletions it waits until the cache shows them.
//!
//! Left out versus upstream:
//! - The work queue (`AddAfter` per Job): one loop plans every Job each pass, as the
//!   ReplicaSet controller does, and sleeps until the earliest expiry; a Job whose deletion
//!   failed backs off on its own.
//! - Metrics (`job_deletion_duration_seconds`) and the time-skew log line ("Found Job finished
//!   in the future"; such a Job simply expires later, as upstream).
//! - Events: upstream creates a recorder but records none; so does this (none).

use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument;

use crate::Context;
use crate::cache;
use crate::cache::workloop::just_after;
use crate::informer::Store;
use crate::meta::{error_chain, name_of, namespace_of, status_code};

/// `batch.JobComplete` and `batch.JobFailed`.
const FINISHED: [&str; 2] = ["Complete", "Failed"];

/// Why cleaning up one Job failed; it is tried again after a backoff.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// `jobFinishTime`'s error: the finished condition has no `lastTransitionTime`.
    #[error("unable to find the time when the Job {key} finished")]
    NoFinishTime { key: String },
    #[error("cannot {action} job {key}")]
    Job {
        action: &'static str,
        key: String,
        #[source]
        source: Box<kube::Error>,
    },
}

/// A Job the plan names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobRef {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
}

impl JobRef {
    fn of(job: &Job) -> JobRef {
        JobRef {
            namespace: namespace_of(&job.metadata).to_owned(),
            name: name_of(&job.metadata).to_owned(),
            uid: job.metadata.uid.clone().unwrap_or_default(),
        }
    }

    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// What to do with the Jobs at one time.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// Finished Jobs whose TTL has expired: each deleted after a fresh check.
    pub(crate) expired: Vec<JobRef>,
    /// The earliest expiry still ahead, when the Jobs must be planned again.
    pub(crate) next: Option<Timestamp>,
    /// Finished Jobs with a TTL whose finish time is unknown (`jobFinishTime`'s error).
    pub(crate) unknown: Vec<JobRef>,
}

/// `IsJobFinished`: the first `Complete` or `Failed` condition that is True.
fn finished_condition(job: &Job) -> Option<&k8s_openapi::api::batch::v1::JobCondition> {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions
        .into_iter()
        .flatten()
        .find(|c| FINISHED.contains(&c.type_.as_str()) && c.status == "True")
}

/// When a Job expires (`processTTL`'s `getFinishAndExpireTime`): `None` when it needs no
/// cleanup (no TTL, not finished, or being deleted already).
pub(crate) fn expiry(job: &Job) -> Result<Option<Timestamp>, Error> {
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return Ok(None);
    };
    let Some(finished) = finished_condition(job) else { return Ok(None) };
    let Some(finish) = finished.last_transition_time.as_ref() else {
        return Err(Error::NoFinishTime { key: JobRef::of(job).key() });
    };
    // Validation keeps the TTL non-negative; a sum past the end of time never expires.
    Ok(Some(
        finish.0.checked_add(SignedDuration::from_secs(i64::from(ttl))).unwrap_or(Timestamp::MAX),
    ))
}

/// `processTTL` for every Job at `now`: the expired ones (`remaining <= 0`), in key order, and
/// the earliest expiry still ahead.
pub(crate) fn plan(jobs: &[Arc<Job>], now: Timestamp) -> Plan {
    let mut plan = Plan::default();
    for job in jobs {
        match expiry(job) {
            Ok(None) => {}
            Ok(Some(at)) if at <= now => plan.expired.push(JobRef::of(job)),
            Ok(Some(at)) => plan.next = Some(plan.next.map_or(at, |next| next.min(at))),
            Err(_) => plan.unknown.push(JobRef::of(job)),
        }
    }
    plan.expired.sort_by_key(JobRef::key);
    plan.unknown.sort_by_key(JobRef::key);
    plan
}

/// The TTL-after-finished controller: never returns.
pub(crate) async fn run(cx: Context) {
    let wake = Arc::new(Notify::new());
    let jobs = cache::cache::<Job>(&cx.informers, &wake);
    jobs.wait_until_ready().await;
    // Woken by any change of the cache: has it caught up with our deletions.
    let changed = Arc::new(Notify::new());
    jobs.wake(&changed);
    let client = cx.client.clone();
    let mut backoff = cache::Backoff::new(cache::RETRY * 128);
    loop {
        let mut next = Instant::now() + cache::RESYNC;
        let all = jobs.state();
        backoff.retain(|key: &String| all.iter().any(|j| JobRef::of(j).key() == *key));
        let now = Timestamp::now();
        let plan = plan(&all, now);
        drop(all);
        if let Some(at) = plan.next {
            next = next.min(just_after(at));
        }
        for job in &plan.unknown {
            let key = job.key();
            if let Some(due) = backoff.waiting(&key) {
                next = next.min(due);
                continue;
            }
            let error = Error::NoFinishTime { key: key.clone() };
            tracing::warn!(job = %key, error = %error_chain(&error), "cleanup failed");
            next = next.min(backoff.failed(key));
        }
        let mut deleted: Vec<JobRef> = Vec::new();
        for job in &plan.expired {
            let key = job.key();
            if let Some(due) = backoff.waiting(&key) {
                next = next.min(due);
                continue;
            }
            let span = tracing::debug_span!("ttl job", object.ref = %key);
            match clean_up(&client, job).instrument(span).await {
                Ok(Cleanup::Deleted(uid)) => {
                    backoff.succeeded(&key);
                    deleted.push(JobRef { uid, ..job.clone() });
                }
                Ok(Cleanup::Kept(later)) => {
                    backoff.succeeded(&key);
                    if let Some(at) = later {
                        next = next.min(just_after(at));
                    }
                }
                Err(error) => {
                    tracing::warn!(job = %key, error = %error_chain(&error), "cleanup failed");
                    next = next.min(backoff.failed(key));
                }
            }
        }
        // The next pass must not find these Jobs expired again (a wasted read each).
        cache::caught_up(&changed, || deleted.iter().all(|j| seen_deleted(&jobs, j))).await;
        let _ = tokio::time::timeout_at(next, wake.notified()).await;
    }
}

/// Whether the cache shows a deleted Job being deleted, gone or replaced.
fn seen_deleted(jobs: &Store<Job>, job: &JobRef) -> bool {
    jobs.get(&ObjectRef::new(&job.name).within(&job.namespace)).is_none_or(|j| {
        j.metadata.uid.as_deref() != Some(job.uid.as_str())
            || j.metadata.deletion_timestamp.is_some()
    })
}

/// What became of an expired Job.
#[derive(Debug)]
enum Cleanup {
    /// Deleted (this uid).
    Deleted(String),
    /// Kept: gone, replaced by one not expired, or its fresh TTL not expired (when it expires).
    Kept(Option<Timestamp>),
}

/// `processJob` past the cached check: the Job read fresh from the API server, its TTL checked
/// again, and deleted in the foreground with its uid as a precondition.
async fn clean_up(client: &kube::Client, job: &JobRef) -> Result<Cleanup, Error> {
    let key = job.key();
    let api: Api<Job> = Api::namespaced(client.clone(), &job.namespace);
    let fresh = match api.get(&job.name).await {
        Ok(fresh) => fresh,
        Err(error) if status_code(&error) == Some(404) => return Ok(Cleanup::Kept(None)),
        Err(source) => return Err(Error::Job { action: "read", key, source: Box::new(source) }),
    };
    // The latest Job may have a different uid: its own TTL decides.
    match expiry(&fresh)? {
        None => return Ok(Cleanup::Kept(None)),
        Some(at) if at > Timestamp::now() => {
            tracing::debug!(expires = %at, "the fresh job has not expired");
            return Ok(Cleanup::Kept(Some(at)));
        }
        Some(_) => {}
    }
    let uid = fresh.metadata.uid.clone().unwrap_or_default();
    let params = DeleteParams::foreground()
        .preconditions(Preconditions { uid: Some(uid.clone()), resource_version: None });
    tracing::info!(job = %key, "cleaning up job");
    match api.delete(&job.name, &params).await {
        Ok(_) => Ok(Cleanup::Deleted(uid)),
        // Gone meanwhile, or replaced by another Job of the same name (planned on its own).
        Err(error) if matches!(status_code(&error), Some(404 | 409)) => Ok(Cleanup::Kept(None)),
        Err(source) => Err(Error::Job { action: "delete", key, source: Box::new(source) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn condition(type_: &str, status: &str, time: Option<i64>) -> JobCondition {
        JobCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            last_transition_time: time.map(|t| Time(at(t))),
            ..JobCondition::default()
        }
    }

    fn job(name: &str, ttl: Option<i32>, conditions: Vec<JobCondition>) -> Arc<Job> {
        Arc::new(Job {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("default".to_owned()),
                uid: Some(format!("uid-{name}")),
                ..ObjectMeta::default()
            },
            spec: Some(JobSpec { ttl_seconds_after_finished: ttl, ..JobSpec::default() }),
            status: Some(JobStatus { conditions: Some(conditions), ..JobStatus::default() }),
        })
    }

    fn names(jobs: &[JobRef]) -> Vec<&str> {
        jobs.iter().map(|j| j.name.as_str()).collect()
    }

    #[test]
    fn ttl_expires_ttl_seconds_after_the_finish_condition() {
        let complete = job("complete", Some(10), vec![condition("Complete", "True", Some(0))]);
        assert_eq!(expiry(&complete).unwrap(), Some(at(10)));
        assert!(plan(std::slice::from_ref(&complete), at(9)).expired.is_empty());
        assert_eq!(plan(std::slice::from_ref(&complete), at(9)).next, Some(at(10)));
        // `remaining <= 0` has expired.
        let expired = plan(std::slice::from_ref(&complete), at(10));
        assert_eq!(names(&expired.expired), ["complete"]);
        assert_eq!(expired.expired[0].uid, "uid-complete");
        assert_eq!(expired.next, None);
        // A Failed Job expires the same way; a TTL of 0 at once.
        let failed = job(
            "failed",
            Some(0),
            vec![
                condition("FailureTarget", "True", Some(-5)),
                condition("Failed", "True", Some(3)),
            ],
        );
        assert_eq!(expiry(&failed).unwrap(), Some(at(3)));
    }

    #[test]
    fn ttl_needs_a_ttl_a_true_finished_condition_and_no_deletion() {
        let no_ttl = job("no-ttl", None, vec![condition("Complete", "True", Some(0))]);
        let running = job("running", Some(1), vec![condition("Suspended", "True", Some(0))]);
        let not_yet = job("not-yet", Some(1), vec![condition("Complete", "False", Some(0))]);
        let target = job("target", Some(1), vec![condition("SuccessCriteriaMet", "True", Some(0))]);
        let mut deleting =
            (*job("deleting", Some(1), vec![condition("Failed", "True", Some(0))])).clone();
        deleting.metadata.deletion_timestamp = Some(Time(at(1)));
        let mut bare = (*no_ttl).clone();
        bare.spec.as_mut().unwrap().ttl_seconds_after_finished = Some(1);
        bare.status = None;
        let jobs = [no_ttl, running, not_yet, target, Arc::new(deleting), Arc::new(bare)];
        for job in &jobs {
            assert_eq!(expiry(job).unwrap(), None, "{:?}", job.metadata.name);
        }
        assert_eq!(plan(&jobs, at(100)), Plan::default());
    }

    #[test]
    fn ttl_plan_lists_expired_jobs_in_key_order_and_wakes_at_the_earliest_expiry() {
        let done = |name, ttl, finish| {
            job(name, Some(ttl), vec![condition("Complete", "True", Some(finish))])
        };
        let jobs = [
            done("b", 5, 0),
            done("late", 60, 0),
            done("a", 1, 2),
            done("soon", 20, 0),
            done("c", 0, 5),
        ];
        let plan = plan(&jobs, at(5));
        assert_eq!(names(&plan.expired), ["a", "b", "c"]);
        assert_eq!(plan.next, Some(at(20)));
        assert!(plan.unknown.is_empty());
    }

    #[test]
    fn ttl_finished_without_a_transition_time_is_an_error() {
        let unknown = job("unknown", Some(1), vec![condition("Complete", "True", None)]);
        let error = expiry(&unknown).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unable to find the time when the Job default/unknown finished"
        );
        let plan = plan(&[unknown], at(100));
        assert_eq!(names(&plan.unknown), ["unknown"]);
        assert!(plan.expired.is_empty() && plan.next.is_none());
    }

    #[test]
    fn ttl_past_the_end_of_time_never_expires() {
        let mut far =
            (*job("far", Some(i32::MAX), vec![condition("Complete", "True", None)])).clone();
        let condition = &mut far.status.as_mut().unwrap().conditions.as_mut().unwrap()[0];
        condition.last_transition_time = Some(Time(Timestamp::MAX - SignedDuration::from_secs(1)));
        assert_eq!(expiry(&far).unwrap(), Some(Timestamp::MAX));
    }
}
