//! In-process cluster tests of the CronJob controller. To be fast and deterministic, no test
//! waits for a minute boundary: a CronJob is created suspended, its `status.lastScheduleTime`
//! patched three minutes into the past through the status subresource, then resumed, so the
//! controller sees the last minute boundary as a missed schedule at once. Jobs are finished by
//! patching their status (no Job controller runs). Covered: the Job of a missed schedule (name,
//! scheduled-timestamp annotation, controller reference, template labels and annotations, the
//! CronJob's status and events), Forbid, Replace, the history limits, suspend, the requeue
//! timer, and what real kubectl's `get cronjobs` and `describe cronjob` show of it.

use std::collections::BTreeMap;

use berth_controllers::{Config, Controller, Controllers};
use berth_testkit::cluster::{Cluster, eventually};
use berth_testkit::kubectl::Kubectl;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const SCHEDULED: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

async fn start() -> (Cluster, Controllers) {
    let cluster = Cluster::start().await;
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::CronJob, Controller::ServiceAccount],
        ..Config::default()
    });
    (cluster, controllers)
}

/// A suspended every-minute CronJob `name`, with `spec` merged over that.
fn manifest(name: &str, spec: Value) -> CronJob {
    let mut base = json!({
        "metadata": { "name": name },
        "spec": {
            "schedule": "* * * * *",
            "suspend": true,
            "jobTemplate": {
                "metadata": { "labels": { "app": name }, "annotations": { "note": "from the template" } },
                "spec": { "template": { "spec": { "restartPolicy": "Never",
                    "containers": [{ "name": "main", "image": "busybox", "command": ["true"] }] } } },
            },
        },
    });
    if let (Some(base), Value::Object(spec)) = (base["spec"].as_object_mut(), spec) {
        base.extend(spec);
    }
    serde_json::from_value(base).unwrap()
}

/// Creates the CronJob (suspended) and moves its last schedule three minutes back.
async fn create_missed(cron_jobs: &Api<CronJob>, name: &str, spec: Value) -> CronJob {
    let created = cron_jobs.create(&PostParams::default(), &manifest(name, spec)).await.unwrap();
    set_status(cron_jobs, name, json!({ "lastScheduleTime": minutes_ago(3) })).await;
    created
}

async fn set_status(cron_jobs: &Api<CronJob>, name: &str, status: Value) {
    let patch = json!({ "status": status });
    cron_jobs.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

async fn resume(cron_jobs: &Api<CronJob>, name: &str) {
    let patch = json!({ "spec": { "suspend": false } });
    cron_jobs.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

fn minutes_ago(minutes: i64) -> String {
    Timestamp::from_second(Timestamp::now().as_second() - minutes * 60).unwrap().to_string()
}

/// The Jobs whose controller is the CronJob with `uid`, by name.
async fn jobs_of(jobs: &Api<Job>, uid: &str) -> BTreeMap<String, Job> {
    let list = jobs.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|j| {
            j.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.uid == uid && r.controller == Some(true))
        })
        .map(|j| (j.metadata.name.clone().unwrap_or_default(), j))
        .collect()
}

async fn event_reasons(client: &kube::Client, uid: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let list = events.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|e| e.involved_object.uid.as_deref() == Some(uid))
        .filter(|e| {
            e.source.as_ref().and_then(|s| s.component.as_deref()) == Some("cronjob-controller")
        })
        .filter_map(|e| e.reason)
        .collect()
}

async fn until_event(client: &kube::Client, uid: &str, reason: &str) {
    eventually(&format!("a {reason} event"), || async {
        event_reasons(client, uid).await.iter().any(|r| r == reason).then_some(())
    })
    .await;
}

fn uid_of(cron_job: &CronJob) -> String {
    cron_job.metadata.uid.clone().unwrap()
}

fn active_names(cron_job: &CronJob) -> Vec<String> {
    let status = cron_job.status.as_ref();
    status
        .and_then(|s| s.active.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|r| r.name.clone())
        .collect()
}

/// Marks a Job finished (`Complete` or `Failed`) through its status, started at `started`.
async fn finish(jobs: &Api<Job>, name: &str, condition: &str, started: &str) {
    // Whole seconds, as a Kubernetes API server stores a metav1.Time.
    let now = Timestamp::from_second(Timestamp::now().as_second()).unwrap().to_string();
    // The interim condition first, as the Job controller writes it: v1.33 refuses `Complete`
    // without `SuccessCriteriaMet` and `Failed` without `FailureTarget`.
    let interim = if condition == "Complete" { "SuccessCriteriaMet" } else { "FailureTarget" };
    let mut status = json!({
        "startTime": started,
        "conditions": [
            { "type": interim, "status": "True", "lastProbeTime": now, "lastTransitionTime": now },
            { "type": condition, "status": "True", "lastProbeTime": now, "lastTransitionTime": now },
        ],
    });
    if condition == "Complete" {
        status["completionTime"] = json!(now);
        status["succeeded"] = json!(1);
    } else {
        status["failed"] = json!(1);
    }
    let patch = json!({ "status": status });
    jobs.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

/// Creates a running Job `name` controlled by the CronJob, as if it had created it.
async fn create_owned(jobs: &Api<Job>, cron_job: &CronJob, name: &str) -> Job {
    let job: Job = serde_json::from_value(json!({
        "metadata": { "name": name, "ownerReferences": [{ "apiVersion": "batch/v1", "kind": "CronJob",
            "name": cron_job.metadata.name, "uid": uid_of(cron_job), "controller": true,
            "blockOwnerDeletion": true }] },
        "spec": { "template": { "spec": { "restartPolicy": "Never",
            "containers": [{ "name": "main", "image": "busybox" }] } } },
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap()
}

fn reference(job: &Job) -> Value {
    json!({ "apiVersion": "batch/v1", "kind": "Job", "namespace": "default",
            "name": job.metadata.name, "uid": job.metadata.uid })
}

#[tokio::test]
async fn a_missed_schedule_starts_a_job_from_the_template() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");

    let before = Timestamp::now();
    let cron_job = create_missed(&cron_jobs, "every", json!({})).await;
    let uid = uid_of(&cron_job);
    resume(&cron_jobs, "every").await;
    let (name, job) = eventually("the job of the missed schedule", || async {
        jobs_of(&jobs, &uid).await.into_iter().next()
    })
    .await;

    let annotations = job.metadata.annotations.clone().unwrap_or_default();
    let scheduled: Timestamp = annotations[SCHEDULED].parse().unwrap();
    assert!(annotations[SCHEDULED].ends_with('Z'), "{annotations:?}");
    assert_eq!(scheduled.as_second() % 60, 0, "a minute boundary: {scheduled}");
    assert!(scheduled <= Timestamp::now() && scheduled.as_second() > before.as_second() - 180);
    assert_eq!(name, format!("every-{}", scheduled.as_second() / 60));
    assert_eq!(annotations.get("note").map(String::as_str), Some("from the template"));
    let labels = job.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("app").map(String::as_str), Some("every"));
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.api_version.as_str(), owner.kind.as_str()), ("batch/v1", "CronJob"));
    assert_eq!((owner.name.as_str(), owner.uid.as_str()), ("every", uid.as_str()));
    assert_eq!((owner.controller, owner.block_owner_deletion), (Some(true), Some(true)));

    // The status lists it and the schedule it ran for.
    let cron_job = eventually("the job in the active list", || async {
        let cron_job = cron_jobs.get("every").await.ok()?;
        (active_names(&cron_job) == [name.clone()]).then_some(cron_job)
    })
    .await;
    let status = cron_job.status.unwrap();
    assert_eq!(status.last_schedule_time.map(|t| t.0), Some(scheduled));
    until_event(&client, &uid, "SuccessfulCreate").await;

    // Finished: out of the active list, its completion the last success.
    finish(&jobs, &name, "Complete", &scheduled.to_string()).await;
    let cron_job = eventually("the finished job out of the active list", || async {
        let cron_job = cron_jobs.get("every").await.ok()?;
        let status = cron_job.status.clone()?;
        (active_names(&cron_job).is_empty() && status.last_successful_time.is_some())
            .then_some(cron_job)
    })
    .await;
    let finished = jobs.get(&name).await.unwrap();
    assert_eq!(
        cron_job.status.unwrap().last_successful_time,
        finished.status.unwrap().completion_time
    );
    until_event(&client, &uid, "SawCompletedJob").await;
    // Only the one schedule ran.
    assert_eq!(jobs_of(&jobs, &uid).await.len(), 1);

    controllers.shutdown().await;
    cluster.shutdown().await;
}

/// A CronJob with `policy`, a running Job of its own in its active list, and a missed schedule;
/// returns the CronJob and that Job.
async fn with_active_job(
    client: &kube::Client,
    cron_jobs: &Api<CronJob>,
    jobs: &Api<Job>,
    name: &str,
    policy: &str,
) -> (CronJob, Job) {
    let cron_job = create_missed(cron_jobs, name, json!({ "concurrencyPolicy": policy })).await;
    let uid = uid_of(&cron_job);
    let running = create_owned(jobs, &cron_job, &format!("{name}-running")).await;
    // The controller has seen the Job once it reports it as unknown; then it is listed.
    until_event(client, &uid, "UnexpectedJob").await;
    set_status(
        cron_jobs,
        name,
        json!({ "active": [reference(&running)], "lastScheduleTime": minutes_ago(3) }),
    )
    .await;
    resume(cron_jobs, name).await;
    (cron_job, running)
}

#[tokio::test]
async fn forbid_starts_nothing_while_a_job_is_active() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");

    let (cron_job, running) = with_active_job(&client, &cron_jobs, &jobs, "once", "Forbid").await;
    let uid = uid_of(&cron_job);
    until_event(&client, &uid, "JobAlreadyActive").await;
    let running_name = running.metadata.name.clone().unwrap();
    let names: Vec<String> = jobs_of(&jobs, &uid).await.into_keys().collect();
    assert_eq!(names, [running_name.as_str()]);
    let current = cron_jobs.get("once").await.unwrap();
    assert_eq!(active_names(&current), [running_name.as_str()]);

    // Once it finished, the missed schedule runs.
    finish(&jobs, &running_name, "Complete", &minutes_ago(3)).await;
    let (name, _) = eventually("the next job", || async {
        jobs_of(&jobs, &uid).await.into_iter().find(|(name, _)| *name != running_name)
    })
    .await;
    eventually("only the new job active", || async {
        let current = cron_jobs.get("once").await.ok()?;
        (active_names(&current) == [name.clone()]).then_some(())
    })
    .await;
    until_event(&client, &uid, "SawCompletedJob").await;

    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn replace_deletes_the_active_job_first() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");

    let (cron_job, running) = with_active_job(&client, &cron_jobs, &jobs, "swap", "Replace").await;
    let uid = uid_of(&cron_job);
    let running_name = running.metadata.name.clone().unwrap();
    let name = eventually("the replacement", || async {
        let owned = jobs_of(&jobs, &uid).await;
        let fresh: Vec<&String> = owned.keys().filter(|n| **n != running_name).collect();
        // The old one is gone (background propagation deletes it at once: no finalizers here).
        (!owned.contains_key(&running_name) && fresh.len() == 1).then(|| fresh[0].clone())
    })
    .await;
    eventually("only the replacement active", || async {
        let current = cron_jobs.get("swap").await.ok()?;
        (active_names(&current) == [name.clone()]).then_some(())
    })
    .await;
    until_event(&client, &uid, "SuccessfulDelete").await;
    until_event(&client, &uid, "SuccessfulCreate").await;

    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn history_limits_delete_the_oldest_finished_jobs() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");

    // Suspended: the cleanup runs all the same.
    let cron_job = cron_jobs
        .create(
            &PostParams::default(),
            &manifest(
                "keep",
                json!({ "successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 1 }),
            ),
        )
        .await
        .unwrap();
    let uid = uid_of(&cron_job);
    for (name, condition, started) in [
        ("keep-s1", "Complete", 10),
        ("keep-s2", "Complete", 5),
        ("keep-f1", "Failed", 10),
        ("keep-f2", "Failed", 5),
    ] {
        create_owned(&jobs, &cron_job, name).await;
        finish(&jobs, name, condition, &minutes_ago(started)).await;
    }
    eventually("the oldest finished jobs deleted", || async {
        let names: Vec<String> = jobs_of(&jobs, &uid).await.into_keys().collect();
        (names == ["keep-f2", "keep-s2"]).then_some(())
    })
    .await;
    until_event(&client, &uid, "SuccessfulDelete").await;

    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_suspended_cron_job_starts_nothing_until_resumed() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");

    let paused = create_missed(&cron_jobs, "paused", json!({})).await;
    let running = create_missed(&cron_jobs, "running", json!({})).await;
    resume(&cron_jobs, "running").await;
    // The pass that started `running`'s missed schedule saw `paused`'s too, and ran nothing.
    eventually("the resumed cron job's job", || async {
        (!jobs_of(&jobs, &uid_of(&running)).await.is_empty()).then_some(())
    })
    .await;
    assert!(jobs_of(&jobs, &uid_of(&paused)).await.is_empty());
    let status = cron_jobs.get("paused").await.unwrap().status.unwrap_or_default();
    assert!(status.active.is_none());

    resume(&cron_jobs, "paused").await;
    eventually("the job once resumed", || async {
        (!jobs_of(&jobs, &uid_of(&paused)).await.is_empty()).then_some(())
    })
    .await;

    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn the_next_schedule_is_met_by_the_requeue_timer() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");

    // Nothing changes after the create: only the timer at the first schedule (2 s after the
    // creation time) can start the Job, well before the 30 s resync.
    let spec = json!({ "schedule": "@every 2s", "suspend": false });
    let cron_job = cron_jobs.create(&PostParams::default(), &manifest("tick", spec)).await.unwrap();
    let uid = uid_of(&cron_job);
    let created = cron_job.metadata.creation_timestamp.clone().unwrap().0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let job = loop {
        if let Some((_, job)) = jobs_of(&jobs, &uid).await.into_iter().next() {
            break job;
        }
        assert!(tokio::time::Instant::now() < deadline, "no job 10 s after the creation");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let annotations = job.metadata.annotations.unwrap_or_default();
    let scheduled: Timestamp = annotations[SCHEDULED].parse().unwrap();
    // The first schedule, unless a slow machine let more pass (then the most recent one).
    let after = scheduled.as_second() - created.as_second();
    assert!(after > 0 && after % 2 == 0, "{scheduled} after {created}");

    controllers.shutdown().await;
    cluster.shutdown().await;
}

const MANIFEST: &str = "\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: '* * * * *'
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: x
            image: busybox
            command: [date]
";

#[tokio::test]
async fn kubectl_get_and_describe_show_the_run() {
    let (cluster, controllers) = start().await;
    let Some(kubectl) = Kubectl::new(&cluster.kubeconfig()) else { return };
    let cron_jobs: Api<CronJob> = Api::namespaced(cluster.client(), "default");

    let out = kubectl.apply(MANIFEST).await;
    assert!(out.contains("cronjob.batch/nightly created"), "{out}");
    let status = format!(r#"{{"status":{{"lastScheduleTime":"{}"}}}}"#, minutes_ago(3));
    let args =
        ["patch", "cronjob", "nightly", "--subresource=status", "--type=merge", "-p", &status];
    kubectl.ok(&args).await;
    kubectl
        .ok(&["patch", "cronjob", "nightly", "--type=merge", "-p", r#"{"spec":{"suspend":false}}"#])
        .await;
    let job = eventually("the job in the active list", || async {
        let cron_job = cron_jobs.get("nightly").await.ok()?;
        active_names(&cron_job).into_iter().next()
    })
    .await;

    let table = kubectl.ok(&["get", "cronjobs"]).await;
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split("   ").map(str::trim).filter(|c| !c.is_empty()).collect())
        .collect();
    assert_eq!(
        rows[0],
        ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"]
    );
    assert_eq!(rows[1][..5], ["nightly", "* * * * *", "<none>", "False", "1"], "{table}");
    assert_ne!(rows[1][5], "<none>", "{table}");
    let jobs = kubectl.ok(&["get", "jobs", "-o", "name"]).await;
    assert_eq!(jobs.trim(), format!("job.batch/{job}"));
    let out = kubectl.ok(&["describe", "cronjob", "nightly"]).await;
    for expected in [
        "Active Jobs:".to_owned(),
        job.clone(),
        "SuccessfulCreate".to_owned(),
        format!("Created job {job}"),
    ] {
        assert!(out.contains(&expected), "{expected:?} in:\n{out}");
    }
    assert!(out.contains("cronjob-controller"), "{out}");

    controllers.shutdown().await;
    cluster.shutdown().await;
}
