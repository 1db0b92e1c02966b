//! The CronJob controller (kube-controller-manager's `cronjob-controller`, v1.33:
//! pkg/controller/cronjob/cronjob_controllerv2.go and utils.go, with robfig/cron v3's
//! schedules from [`berth_api::cron`]): starts a Job from a CronJob's `jobTemplate` at each
//! time of its schedule and keeps its status.
//!
//! `plan.rs` is `sync` as pure functions. Each pass, for every CronJob and the Jobs whose
//! controller reference names it: `cleanupFinishedJobs` deletes the finished Jobs beyond
//! `successfulJobsHistoryLimit` and `failedJobsHistoryLimit`, oldest `startTime` first
//! (background propagation, `SuccessfulDelete`); the active list drops finished Jobs
//! (`SawCompletedJob`) and Jobs that are gone (`MissingJob`), reports unfinished Jobs it does not
//! know (`UnexpectedJob`), and `lastSuccessfulTime` follows the latest `completionTime`. Then,
//! unless the CronJob is being deleted or suspended (or its `timeZone` is unknown,
//! `UnknownTimeZone`; its schedule unparseable, `UnparseableSchedule`, or never firing twice,
//! `InvalidSchedule`): the most recent schedule time not yet met since `lastScheduleTime` (or
//! the creation time), read in `spec.timeZone` (else UTC, the controller's zone here), and no
//! earlier than `startingDeadlineSeconds` ago (`mostRecentScheduleTime`; more than 100 missed:
//! `TooManyMissedTimes`). Too late for its deadline: `MissSchedule`; already started (in the
//! active list by name, or `lastScheduleTime`): nothing; `Forbid` with an active Job:
//! `JobAlreadyActive`; `Replace`: the active Jobs are deleted first (background propagation,
//! `SuccessfulDelete`). The Job (`getJobFromTemplate2`) is named
//! `<cronjob>-<scheduled time in minutes since the epoch>`, so a schedule is started at most
//! once whatever happens between the create and the status write; it carries the template's
//! labels and annotations, `batch.kubernetes.io/cronjob-scheduled-timestamp` (RFC 3339 in the
//! zone) and the controller reference. Created: `SuccessfulCreate`; already there and ours but
//! not in the active list (a status write lost): taken as created; another's: left alone;
//! failed: `FailedCreate`. The Job joins `status.active` and its time becomes
//! `lastScheduleTime`. The status is written by `PUT …/status` only when it changed.
//!
//! The loop ([`run`], a [`WorkLoop`]) syncs a CronJob when it or one of its Jobs changed
//! (their resourceVersions), at its next schedule time (plus 100 ms, `nextScheduleDelta`),
//! after a failed sync's backoff, and every CronJob every [`cache::RESYNC`] — what upstream's
//! queue does with its event handlers and `AddAfter`. A pass waits until the shared caches
//! show its writes (Jobs created and deleted, statuses), so the next plan sees them.
//!
//! Left out versus upstream:
//! - Per-object event handlers: any change of CronJobs or Jobs queues every CronJob, which
//!   skips those whose versions did not change since their last sync. The resync re-plans every
//!   CronJob, so the events of a standing condition (`JobAlreadyActive`, `UnparseableSchedule`,
//!   …) also repeat every 30 s (the recorder aggregates them into one event's count).
//! - The uncached reads: upstream GETs the CronJob when it sees an unfinished Job not in the
//!   active list, an active Job missing from its cache, and each Job `Replace` deletes. Here the
//!   caches are the truth (a pass waits until they show its own writes); `Replace` deletes by
//!   the active reference's name with its uid as precondition, a Job already gone counting as
//!   deleted.
//! - `updateCronJob`'s `UnParseableCronJobSchedule` event on a schedule change (the sync's
//!   `UnparseableSchedule` covers it) and the metrics (`CronJobCreationSkew`).
//! - A Job is ours when its controller reference names the CronJob and is of kind CronJob
//!   (upstream checks the name only). Creating in a terminating namespace is not retried.

mod plan;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams, Preconditions, PropagationPolicy};
use tokio::time::Instant;
use tracing::Instrument;

use crate::cache;
use crate::cache::workloop::{self, Expect, WorkLoop};
use crate::informer::Cached;
use crate::meta::{api_message, error_chain, name_of, namespace_of, reference_to, status_code};
use crate::replicaset::namespace_terminating;
use crate::{Context, EventType, Recorder};
use plan::{Action, Event};

/// `source.component` of the events.
const COMPONENT: &str = "cronjob-controller";

/// The controller reads the whole CronJob, its job template included: only managedFields go.
impl Cached for CronJob {}

/// Why one CronJob's sync failed; it is synced again after a backoff.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot {action} job {namespace}/{name}")]
    Job {
        action: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("cannot update the status of cronjob {key}")]
    Status {
        key: String,
        #[source]
        source: Box<kube::Error>,
    },
}

/// The caches whose writes a pass expects to see.
#[derive(Debug, Clone, Copy)]
enum Kind {
    CronJob,
    Job,
}

/// The CronJob controller: never returns.
pub(crate) async fn run(cx: Context) {
    let mut work = WorkLoop::new(COMPONENT);
    let cron_jobs = work.cache::<CronJob>(&cx.informers);
    let jobs = work.cache::<Job>(&cx.informers);
    cron_jobs.wait_until_ready().await;
    jobs.wait_until_ready().await;
    let client = cx.client.clone();
    let recorder = Recorder::new(client.clone(), COMPONENT, None);
    // What each CronJob's last sync saw, and when it is due again regardless.
    let mut synced: HashMap<String, Synced> = HashMap::new();
    loop {
        let all = cron_jobs.state();
        let pass = work.pass(all.iter().map(|c| key_of(c)));
        synced.retain(|key, _| all.iter().any(|c| key_of(c) == *key));
        if pass.keys.is_empty() {
            work.wait().await;
            continue;
        }
        let by_key: HashMap<String, &CronJob> = all.iter().map(|c| (key_of(c), &**c)).collect();
        let job_list = jobs.state();
        // `getJobsToBeReconciled` for every CronJob at once: by namespace and CronJob name.
        let mut owned_by: HashMap<(&str, &str), Vec<&Job>> = HashMap::new();
        for job in &job_list {
            if let Some(owner) = plan::cron_job_of(job) {
                owned_by.entry((namespace_of(&job.metadata), owner)).or_default().push(job);
            }
        }
        let mut expected: Vec<Expect<Kind>> = Vec::new();
        for key in pass.keys {
            let cron_job = by_key[&key];
            let owned = owned_by
                .get(&(namespace_of(&cron_job.metadata), name_of(&cron_job.metadata)))
                .map(Vec::as_slice)
                .unwrap_or_default();
            // As upstream's queue: a CronJob is synced when it or one of its Jobs changed, at
            // its requeue time, and at each resync — not on every change of any Job.
            let seen = fingerprint(cron_job, owned);
            if !pass.resync
                && let Some(last) = synced.get(&key)
                && last.seen == seen
                && last.due.is_none_or(|due| due > Instant::now())
            {
                let due = last.due;
                work.done(key, Ok::<_, Error>(due));
                continue;
            }
            let span = tracing::debug_span!("sync cronjob", object.ref = %key);
            let mut sync = Sync {
                client: &client,
                recorder: &recorder,
                cron_job,
                key: key.clone(),
                namespace: namespace_of(&cron_job.metadata).to_owned(),
                expected: &mut expected,
            };
            let result = sync.run(owned).instrument(span).await;
            let result = result.map(|requeue| requeue.map(workloop::instant_at));
            match &result {
                Ok(due) => {
                    synced.insert(key.clone(), Synced { seen, due: *due });
                }
                Err(_) => {
                    synced.remove(&key);
                }
            }
            work.done(key, result);
        }
        drop(owned_by);
        // The next pass must see what was written, or it would start the same run again.
        work.caught_up(|| {
            expected.iter().all(|e| match e.kind {
                Kind::CronJob => e.shown_by(&cron_jobs),
                Kind::Job => e.shown_by(&jobs),
            })
        })
        .await;
        work.wait().await;
    }
}

/// What a CronJob's last successful sync saw, and when it must be synced again.
struct Synced {
    seen: u64,
    due: Option<Instant>,
}

/// The versions of a CronJob and its Jobs: a sync of the same versions before the requeue time
/// would decide the same.
fn fingerprint(cron_job: &CronJob, owned: &[&Job]) -> u64 {
    let mut hasher = DefaultHasher::new();
    cron_job.metadata.uid.hash(&mut hasher);
    cron_job.metadata.resource_version.hash(&mut hasher);
    let mut versions: Vec<(&str, &str)> = owned
        .iter()
        .map(|j| {
            (
                j.metadata.uid.as_deref().unwrap_or_default(),
                j.metadata.resource_version.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    versions.sort_unstable();
    versions.hash(&mut hasher);
    hasher.finish()
}

fn key_of(cron_job: &CronJob) -> String {
    format!("{}/{}", namespace_of(&cron_job.metadata), name_of(&cron_job.metadata))
}

/// One CronJob's sync and what it needs to write.
struct Sync<'s> {
    client: &'s kube::Client,
    recorder: &'s Recorder,
    cron_job: &'s CronJob,
    key: String,
    namespace: String,
    expected: &'s mut Vec<Expect<Kind>>,
}

impl Sync<'_> {
    /// `sync`: the cleanup, then `syncCronJob`, then the status if it changed. Returns when to
    /// sync the CronJob again.
    async fn run(&mut self, owned: &[&Job]) -> Result<Option<Timestamp>, Error> {
        let cron_job = self.cron_job;
        let mut status = cron_job.status.clone().unwrap_or_default();

        // `cleanupFinishedJobs`: a failed delete is reported and left for the next pass.
        for victim in plan::cleanup(cron_job, owned) {
            match self.delete_job(&victim.name, &victim.uid).await {
                Ok(false) => plan::delete_from_active(&mut status, &victim.uid),
                Ok(true) => {
                    plan::delete_from_active(&mut status, &victim.uid);
                    self.event(&plan::Event {
                        type_: EventType::Normal,
                        reason: "SuccessfulDelete",
                        message: format!("Deleted job {}", victim.name),
                    });
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "history cleanup failed");
                    self.failed_delete(&error);
                }
            }
        }

        for event in plan::observe(&mut status, owned) {
            self.event(&event);
        }
        let decision = plan::schedule(cron_job, &status, Timestamp::now());
        for event in &decision.events {
            self.event(event);
        }
        let Action::Run { replace, job, scheduled } = decision.action else {
            self.write_status(&status).await?;
            return Ok(decision.requeue);
        };

        // `Replace`: the active Jobs go first.
        for reference in &replace {
            let name = reference.name.clone().unwrap_or_default();
            let uid = reference.uid.clone().unwrap_or_default();
            tracing::debug!(job = %name, "deleting job that was still running at next scheduled start time");
            match self.delete_job(&name, &uid).await {
                Ok(false) => plan::delete_from_active(&mut status, &uid),
                Ok(true) => {
                    plan::delete_from_active(&mut status, &uid);
                    self.event(&plan::Event {
                        type_: EventType::Normal,
                        reason: "SuccessfulDelete",
                        message: format!("Deleted job {name}"),
                    });
                }
                Err(error) => {
                    self.failed_delete(&error);
                    self.write_status(&status).await?;
                    return Err(error);
                }
            }
        }

        let api: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        let name = name_of(&job.metadata).to_owned();
        match api.create(&PostParams::default(), &job).await {
            Ok(created) => {
                tracing::debug!(job = %name, "created job");
                self.event(&plan::Event {
                    type_: EventType::Normal,
                    reason: "SuccessfulCreate",
                    message: format!("Created job {name}"),
                });
                self.expected.push(Expect::created(Kind::Job, self.namespace.clone(), name));
                plan::record_run(&mut status, reference_to(&created), scheduled);
            }
            // The namespace is going away: no create can succeed, nor is needed.
            Err(error) if namespace_terminating(&error) => {
                self.write_status(&status).await?;
                return Ok(None);
            }
            Err(kube::Error::Api(error)) if error.reason == "AlreadyExists" => {
                // Ours but not in the active list: a status write was lost; record it now.
                let existing =
                    api.get(&name).await.map_err(|source| self.job_error("read", &name, source))?;
                let ours = crate::meta::controller_of(&existing.metadata)
                    .is_some_and(|r| Some(&r.uid) == cron_job.metadata.uid.as_ref());
                let uid = existing.metadata.uid.clone().unwrap_or_default();
                let listed = status.active.iter().flatten().any(|r| r.uid.as_deref() == Some(&uid));
                if !ours || listed {
                    self.write_status(&status).await?;
                    return Ok(None);
                }
                tracing::info!(job = %name, "job already exists");
                plan::record_run(&mut status, reference_to(&existing), scheduled);
            }
            Err(source) => {
                let message = format!("Error creating job: {}", api_message(&source));
                self.event(&plan::Event {
                    type_: EventType::Warning,
                    reason: "FailedCreate",
                    message,
                });
                self.write_status(&status).await?;
                return Err(self.job_error("create", &name, source));
            }
        }
        self.write_status(&status).await?;
        Ok(decision.requeue)
    }

    fn event(&self, event: &Event) {
        let object = reference_to(self.cron_job);
        self.recorder.record(&object, event.type_, event.reason, event.message.clone());
    }

    /// `deleteJob`'s `FailedDelete`.
    fn failed_delete(&self, error: &Error) {
        let Error::Job { source, .. } = error else { return };
        self.event(&plan::Event {
            type_: EventType::Warning,
            reason: "FailedDelete",
            message: format!("Deleted job: {}", api_message(source)),
        });
    }

    fn job_error(&self, action: &'static str, name: &str, source: kube::Error) -> Error {
        Error::Job {
            action,
            namespace: self.namespace.clone(),
            name: name.to_owned(),
            source: Box::new(source),
        }
    }

    /// `jobControl.DeleteJob`: background propagation, the uid as precondition. `false`: the Job
    /// was already gone (or replaced by another of its name), which counts as deleted.
    async fn delete_job(&mut self, name: &str, uid: &str) -> Result<bool, Error> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions {
                uid: Some(uid.to_owned()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(name, &params).await {
            Ok(_) => {
                self.expected.push(Expect::deleted(
                    Kind::Job,
                    self.namespace.clone(),
                    name.to_owned(),
                    uid.to_owned(),
                ));
                Ok(true)
            }
            Err(error) if matches!(status_code(&error), Some(404 | 409)) => Ok(false),
            Err(source) => Err(self.job_error("delete", name, source)),
        }
    }

    /// `UpdateStatus`: PUT `…/status` of the cached CronJob (its resourceVersion a
    /// precondition) with `status`, when that changed anything.
    async fn write_status(&mut self, status: &CronJobStatus) -> Result<(), Error> {
        let current = self.cron_job.status.clone().unwrap_or_default();
        if *status == current {
            return Ok(());
        }
        let name = name_of(&self.cron_job.metadata).to_owned();
        let api: Api<CronJob> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut cron_job = self.cron_job.clone();
        cron_job.status = Some(status.clone());
        let written = api
            .replace_status(&name, &PostParams::default(), &cron_job)
            .await
            .map_err(|source| Error::Status { key: self.key.clone(), source: Box::new(source) })?;
        self.expected.push(Expect::at(
            Kind::CronJob,
            self.namespace.clone(),
            name,
            cache::revision_of(&written.metadata),
        ));
        Ok(())
    }
}
