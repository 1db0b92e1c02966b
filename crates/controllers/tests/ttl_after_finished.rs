//! In-process cluster tests of the TTL-after-finished controller, with the Job controller, the
//! garbage collector and a stand-in kubelet that makes every pod succeed at once: a finished
//! Job with `ttlSecondsAfterFinished: 1` is deleted in the foreground (its pod first), one with
//! 30 is still there after 2 s, one whose TTL is removed before it expires stays, and one
//! without a TTL stays.

use std::time::Duration;

use berth_controllers::{Config, Controller, Controllers};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// A finalizer the stand-in kubelet puts on every pod, so the Job's foreground deletion can be
/// seen waiting for its pod.
const HOLD: &str = "test.berth.dev/hold";

async fn start() -> (Cluster, Controllers) {
    let cluster = Cluster::start().await;
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![
            Controller::Job,
            Controller::TtlAfterFinished,
            Controller::GarbageCollector,
            Controller::ServiceAccount,
        ],
        ..Config::default()
    });
    (cluster, controllers)
}

/// A stand-in kubelet: every pending pod gets the [`HOLD`] finalizer and then Succeeds (its
/// containers exited 0), until the task is aborted.
async fn succeeding_kubelet(pods: Api<Pod>) {
    loop {
        if let Ok(list) = pods.list(&ListParams::default()).await {
            for pod in list.items {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
                if phase != "Pending" || pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let finalizers = pod.metadata.finalizers.clone().unwrap_or_default();
                if !finalizers.iter().any(|f| f == HOLD) {
                    let add = json!({ "metadata": { "finalizers": [HOLD] } });
                    if pods
                        .patch(&name, &PatchParams::default(), &Patch::Strategic(&add))
                        .await
                        .is_err()
                    {
                        continue;
                    }
                }
                let now = Timestamp::now().to_string();
                let containers =
                    pod.spec.as_ref().map(|s| s.containers.clone()).unwrap_or_default();
                let statuses: Vec<Value> = containers
                    .iter()
                    .map(|c| {
                        json!({ "name": c.name, "image": c.image, "imageID": "", "ready": false,
                            "restartCount": 0, "started": false,
                            "state": { "terminated": { "exitCode": 0, "reason": "Completed",
                                "startedAt": now, "finishedAt": now } } })
                    })
                    .collect();
                let status = json!({ "status": {
                    "phase": "Succeeded", "startTime": now,
                    "conditions": [{ "type": "Ready", "status": "False", "lastTransitionTime": now,
                                     "reason": "PodCompleted" }],
                    "containerStatuses": statuses,
                } });
                let _ =
                    pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn job_manifest(name: &str, ttl: Option<i32>) -> Job {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "ttlSecondsAfterFinished": ttl,
            "template": {
                "spec": { "restartPolicy": "Never",
                          "containers": [{ "name": "main", "image": "busybox", "command": ["true"] }] },
            },
        },
    }))
    .unwrap()
}

/// When the Job finished: its `Complete` condition's transition time, once it is True.
fn finished_at(job: &Job) -> Option<Timestamp> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    let complete = conditions.iter().find(|c| c.type_ == "Complete" && c.status == "True")?;
    Some(complete.last_transition_time.as_ref()?.0)
}

async fn pods_of(pods: &Api<Pod>, job: &str) -> Vec<Pod> {
    let params = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}"));
    pods.list(&params).await.map(|l| l.items).unwrap_or_default()
}

/// Takes the [`HOLD`] finalizer off every pod of `job`.
async fn release_pods(pods: &Api<Pod>, job: &str) {
    for pod in pods_of(pods, job).await {
        let name = pod.metadata.name.unwrap();
        let patch = json!({ "metadata": { "$deleteFromPrimitiveList/finalizers": [HOLD] } });
        pods.patch(&name, &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
    }
}

/// Asserts that `name` exists, is the Job created as `uid` and is not being deleted.
async fn assert_kept(jobs: &Api<Job>, name: &str, uid: &str) {
    let job = jobs.get(name).await.unwrap_or_else(|e| panic!("job {name} deleted: {e}"));
    assert_eq!(job.metadata.uid.as_deref(), Some(uid), "job {name}");
    assert_eq!(job.metadata.deletion_timestamp, None, "job {name} is being deleted");
}

#[tokio::test]
async fn finished_jobs_are_deleted_after_their_ttl() {
    let (cluster, controllers) = start().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let jobs: Api<Job> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(succeeding_kubelet(pods.clone()));

    let mut uids = Vec::new();
    for (name, ttl) in
        [("short", Some(1)), ("long", Some(30)), ("removed", Some(3)), ("none", None)]
    {
        let job = jobs.create(&PostParams::default(), &job_manifest(name, ttl)).await.unwrap();
        uids.push((name, job.metadata.uid.unwrap()));
    }
    let uid = |name: &str| uids.iter().find(|(n, _)| *n == name).unwrap().1.clone();

    // `removed` loses its TTL as soon as it has finished, before it expires.
    let removed = eventually("job removed Complete", || async {
        finished_at(&jobs.get("removed").await.ok()?)
    })
    .await;
    let patch = json!({ "spec": { "ttlSecondsAfterFinished": null } });
    let patched =
        jobs.patch("removed", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    assert_eq!(patched.spec.unwrap().ttl_seconds_after_finished, None);
    assert!(Timestamp::now() < removed + Duration::from_secs(3), "TTL removed in time");

    // `short` is deleted in the foreground: it waits, being deleted, for its pod to go.
    let finished =
        eventually("job short Complete", || async { finished_at(&jobs.get("short").await.ok()?) })
            .await;
    let deleting = eventually("job short being deleted in the foreground", || async {
        let job = jobs.get("short").await.ok()?;
        job.metadata.deletion_timestamp.is_some().then_some(job)
    })
    .await;
    let waited = Timestamp::now().duration_since(finished);
    assert!(waited.as_secs_f64() >= 1.0, "deleted {waited:?} after finishing, before the TTL");
    assert_eq!(deleting.metadata.uid.as_deref(), Some(uid("short").as_str()));
    let finalizers = deleting.metadata.finalizers.unwrap_or_default();
    assert!(finalizers.contains(&"foregroundDeletion".to_owned()), "{finalizers:?}");
    let held = eventually("the pod of job short being deleted", || async {
        let list = pods_of(&pods, "short").await;
        (!list.is_empty() && list.iter().all(|p| p.metadata.deletion_timestamp.is_some()))
            .then_some(list)
    })
    .await;
    assert_eq!(held.len(), 1);
    assert!(jobs.get("short").await.is_ok(), "the job waits for its pod");
    release_pods(&pods, "short").await;
    eventually("job short and its pod gone", || async {
        let gone = jobs
            .get("short")
            .await
            .is_err_and(|e| matches!(e, kube::Error::Api(status) if status.code == 404));
        (gone && pods_of(&pods, "short").await.is_empty()).then_some(())
    })
    .await;

    // `long` (30 s) is still there 2 s after it finished; `removed` past its old expiry; `none`.
    let long = finished_at(&jobs.get("long").await.unwrap()).expect("job long finished");
    let until = (long + Duration::from_secs(2)).max(removed + Duration::from_secs(4));
    let wait = until.duration_since(Timestamp::now());
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
    assert_kept(&jobs, "long", &uid("long")).await;
    assert_kept(&jobs, "removed", &uid("removed")).await;
    assert_kept(&jobs, "none", &uid("none")).await;
    assert!(finished_at(&jobs.get("none").await.unwrap()).is_some(), "job none finished");
    for name in ["long", "removed", "none"] {
        let left = pods_of(&pods, name).await;
        assert_eq!(left.len(), 1, "the pod of job {name}");
        assert_eq!(left[0].metadata.deletion_timestamp, None, "the pod of job {name}");
    }

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}
