//! The Job controller (kube-controller-manager's `job-controller`, v1.33:
//! pkg/controller/job/job_controller.go, indexed_job_utils.go, pod_failure_policy.go,
//! success_policy.go, backoff_utils.go and tracking_utils.go, with controller_ref_manager.go's
//! `ClaimPods`): runs a Job's pods to completion and keeps its status.
//!
//! `plan.rs` is `syncJob` as pure functions (see its reading order). A Job's pods are created
//! from its template (`generateName: <job>-`, Indexed: `<job>-<index>-`) with the controller
//! reference, the template's labels (the API server put the job labels there) and the
//! `batch.kubernetes.io/job-tracking` finalizer; Indexed pods also get the completion index as
//! annotation and label, `JOB_COMPLETION_INDEX` from the label through the downward API in
//! every container, and the hostname `<job>-<index>`. As many run as `parallelism` and the
//! remaining `completions` allow (NonIndexed: any pod's success ends a Job without
//! completions; Indexed: the pending indexes, lowest first); failed pods are replaced after the
//! pod-failure backoff (10 s doubling to 10 min since the last failure, per index with
//! `backoffLimitPerIndex`); `podReplacementPolicy: Failed` (or any pod failure policy) waits
//! for a terminating pod to fail before replacing it. A suspended Job's active pods are deleted
//! (`Suspended` True `JobSuspended`); resuming resets `startTime` (`Suspended` False
//! `JobResumed`).
//!
//! Finished pods are tracked with the finalizer, as `trackJobStatusAndRemoveFinalizers` does:
//! recorded first in `status.uncountedTerminatedPods` (Indexed successes as
//! `completedIndexes`), then their finalizers removed, then counted into `succeeded`/`failed`.
//! A pod deleted while running counts as failed (unless only failed pods are replaced). The
//! Job fails (`FailureTarget`, then — once no pod is uncounted or terminating — `Failed`, same
//! reason and message) on `BackoffLimitExceeded`, `DeadlineExceeded`, `PodFailurePolicy` (a
//! `FailJob` rule), `MaxFailedIndexesExceeded` or `FailedIndexes`, its active pods deleted;
//! it succeeds (`SuccessCriteriaMet`, then `Complete` and `completionTime`) on
//! `CompletionsReached` or `SuccessPolicy` (its remaining pods deleted). `Ignore` rules don't
//! count a failure, `FailIndex` rules fail the index. Pods with the finalizer whose Job is gone,
//! replaced or finished (and orphans) get it removed (`syncOrphanPod`).
//!
//! The loop ([`run`], a [`WorkLoop`]) syncs every Job (and the orphan pods) on any change of
//! Jobs or pods and every [`cache::RESYNC`], a Job at its active deadline or the end of its
//! pod-failure backoff, and a Job whose sync failed after its backoff. Like upstream's
//! expectations, a pass waits until the shared caches show its writes (pods created, deleted or
//! patched, statuses), so the next plan counts what was written. The status is written by
//! `PUT …/status` only when `trackJobStatusAndRemoveFinalizers` would. Events are upstream's:
//! `SuccessfulCreate`, `FailedCreate`, `SuccessfulDelete`, `FailedDelete`, `Completed`,
//! `TooManySucceededPods`, the failure reasons (`BackoffLimitExceeded`, `DeadlineExceeded`,
//! `PodFailurePolicy`, …), `Suspended` and `Resumed`.
//!
//! Left out versus upstream:
//! - Per-object event handlers and per-key expectations: any change of Jobs or pods queues
//!   every Job (as in the ReplicaSet controller), and a pass waits until the caches show all its
//!   writes. An adoption or release ends that Job's sync; it is planned again once the caches
//!   show it.
//! - While the pod-failure backoff holds creations back, `status.active` stays the number of
//!   active pods (upstream's `manageJob` returns 0 there, writing `active: 0` meanwhile).
//! - `ttlSecondsAfterFinished` is the ttl-after-finished controller's (`ttl_after_finished.rs`),
//!   as upstream.
//! - The `UnknownCompletionMode` warning (validation refuses other modes) and metrics.
//! - Jobs whose `spec.managedBy` names another controller are skipped, as upstream; the
//!   `JobManagedBy`, `JobPodReplacementPolicy`, `JobBackoffLimitPerIndex`, `JobSuccessPolicy`
//!   and `PodIndexLabel` gates are taken as on (v1.33's defaults), so the terminal condition
//!   always waits for terminating pods and `status.terminating` is always written.

mod plan;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;
use tracing::Instrument;

use crate::cache;
use crate::cache::workloop::{self, Expect, WorkLoop};
use crate::cached_pod::CachedPod;
use crate::informer::Cached;
use crate::meta::{
    api_message, name_of, namespace_of, new_controller_ref, reference_to, status_code,
};
use crate::replicaset::{namespace_terminating, slow_start_batches};
use crate::{Context, EventType, Recorder};
use plan::{BackoffRecord, Manage, Outcome, PodRef, TRACKING_FINALIZER};

/// `source.component` of the events.
const COMPONENT: &str = "job-controller";

/// The controller reads the whole Job, its pod template included: only managedFields go.
impl Cached for Job {}

/// Why one Job's sync failed; it is synced again after a backoff.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot {action} pod {namespace}/{name}")]
    Pod {
        action: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("cannot {action} job {key}")]
    Job {
        action: &'static str,
        key: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("job {key} has just been deleted or replaced: its orphans are not adopted")]
    Gone { key: String },
}

/// The caches whose writes a pass expects to see.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Pod,
    Job,
}

/// What the loop syncs: a Job, or the tracking finalizers of the pods no Job tracks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Job(String),
    /// After the Jobs of a pass (it skips the orphans they adopt).
    Orphans,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Job(key) => f.write_str(key),
            Key::Orphans => f.write_str("orphan pods"),
        }
    }
}

/// The Job controller: never returns.
pub(crate) async fn run(cx: Context) {
    let mut work = WorkLoop::new(COMPONENT);
    let jobs = work.cache::<Job>(&cx.informers);
    let pods = work.cache::<CachedPod>(&cx.informers);
    jobs.wait_until_ready().await;
    pods.wait_until_ready().await;
    let client = cx.client.clone();
    let recorder = Recorder::new(client.clone(), COMPONENT, None);
    // `podBackoffStore`: the pod-failure backoff of each Job, by uid.
    let mut records: HashMap<String, BackoffRecord> = HashMap::new();
    loop {
        let all = jobs.state();
        let keys = all.iter().map(|j| Key::Job(key_of(j)));
        let pass = work.pass(keys.chain([Key::Orphans]));
        records
            .retain(|uid, _| all.iter().any(|j| j.metadata.uid.as_deref() == Some(uid.as_str())));
        if pass.keys.is_empty() {
            work.wait().await;
            continue;
        }
        let by_key: HashMap<String, &Job> = all.iter().map(|j| (key_of(j), &**j)).collect();
        let pod_list = pods.state();
        let mut by_namespace: HashMap<&str, Vec<&CachedPod>> = HashMap::new();
        for pod in &pod_list {
            by_namespace.entry(namespace_of(&pod.metadata)).or_default().push(pod);
        }
        let mut expected: Vec<Expect<Kind>> = Vec::new();
        let mut adopting: HashSet<String> = HashSet::new();
        for key in pass.keys {
            let Key::Job(job_key) = &key else {
                let result = clean_orphans(&client, &pod_list, &all, &adopting, &mut expected);
                work.done(key, result.await.map(|()| None));
                continue;
            };
            let job = by_key[job_key];
            let span = tracing::debug_span!("sync job", object.ref = %job_key);
            let namespace_pods = by_namespace
                .get(namespace_of(&job.metadata))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut sync = Sync {
                client: &client,
                recorder: &recorder,
                job,
                key: job_key.clone(),
                namespace: namespace_of(&job.metadata).to_owned(),
                expected: &mut expected,
            };
            let result =
                sync.run(namespace_pods, &mut records, &mut adopting).instrument(span).await;
            // Synced again just after its deadline or pod-failure backoff.
            work.done(key, result.map(|recheck| recheck.map(workloop::just_after)));
        }
        drop(by_namespace);
        // The next pass must see what was written, or it would create the same pods again.
        work.caught_up(|| {
            expected.iter().all(|e| match e.kind {
                Kind::Pod => e.shown_by(&pods),
                Kind::Job => e.shown_by(&jobs),
            })
        })
        .await;
        work.wait().await;
    }
}

fn key_of(job: &Job) -> String {
    format!("{}/{}", namespace_of(&job.metadata), name_of(&job.metadata))
}

/// `syncOrphanPod` for every pod that needs it: the finalizer removed from pods whose Job is
/// gone, replaced or finished, and from orphans no Job adopts this pass.
async fn clean_orphans(
    client: &kube::Client,
    pods: &[Arc<CachedPod>],
    jobs: &[Arc<Job>],
    adopting: &HashSet<String>,
    expected: &mut Vec<Expect<Kind>>,
) -> Result<(), Error> {
    let by_key: HashMap<(&str, &str), &Job> =
        jobs.iter().map(|j| ((namespace_of(&j.metadata), name_of(&j.metadata)), &**j)).collect();
    let live = |namespace: &str, name: &str| by_key.get(&(namespace, name)).copied();
    let mut failure = None;
    for pod in pods.iter().filter(|p| plan::orphan_needs_cleanup(p, live)) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if adopting.contains(&uid) {
            continue;
        }
        let reference = PodRef::of(pod);
        let namespace = namespace_of(&pod.metadata).to_owned();
        tracing::debug!(pod = %reference.name, namespace = %namespace, "removing the tracking finalizer of an orphan");
        if let Err(error) = remove_finalizer(client, &namespace, &reference, expected).await {
            failure.get_or_insert(error);
        }
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Removes a pod's tracking finalizer (`removeTrackingFinalizerPatch`); a pod already gone
/// counts as done.
async fn remove_finalizer(
    client: &kube::Client,
    namespace: &str,
    pod: &PodRef,
    expected: &mut Vec<Expect<Kind>>,
) -> Result<(), Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let patch =
        json!({ "metadata": { "$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER] } });
    match pods.patch(&pod.name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
        Ok(written) => {
            expected.push(Expect::at(
                Kind::Pod,
                namespace.to_owned(),
                pod.name.clone(),
                cache::revision_of(&written.metadata),
            ));
            Ok(())
        }
        Err(error) if status_code(&error) == Some(404) => Ok(()),
        Err(source) => Err(Error::Pod {
            action: "remove the tracking finalizer of",
            namespace: namespace.to_owned(),
            name: pod.name.clone(),
            source: Box::new(source),
        }),
    }
}

/// One Job's sync and what it needs to write.
struct Sync<'s> {
    client: &'s kube::Client,
    recorder: &'s Recorder,
    job: &'s Job,
    key: String,
    namespace: String,
    expected: &'s mut Vec<Expect<Kind>>,
}

impl Sync<'_> {
    /// `syncJob`. Returns when the Job must be synced again (its active deadline, the end of a
    /// pod-failure backoff).
    async fn run(
        &mut self,
        namespace_pods: &[&CachedPod],
        records: &mut HashMap<String, BackoffRecord>,
        adopting: &mut HashSet<String>,
    ) -> Result<Option<Timestamp>, Error> {
        let job = self.job;
        let uid = job.metadata.uid.clone().unwrap_or_default();
        if let Some(manager) = plan::managed_externally(job) {
            tracing::trace!(managed_by = manager, "skipped: managed by another controller");
            return Ok(None);
        }
        if job.spec.is_none() {
            return Ok(None);
        }
        if plan::is_finished(job) {
            records.remove(&uid);
            return Ok(None);
        }
        let claims = plan::claim(job, namespace_pods);
        if !claims.adopt.is_empty() || !claims.release.is_empty() {
            adopting.extend(claims.adopt.iter().map(|p| p.uid.clone()));
            self.claim_pods(&claims).await?;
            // Planned again once the caches show the new owners and finalizers.
            return Ok(None);
        }

        let now = Timestamp::now();
        let mut plan = plan::plan(job, claims.pods, records.get(&uid), now);
        let (outcome, manage_error) = self.manage(&plan.manage).await;
        plan::settle(job, &mut plan, outcome, now);
        let object = reference_to(job);
        if let Some((reason, message)) = plan.suspend_event {
            self.recorder.record(&object, EventType::Normal, reason, message);
        }

        // `trackJobStatusAndRemoveFinalizers`.
        let track = plan::track(job, &plan, now);
        let mut current = job.clone();
        let mut status = track.status;
        let mut needs_flush = track.needs_flush;
        if needs_flush {
            current = self.write_status(&current, &status).await?;
            records.insert(uid.clone(), plan.backoff.clone());
            needs_flush = false;
        }
        let mut with_finalizer = track.with_finalizer;
        let mut remove_error = None;
        let results = futures::future::join_all(track.remove.iter().map(|pod| {
            let client = self.client.clone();
            let namespace = self.namespace.clone();
            async move {
                let mut expected = Vec::new();
                let result = remove_finalizer(&client, &namespace, pod, &mut expected).await;
                (pod, result, expected)
            }
        }))
        .await;
        for (pod, result, expected) in results {
            match result {
                Ok(()) => {
                    with_finalizer.remove(&pod.uid);
                    self.expected.extend(expected);
                }
                Err(error) => {
                    remove_error.get_or_insert(error);
                }
            }
        }
        if plan::count_uncounted(&mut status, &with_finalizer) {
            needs_flush = true;
        }
        if let Some(error) = remove_error {
            if needs_flush {
                self.write_status(&current, &status).await?;
            }
            return Err(error);
        }
        let finished = !track.reached_max
            && plan::enact_finished(&mut status, track.finished.as_ref(), plan.terminating, now);
        if finished {
            needs_flush = true;
        }
        if needs_flush {
            self.write_status(&current, &status).await?;
            if finished {
                self.record_finished(&status, track.finished.as_ref());
                records.remove(&uid);
            }
        }
        match manage_error {
            Some(error) => Err(error),
            None => Ok(plan.recheck),
        }
    }

    /// `recordJobFinished`'s events.
    fn record_finished(
        &self,
        status: &JobStatus,
        finished: Option<&k8s_openapi::api::batch::v1::JobCondition>,
    ) {
        let Some(finished) = finished else { return };
        let object = reference_to(self.job);
        if finished.type_ == plan::COMPLETE {
            let completions = self.job.spec.as_ref().and_then(|s| s.completions);
            if completions.is_some_and(|c| status.succeeded.unwrap_or(0) > c) {
                self.recorder.record(
                    &object,
                    EventType::Warning,
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached",
                );
            }
            self.recorder.record(&object, EventType::Normal, "Completed", "Job completed");
        } else {
            let reason = finished.reason.as_deref().unwrap_or_default();
            let message = finished.message.clone().unwrap_or_default();
            self.recorder.record(&object, EventType::Warning, reason, message);
        }
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn pod_error(&self, action: &'static str, name: &str, source: kube::Error) -> Error {
        Error::Pod {
            action,
            namespace: self.namespace.clone(),
            name: name.to_owned(),
            source: Box::new(source),
        }
    }

    /// `ClaimPods`' writes: adoptions (after an uncached check that the Job is still there)
    /// add the controller reference and the finalizer; releases take the reference out.
    async fn claim_pods(&mut self, claims: &plan::Claims<'_>) -> Result<(), Error> {
        let pods = self.pods();
        let pp = PatchParams::default();
        if !claims.adopt.is_empty() {
            // `RecheckDeletionTimestamp`.
            let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
            let fresh = jobs.get(name_of(&self.job.metadata)).await.map_err(|source| {
                Error::Job { action: "read", key: self.key.clone(), source: Box::new(source) }
            })?;
            if fresh.metadata.uid != self.job.metadata.uid
                || fresh.metadata.deletion_timestamp.is_some()
            {
                return Err(Error::Gone { key: self.key.clone() });
            }
        }
        let reference = new_controller_ref(self.job);
        for pod in &claims.adopt {
            let patch = json!({
                "metadata": { "ownerReferences": [reference], "uid": pod.uid, "finalizers": [TRACKING_FINALIZER] }
            });
            tracing::info!(pod = %pod.name, "adopting pod");
            match pods.patch(&pod.name, &pp, &Patch::Strategic(&patch)).await {
                Ok(written) => self.pod_patched(&pod.name, &written),
                Err(error) if status_code(&error) == Some(404) => {}
                Err(source) => return Err(self.pod_error("adopt", &pod.name, source)),
            }
        }
        let uid = self.job.metadata.uid.clone().unwrap_or_default();
        for pod in &claims.release {
            let patch = json!({
                "metadata": { "ownerReferences": [{ "$patch": "delete", "uid": uid }], "uid": pod.uid }
            });
            tracing::info!(pod = %pod.name, "releasing pod");
            match pods.patch(&pod.name, &pp, &Patch::Strategic(&patch)).await {
                Ok(written) => self.pod_patched(&pod.name, &written),
                // Gone, or no longer ours: nothing to release.
                Err(error) if matches!(status_code(&error), Some(404 | 422)) => {}
                Err(source) => return Err(self.pod_error("release", &pod.name, source)),
            }
        }
        Ok(())
    }

    fn pod_patched(&mut self, name: &str, written: &Pod) {
        self.expected.push(Expect::at(
            Kind::Pod,
            self.namespace.clone(),
            name.to_owned(),
            cache::revision_of(&written.metadata),
        ));
    }

    /// `manageJob`'s (or `deleteActivePods`') writes: what they achieved, and the first failure.
    async fn manage(&mut self, manage: &Manage) -> (Outcome, Option<Error>) {
        let mut outcome = Outcome::default();
        let mut failure: Option<Error> = None;
        match manage {
            Manage::Nothing | Manage::Wait(_) => {}
            Manage::DeleteActive(victims) | Manage::Delete(victims) => {
                // `deleteJobPods` removes the finalizer first; `deleteActivePods` leaves it to
                // the tracking, which counts the pods as failed.
                let first_unfinalize = matches!(manage, Manage::Delete(_));
                tracing::debug!(deleting = victims.len(), "deleting active pods");
                let results = futures::future::join_all(victims.iter().map(|pod| {
                    let client = self.client.clone();
                    let namespace = self.namespace.clone();
                    async move {
                        let mut expected = Vec::new();
                        if first_unfinalize && pod.tracked {
                            remove_finalizer(&client, &namespace, pod, &mut expected).await?;
                        }
                        let pods: Api<Pod> = Api::namespaced(client, &namespace);
                        let params = DeleteParams::default().preconditions(Preconditions {
                            uid: Some(pod.uid.clone()),
                            resource_version: None,
                        });
                        match pods.delete(&pod.name, &params).await {
                            Ok(_) => {
                                expected.push(Expect::deleted(
                                    Kind::Pod,
                                    namespace.clone(),
                                    pod.name.clone(),
                                    pod.uid.clone(),
                                ));
                                Ok((true, expected))
                            }
                            // Gone already, or replaced by another pod of the same name.
                            Err(error) if matches!(status_code(&error), Some(404 | 409)) => {
                                Ok((false, expected))
                            }
                            Err(source) => Err(Error::Pod {
                                action: "delete",
                                namespace,
                                name: pod.name.clone(),
                                source: Box::new(source),
                            }),
                        }
                    }
                }))
                .await;
                let object = reference_to(self.job);
                for (pod, result) in victims.iter().zip(results) {
                    match result {
                        Ok((deleted_now, expected)) => {
                            outcome.deleted += 1;
                            outcome.deleted_ready += i32::from(pod.ready);
                            self.expected.extend(expected);
                            if deleted_now {
                                self.recorder.record(
                                    &object,
                                    EventType::Normal,
                                    "SuccessfulDelete",
                                    format!("Deleted pod: {}", pod.name),
                                );
                            }
                        }
                        Err(error) => {
                            if let Error::Pod { source, .. } = &error {
                                let message = format!("Error deleting: {}", api_message(source));
                                self.recorder.record(
                                    &object,
                                    EventType::Warning,
                                    "FailedDelete",
                                    message,
                                );
                            }
                            failure.get_or_insert(error);
                        }
                    }
                }
            }
            Manage::Create(new_pods) => {
                tracing::debug!(creating = new_pods.len(), "too few pods running");
                let pods = self.pods();
                let object = reference_to(self.job);
                let pp = PostParams::default();
                let mut pending = new_pods.iter();
                for size in slow_start_batches(new_pods.len()) {
                    let batch: Vec<&plan::NewPod> = pending.by_ref().take(size).collect();
                    let results = futures::future::join_all(batch.iter().map(|new| {
                        let pod = plan::pod_from_template(self.job, new);
                        let pods = pods.clone();
                        let pp = &pp;
                        async move {
                            let generate_name =
                                pod.metadata.generate_name.clone().unwrap_or_default();
                            (generate_name, pods.create(pp, &pod).await)
                        }
                    }))
                    .await;
                    let mut failed = false;
                    for (generate_name, result) in results {
                        match result {
                            Ok(pod) => {
                                outcome.created += 1;
                                let name = name_of(&pod.metadata).to_owned();
                                self.recorder.record(
                                    &object,
                                    EventType::Normal,
                                    "SuccessfulCreate",
                                    format!("Created pod: {name}"),
                                );
                                self.expected.push(Expect::created(
                                    Kind::Pod,
                                    self.namespace.clone(),
                                    name,
                                ));
                            }
                            // The namespace is going away: no create can succeed, nor is needed.
                            Err(error) if namespace_terminating(&error) => {}
                            Err(source) => {
                                failed = true;
                                let message = format!("Error creating: {}", api_message(&source));
                                self.recorder.record(
                                    &object,
                                    EventType::Warning,
                                    "FailedCreate",
                                    message,
                                );
                                failure.get_or_insert(self.pod_error(
                                    "create",
                                    &generate_name,
                                    source,
                                ));
                            }
                        }
                    }
                    if failed {
                        break;
                    }
                }
            }
        }
        (outcome, failure)
    }

    /// `updateJobStatus`: PUT `…/status` of `current` (its resourceVersion a precondition) with
    /// `status`; returns the Job as written.
    async fn write_status(&mut self, current: &Job, status: &JobStatus) -> Result<Job, Error> {
        let name = name_of(&self.job.metadata).to_owned();
        let api: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut job = current.clone();
        job.status = Some(status.clone());
        let written =
            api.replace_status(&name, &PostParams::default(), &job).await.map_err(|source| {
                Error::Job {
                    action: "update the status of",
                    key: self.key.clone(),
                    source: Box::new(source),
                }
            })?;
        self.expected.push(Expect::at(
            Kind::Job,
            self.namespace.clone(),
            name,
            cache::revision_of(&written.metadata),
        ));
        Ok(written)
    }
}
