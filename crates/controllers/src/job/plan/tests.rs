//! Unit tests of the Job plan: each drives `plan`, `settle`, `track`, `count_uncounted` and
//! `enact_finished` as the loop does when every write succeeds.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::informer::Cached;

fn now() -> Timestamp {
    "2026-01-01T00:10:00Z".parse().unwrap()
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

fn job(value: Value) -> Job {
    let mut base = json!({
        "metadata": { "name": "pi", "namespace": "ns", "uid": "job-uid", "generation": 1 },
        "spec": {
            "parallelism": 2,
            "completions": 3,
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": { "matchLabels": { "batch.kubernetes.io/controller-uid": "job-uid" } },
            "template": {
                "metadata": { "labels": {
                    "batch.kubernetes.io/controller-uid": "job-uid", "batch.kubernetes.io/job-name": "pi",
                    "controller-uid": "job-uid", "job-name": "pi" } },
                "spec": { "restartPolicy": "Never", "containers": [{ "name": "c", "image": "busybox" }] },
            },
        },
        "status": { "startTime": "2026-01-01T00:00:00Z" },
    });
    merge(&mut base, value);
    serde_json::from_value(base).unwrap()
}

/// A pod of the Job as the informer keeps it.
fn pod(name: &str, value: Value) -> Arc<CachedPod> {
    let mut base = json!({
        "metadata": {
            "name": name, "namespace": "ns", "uid": format!("uid-{name}"),
            "labels": { "batch.kubernetes.io/controller-uid": "job-uid" },
            "finalizers": [TRACKING_FINALIZER],
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "ownerReferences": [{ "apiVersion": "batch/v1", "kind": "Job", "name": "pi",
                                  "uid": "job-uid", "controller": true }],
        },
        "spec": { "containers": [{ "name": "c" }] },
        "status": { "phase": "Running" },
    });
    merge(&mut base, value);
    let mut pod: CachedPod = serde_json::from_value(base).unwrap();
    pod.prune();
    Arc::new(pod)
}

fn succeeded(name: &str) -> Arc<CachedPod> {
    pod(name, exited(0, "2026-01-01T00:05:00Z"))
}

fn failed(name: &str, code: i32, at: &str) -> Arc<CachedPod> {
    pod(name, exited(code, at))
}

fn exited(code: i32, at: &str) -> Value {
    json!({ "status": {
        "phase": if code == 0 { "Succeeded" } else { "Failed" },
        "containerStatuses": [{ "name": "c", "restartCount": 0,
            "state": { "terminated": { "exitCode": code, "finishedAt": at } } }],
    } })
}

/// What one sync writes when every write succeeds.
#[derive(Debug)]
struct Synced {
    manage: Manage,
    /// The status after the first flush (or the input), then the final one.
    flushed: JobStatus,
    status: JobStatus,
    removed: Vec<String>,
    finished: bool,
    recheck: Option<Timestamp>,
    event: Option<(&'static str, &'static str)>,
}

fn sync(job: &Job, pods: &[Arc<CachedPod>], at: Timestamp) -> Synced {
    let all: Vec<&CachedPod> = pods.iter().map(|p| &**p).collect();
    let claims = claim(job, &all);
    assert!(claims.adopt.is_empty() && claims.release.is_empty());
    let mut plan = plan(job, claims.pods, None, at);
    let outcome = match &plan.manage {
        Manage::DeleteActive(pods) | Manage::Delete(pods) => Outcome {
            deleted: pods.len() as i32,
            deleted_ready: pods.iter().filter(|p| p.ready).count() as i32,
            created: 0,
        },
        Manage::Create(new) => Outcome { created: new.len() as i32, ..Outcome::default() },
        _ => Outcome::default(),
    };
    settle(job, &mut plan, outcome, at);
    let track = track(job, &plan, at);
    let flushed = track.status.clone();
    let mut status = track.status;
    let mut with_finalizer = track.with_finalizer;
    for pod in &track.remove {
        with_finalizer.remove(&pod.uid);
    }
    count_uncounted(&mut status, &with_finalizer);
    let finished = !track.reached_max
        && enact_finished(&mut status, track.finished.as_ref(), plan.terminating, at);
    Synced {
        manage: plan.manage,
        flushed,
        status,
        removed: track.remove.into_iter().map(|p| p.name).collect(),
        finished,
        recheck: plan.recheck,
        event: plan.suspend_event,
    }
}

fn types(status: &JobStatus) -> Vec<(String, String, String)> {
    status
        .conditions
        .iter()
        .flatten()
        .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone().unwrap_or_default()))
        .collect()
}

fn with_status(job: &Job, status: &JobStatus) -> Job {
    let mut job = job.clone();
    job.status = Some(status.clone());
    job
}

/// The pods as they are once their finalizers are removed.
fn unfinalized(pods: &[Arc<CachedPod>]) -> Vec<Arc<CachedPod>> {
    pods.iter()
        .map(|p| {
            let mut p = (**p).clone();
            p.metadata.finalizers = None;
            Arc::new(p)
        })
        .collect()
}

#[test]
fn a_new_job_creates_as_many_pods_as_parallelism_allows() {
    let job = job(json!({ "status": null }));
    let synced = sync(&job, &[], now());
    assert_eq!(
        synced.manage,
        Manage::Create(vec![NewPod { index: None, failure_counts: None }; 2])
    );
    assert_eq!(synced.status.start_time, Some(Time(now())));
    assert_eq!(synced.status.active, Some(2));
    assert_eq!(synced.status.ready, Some(0));
    assert_eq!(synced.status.terminating, Some(0));
    assert_eq!(synced.status.uncounted_terminated_pods, Some(UncountedTerminatedPods::default()));
    assert!(types(&synced.status).is_empty(), "no Suspended condition for a job never suspended");

    // Two of three completions left, one running: one more pod.
    let job = self::job(json!({ "status": { "succeeded": 1 } }));
    let synced = sync(&job, &[pod("a", json!({}))], now());
    assert_eq!(synced.manage, Manage::Create(vec![NewPod { index: None, failure_counts: None }]));
    // Without completions, a success stops the creations.
    let job = self::job(json!({ "spec": { "completions": null }, "status": { "succeeded": 1 } }));
    assert_eq!(sync(&job, &[pod("a", json!({}))], now()).manage, Manage::Nothing);
}

#[test]
fn finished_pods_are_uncounted_then_counted_then_the_job_completes() {
    let job = job(json!({ "status": { "active": 2, "ready": 0, "terminating": 0 } }));
    let pods = [succeeded("a"), succeeded("b"), succeeded("c")];
    let synced = sync(&job, &pods, now());
    // First flush: the pods uncounted and the interim SuccessCriteriaMet condition.
    let uncounted = synced.flushed.uncounted_terminated_pods.clone().unwrap();
    assert_eq!(uncounted.succeeded, Some(vec!["uid-a".into(), "uid-b".into(), "uid-c".into()]));
    assert_eq!(synced.flushed.succeeded, None);
    assert_eq!(
        types(&synced.flushed),
        [("SuccessCriteriaMet".into(), "True".into(), "CompletionsReached".into())]
    );
    assert_eq!(synced.removed, ["a", "b", "c"]);
    // Then counted, and Complete with the completion time.
    assert!(synced.finished);
    assert_eq!(synced.status.succeeded, Some(3));
    assert_eq!(synced.status.uncounted_terminated_pods, Some(UncountedTerminatedPods::default()));
    assert_eq!(
        types(&synced.status),
        [
            ("SuccessCriteriaMet".into(), "True".into(), "CompletionsReached".into()),
            ("Complete".into(), "True".into(), "CompletionsReached".into())
        ]
    );
    let complete = &synced.status.conditions.as_ref().unwrap()[1];
    assert_eq!(complete.message.as_deref(), Some("Reached expected number of succeeded pods"));
    assert_eq!(synced.status.completion_time, Some(Time(now())));
    assert_eq!(synced.status.active, None);
    assert!(is_finished(&with_status(&job, &synced.status)));
}

#[test]
fn a_job_with_uncounted_pods_still_carrying_finalizers_counts_them_later() {
    // The flush happened but the finalizer removals did not: nothing is counted twice.
    let job = job(json!({ "status": { "succeeded": 1,
        "uncountedTerminatedPods": { "succeeded": ["uid-b"] } } }));
    let pods = [succeeded("b"), pod("c", json!({}))];
    let synced = sync(&job, &pods, now());
    assert_eq!(synced.manage, Manage::Nothing, "3 - 2 succeeded = 1 wanted, 1 active");
    assert_eq!(synced.removed, ["b"]);
    assert_eq!(synced.status.succeeded, Some(2));
    assert!(!synced.finished);
    // Once b's finalizer is gone and nothing else changed, no flush is needed.
    let job = with_status(&job, &synced.status);
    let pods = [unfinalized(&[succeeded("b")]).remove(0), pod("c", json!({}))];
    let all: Vec<&CachedPod> = pods.iter().map(|p| &**p).collect();
    let mut plan = plan(&job, all, None, now());
    settle(&job, &mut plan, Outcome::default(), now());
    let track = track(&job, &plan, now());
    assert!(!track.needs_flush && track.remove.is_empty(), "{track:?}");
}

#[test]
fn exceeding_the_backoff_limit_fails_the_job_once_its_pods_are_gone() {
    let job = job(json!({ "spec": { "backoffLimit": 1 } }));
    let pods = [
        failed("f1", 1, "2026-01-01T00:01:00Z"),
        failed("f2", 1, "2026-01-01T00:02:00Z"),
        pod(
            "running",
            json!({ "status": { "conditions": [{ "type": "Ready", "status": "True" }] } }),
        ),
    ];
    let synced = sync(&job, &pods, now());
    let Manage::DeleteActive(victims) = &synced.manage else { panic!("{:?}", synced.manage) };
    assert_eq!(victims.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["running"]);
    // Every pod is counted failed (the running one as the Job finishes), but Failed waits for
    // the deleted pod to terminate.
    assert_eq!(synced.status.failed, Some(3));
    assert_eq!(
        types(&synced.status),
        [("FailureTarget".into(), "True".into(), "BackoffLimitExceeded".into())]
    );
    assert!(!synced.finished);
    assert_eq!(synced.status.terminating, Some(1));
    assert_eq!(synced.status.ready, Some(0));

    // The next sync, pods gone: Failed, same reason and message.
    let job = with_status(&job, &synced.status);
    let synced = sync(&job, &[], now());
    assert!(synced.finished);
    assert_eq!(
        types(&synced.status),
        [
            ("FailureTarget".into(), "True".into(), "BackoffLimitExceeded".into()),
            ("Failed".into(), "True".into(), "BackoffLimitExceeded".into())
        ]
    );
    let failed = &synced.status.conditions.as_ref().unwrap()[1];
    assert_eq!(failed.message.as_deref(), Some("Job has reached the specified backoff limit"));
    assert_eq!(synced.status.completion_time, None);
}

#[test]
fn failed_pods_are_replaced_after_the_pod_failure_backoff() {
    let job = job(json!({ "spec": { "completions": 1, "parallelism": 1 } }));
    let pods = [failed("f1", 1, "2026-01-01T00:09:55Z")];
    let synced = sync(&job, &pods, now());
    // The first failure: 10 s from 00:09:55.
    assert_eq!(synced.manage, Manage::Wait("2026-01-01T00:10:05Z".parse().unwrap()));
    assert_eq!(synced.recheck, Some("2026-01-01T00:10:05Z".parse().unwrap()));
    assert_eq!(synced.status.failed, Some(1));
    assert_eq!(synced.status.active, None);

    let record = BackoffRecord { failures_after_last_success: 3, last_failure_time: Some(now()) };
    assert_eq!(record.remaining(now()), Duration::from_secs(40));
    let record = BackoffRecord { failures_after_last_success: 30, last_failure_time: Some(now()) };
    assert_eq!(record.remaining(now()), MAX_POD_FAILURE_BACKOFF);
    // Long after the failure, the replacement is created at once.
    let later: Timestamp = "2026-01-01T00:11:00Z".parse().unwrap();
    assert!(matches!(sync(&job, &pods, later).manage, Manage::Create(_)));
    // A success resets the count of failures.
    let old = BackoffRecord { failures_after_last_success: 2, last_failure_time: Some(now()) };
    let pods_succeeded = [succeeded("s")];
    let record = new_backoff_record(Some(&old), &[&pods_succeeded[0]], &[]);
    assert_eq!(record, BackoffRecord::default());
}

#[test]
fn the_active_deadline_fails_the_job_and_is_rechecked_before() {
    let job = job(json!({ "spec": { "activeDeadlineSeconds": 60 } }));
    let pods = [pod("a", json!({})), pod("b", json!({}))];
    let synced = sync(&job, &pods, now());
    assert!(matches!(synced.manage, Manage::DeleteActive(ref v) if v.len() == 2));
    let target = &synced.status.conditions.as_ref().unwrap()[0];
    assert_eq!(
        (target.type_.as_str(), target.reason.as_deref()),
        ("FailureTarget", Some("DeadlineExceeded"))
    );
    assert_eq!(target.message.as_deref(), Some("Job was active longer than specified deadline"));

    let job = self::job(json!({ "spec": { "activeDeadlineSeconds": 3600 } }));
    let synced = sync(&job, &pods, now());
    assert_eq!(synced.manage, Manage::Nothing);
    assert_eq!(synced.recheck, Some("2026-01-01T01:00:00Z".parse().unwrap()));
}

#[test]
fn suspending_deletes_the_active_pods_and_resuming_restarts_the_clock() {
    let job = job(json!({ "spec": { "suspend": true } }));
    let pods = [pod("a", json!({})), succeeded("done")];
    let synced = sync(&job, &pods, now());
    let Manage::Delete(victims) = &synced.manage else { panic!("{:?}", synced.manage) };
    assert_eq!(victims.len(), 1);
    assert_eq!(victims[0].name, "a");
    assert!(victims[0].tracked, "its finalizer is removed before the delete");
    assert_eq!(synced.event, Some(("Suspended", "Job suspended")));
    assert_eq!(types(&synced.status), [("Suspended".into(), "True".into(), "JobSuspended".into())]);
    assert_eq!(synced.status.succeeded, Some(1), "finished pods are still counted");

    // A Job created suspended gets no start time.
    let fresh = self::job(json!({ "spec": { "suspend": true }, "status": null }));
    assert_eq!(sync(&fresh, &[], now()).status.start_time, None);

    let resumed = self::job(json!({ "spec": { "suspend": false } }));
    let resumed = with_status(&resumed, &synced.status);
    let later: Timestamp = "2026-01-01T00:20:00Z".parse().unwrap();
    let synced = sync(&resumed, &[], later);
    assert_eq!(synced.event, Some(("Resumed", "Job resumed")));
    assert_eq!(types(&synced.status), [("Suspended".into(), "False".into(), "JobResumed".into())]);
    assert_eq!(synced.status.start_time, Some(Time(later)));
    assert!(matches!(synced.manage, Manage::Create(ref p) if p.len() == 2));
}

#[test]
fn a_fail_job_rule_fails_the_job_with_its_message() {
    let policy = json!({ "spec": { "podFailurePolicy": { "rules": [
        { "action": "Ignore", "onPodConditions": [{ "type": "DisruptionTarget", "status": "True" }] },
        { "action": "FailJob", "onExitCodes": { "containerName": "c", "operator": "In", "values": [42] } },
    ] } } });
    let job = job(policy.clone());
    let pods = [failed("f", 42, "2026-01-01T00:09:00Z"), pod("r", json!({}))];
    let synced = sync(&job, &pods, now());
    let target = &synced.status.conditions.as_ref().unwrap()[0];
    assert_eq!(
        (target.type_.as_str(), target.reason.as_deref()),
        ("FailureTarget", Some("PodFailurePolicy"))
    );
    assert_eq!(
        target.message.as_deref(),
        Some("Container c for pod ns/f failed with exit code 42 matching FailJob rule at index 1")
    );
    assert!(matches!(synced.manage, Manage::DeleteActive(ref v) if v.len() == 1));

    // Another exit code counts against the backoff limit; a disruption is ignored.
    let other = failed("g", 1, "2026-01-01T00:09:00Z");
    assert_eq!(
        match_pod_failure_policy(job.spec.as_ref().unwrap().pod_failure_policy.as_ref(), &other)
            .action,
        None
    );
    let disrupted = pod(
        "d",
        json!({ "status": { "phase": "Failed", "conditions": [{ "type": "DisruptionTarget", "status": "True" }] } }),
    );
    let matched = match_pod_failure_policy(
        job.spec.as_ref().unwrap().pod_failure_policy.as_ref(),
        &disrupted,
    );
    assert_eq!(matched, PolicyMatch { fail_job: None, count: false, action: Some("Ignore") });
    let synced = sync(&job, &[disrupted], now());
    assert_eq!(synced.status.failed, None, "an ignored failure is not counted");
    assert_eq!(synced.removed, ["d"]);
}

#[test]
fn a_pod_deleted_while_running_is_a_failure_unless_only_failed_pods_are_replaced() {
    let deleted =
        pod("gone", json!({ "metadata": { "deletionTimestamp": "2026-01-01T00:09:00Z" } }));
    let job = job(json!({}));
    let synced = sync(&job, std::slice::from_ref(&deleted), now());
    // Counted failed at once and replaced: two pods wanted, none active.
    assert_eq!(synced.status.failed, Some(1));
    assert_eq!(synced.removed, ["gone"]);
    assert!(matches!(synced.manage, Manage::Create(ref p) if p.len() == 2), "{:?}", synced.manage);
    assert_eq!(synced.status.terminating, Some(1));

    // podReplacementPolicy Failed: not failed yet, and not replaced while it terminates.
    let job = self::job(json!({ "spec": { "podReplacementPolicy": "Failed" } }));
    let synced = sync(&job, &[deleted], now());
    assert_eq!(synced.status.failed, None);
    assert!(synced.removed.is_empty());
    assert!(matches!(synced.manage, Manage::Create(ref p) if p.len() == 1), "{:?}", synced.manage);
}

#[test]
fn indexed_jobs_create_the_pending_indexes_and_track_completed_ones() {
    let job =
        job(json!({ "spec": { "completionMode": "Indexed", "completions": 5, "parallelism": 3 } }));
    let indexed = |name: &str, index: i32, value: Value| {
        let mut value = value;
        merge(
            &mut value,
            json!({ "metadata": { "annotations": { COMPLETION_INDEX: index.to_string() } } }),
        );
        pod(name, value)
    };
    let pods = [
        indexed("p0", 0, exited(0, "2026-01-01T00:05:00Z")),
        indexed("p2", 2, json!({})),
        indexed(
            "p2-dup",
            2,
            json!({ "metadata": { "creationTimestamp": "2026-01-01T00:01:00Z" } }),
        ),
        indexed("p9", 9, json!({})),
    ];
    let synced = sync(&job, &pods, now());
    // The duplicate (newer) and out-of-range pods go before anything is created.
    let Manage::Delete(victims) = &synced.manage else { panic!("{:?}", synced.manage) };
    let mut names: Vec<&str> = victims.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["p2-dup", "p9"]);
    assert_eq!(synced.status.completed_indexes.as_deref(), Some("0"));
    assert_eq!(synced.status.succeeded, Some(1));

    let pods = [indexed("p0", 0, exited(0, "2026-01-01T00:05:00Z")), indexed("p2", 2, json!({}))];
    let synced = sync(&job, &pods, now());
    let indexes: Vec<Option<i32>> = match &synced.manage {
        Manage::Create(new) => new.iter().map(|n| n.index).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(indexes, [Some(1), Some(3)]);

    // All five done: completedIndexes "0-4", Complete.
    let pods: Vec<Arc<CachedPod>> =
        (0..5).map(|i| indexed(&format!("p{i}"), i, exited(0, "2026-01-01T00:05:00Z"))).collect();
    let synced = sync(&job, &pods, now());
    assert_eq!(synced.status.completed_indexes.as_deref(), Some("0-4"));
    assert_eq!(synced.status.succeeded, Some(5));
    assert!(synced.finished);
}

#[test]
fn backoff_limit_per_index_fails_indexes_then_the_job() {
    let job =
        job(json!({ "spec": { "completionMode": "Indexed", "completions": 2, "parallelism": 2,
        "backoffLimit": null, "backoffLimitPerIndex": 0, "maxFailedIndexes": 1 } }));
    let pod0 = pod(
        "p0",
        json!({ "metadata": { "annotations": { COMPLETION_INDEX: "0", INDEX_FAILURE_COUNT: "0" } },
                "status": exited(3, "2026-01-01T00:05:00Z")["status"] }),
    );
    let synced = sync(&job, std::slice::from_ref(&pod0), now());
    assert_eq!(synced.status.failed_indexes.as_deref(), Some("0"));
    // Index 1 is still to run; index 0 is not retried.
    let Manage::Create(new) = &synced.manage else { panic!("{:?}", synced.manage) };
    assert_eq!(new.iter().map(|n| n.index).collect::<Vec<_>>(), [Some(1)]);
    // A second failed index exceeds maxFailedIndexes.
    let pod1 = pod(
        "p1",
        json!({ "metadata": { "annotations": { COMPLETION_INDEX: "1", INDEX_FAILURE_COUNT: "0" } },
                "status": exited(3, "2026-01-01T00:05:00Z")["status"] }),
    );
    let synced = sync(&job, &[pod0, pod1], now());
    assert_eq!(
        types(&synced.status),
        [
            ("FailureTarget".into(), "True".into(), "MaxFailedIndexesExceeded".into()),
            ("Failed".into(), "True".into(), "MaxFailedIndexesExceeded".into())
        ]
    );
}

#[test]
fn a_success_policy_ends_an_indexed_job_early() {
    let job =
        job(json!({ "spec": { "completionMode": "Indexed", "completions": 3, "parallelism": 3,
        "successPolicy": { "rules": [{ "succeededIndexes": "1" }] } } }));
    let indexed = |name: &str, index: &str, value: Value| {
        let mut value = value;
        merge(&mut value, json!({ "metadata": { "annotations": { COMPLETION_INDEX: index } } }));
        pod(name, value)
    };
    let pods =
        [indexed("p0", "0", json!({})), indexed("p1", "1", exited(0, "2026-01-01T00:05:00Z"))];
    let synced = sync(&job, &pods, now());
    assert!(matches!(synced.manage, Manage::DeleteActive(ref v) if v.len() == 1));
    let met = &synced.flushed.conditions.as_ref().unwrap()[0];
    assert_eq!(
        (met.type_.as_str(), met.reason.as_deref(), met.message.as_deref()),
        ("SuccessCriteriaMet", Some("SuccessPolicy"), Some("Matched rules at index 0"))
    );
    assert_eq!(synced.status.failed, None, "pods deleted after success are not failures");
    assert!(!synced.finished, "Complete waits for the deleted pod");
    let job = with_status(&job, &synced.status);
    let synced = sync(&job, &[], now());
    assert!(synced.finished);
    assert_eq!(
        types(&synced.status)[1],
        ("Complete".into(), "True".into(), "SuccessPolicy".into())
    );
}

#[test]
fn intervals_read_and_print_as_upstream() {
    let parsed = Intervals::parse("0-2,4,6,7,9-20", 12);
    assert_eq!(parsed.0, [(0, 2), (4, 4), (6, 7), (9, 11)]);
    assert_eq!(parsed.to_string(), "0-2,4,6,7,9-11");
    assert_eq!(parsed.total(), 9);
    assert!(parsed.has(4) && parsed.has(10) && !parsed.has(5) && !parsed.has(12));
    assert_eq!(parsed.with_indexes([3, 5]).to_string(), "0-7,9-11");
    assert_eq!(Intervals::parse("x,1,2", 5).to_string(), "1,2");
    assert_eq!(Intervals::default().to_string(), "");
}

#[test]
fn pods_from_the_template_carry_the_finalizer_and_the_index() {
    let plain = serde_json::to_value(pod_from_template(
        &job(json!({})),
        &NewPod { index: None, failure_counts: None },
    ))
    .unwrap();
    assert_eq!(plain["metadata"]["generateName"], "pi-");
    assert_eq!(plain["metadata"]["finalizers"], json!([TRACKING_FINALIZER]));
    assert_eq!(plain["metadata"]["labels"]["job-name"], "pi");
    assert_eq!(
        plain["metadata"]["ownerReferences"],
        json!([{ "apiVersion": "batch/v1", "kind": "Job", "name": "pi", "uid": "job-uid",
                 "controller": true, "blockOwnerDeletion": true }])
    );
    assert_eq!(plain["spec"]["containers"][0].get("env"), None);

    let job = job(json!({ "spec": { "completionMode": "Indexed", "template": { "spec": {
        "initContainers": [{ "name": "init", "image": "busybox" }] } } } }));
    let new = NewPod { index: Some(1), failure_counts: Some((2, 0)) };
    let indexed = serde_json::to_value(pod_from_template(&job, &new)).unwrap();
    assert_eq!(indexed["metadata"]["generateName"], "pi-1-");
    assert_eq!(indexed["metadata"]["annotations"][COMPLETION_INDEX], "1");
    assert_eq!(indexed["metadata"]["annotations"][INDEX_FAILURE_COUNT], "2");
    assert_eq!(indexed["metadata"]["labels"][COMPLETION_INDEX], "1");
    assert_eq!(indexed["spec"]["hostname"], "pi-1");
    let env = json!([{ "name": "JOB_COMPLETION_INDEX", "valueFrom": { "fieldRef": {
        "fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']" } } }]);
    assert_eq!(indexed["spec"]["containers"][0]["env"], env);
    assert_eq!(indexed["spec"]["initContainers"][0]["env"], env);

    let long = "a".repeat(60);
    assert_eq!(generate_name_with_index(&long, 12), format!("{}-12-", "a".repeat(54)));
}

#[test]
fn orphans_and_pods_of_gone_or_finished_jobs_lose_the_finalizer() {
    let job = job(json!({}));
    let finished = job_done();
    let owned = pod("owned", json!({}));
    let orphan = pod("orphan", json!({ "metadata": { "ownerReferences": null } }));
    let foreign = pod(
        "foreign",
        json!({ "metadata": { "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": "x", "uid": "x", "controller": true }] } }),
    );
    assert!(!orphan_needs_cleanup(&owned, |_, _| Some(&job)));
    assert!(orphan_needs_cleanup(&owned, |_, _| None), "its job is gone");
    assert!(orphan_needs_cleanup(&owned, |_, _| Some(&finished)));
    assert!(orphan_needs_cleanup(&orphan, |_, _| None));
    assert!(!orphan_needs_cleanup(&foreign, |_, _| None));
    let mut replaced = job.clone();
    replaced.metadata.uid = Some("other".into());
    assert!(orphan_needs_cleanup(&owned, |_, _| Some(&replaced)));

    // A matching orphan is adopted; an owned pod that no longer matches is released.
    let relabeled = pod(
        "relabeled",
        json!({ "metadata": { "labels": { "batch.kubernetes.io/controller-uid": "x" } } }),
    );
    let all = [&*owned, &*orphan, &*foreign, &*relabeled];
    let claims = claim(&job, &all);
    assert_eq!(claims.adopt.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["orphan"]);
    assert_eq!(claims.release.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["relabeled"]);
    assert_eq!(claims.pods.len(), 1);
}

fn job_done() -> Job {
    job(json!({ "status": { "conditions": [{ "type": "Complete", "status": "True" }] } }))
}

#[test]
fn a_job_pod_keeps_what_the_job_controller_reads() {
    let kept = pod(
        "p",
        json!({ "status": { "phase": "Failed",
            "conditions": [{ "type": "DisruptionTarget", "status": "True" }, { "type": "Ready", "status": "False" }],
            "initContainerStatuses": [{ "name": "init", "restartCount": 1,
                "state": { "terminated": { "exitCode": 0 } } }],
            "containerStatuses": [{ "name": "c", "restartCount": 0,
                "state": { "terminated": { "exitCode": 42, "finishedAt": "2026-01-01T00:05:00Z" } } }] } }),
    );
    let status = kept.status.as_ref().unwrap();
    assert_eq!(status.conditions.as_ref().unwrap().len(), 2);
    assert_eq!(status.init_container_statuses.as_ref().unwrap()[0].name, "init");
    let terminated =
        status.container_statuses.as_ref().unwrap()[0].state.as_ref().unwrap().terminated.clone();
    assert_eq!(terminated.unwrap().exit_code, 42);
    assert_eq!(finished_time(&kept), "2026-01-01T00:05:00Z".parse::<Timestamp>().unwrap());

    // Other pods keep none of it.
    let other = pod(
        "o",
        json!({ "metadata": { "ownerReferences": null },
            "status": { "conditions": [{ "type": "DisruptionTarget", "status": "True" }],
            "containerStatuses": [{ "name": "c", "restartCount": 2,
                "state": { "terminated": { "exitCode": 42 } } }] } }),
    );
    let status = other.status.as_ref().unwrap();
    assert!(status.conditions.as_ref().unwrap().is_empty());
    let container = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(
        (container.restart_count, container.name.as_str(), container.state.is_none()),
        (2, "", true)
    );
}
