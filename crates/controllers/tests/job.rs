//! In-process cluster tests of the Job controller, with a stand-in kubelet that runs pods as
//! the simulated runtime does (`sim.berth.dev/run-for`, `sim.berth.dev/exit-code`): a
//! NonIndexed Job completes, an Indexed Job gets its indexed pods, the backoff limit, the
//! active deadline and a pod failure policy fail Jobs, a suspended Job's pods go and come
//! back, a pod deleted while running is replaced; and real kubectl's `apply`, `wait`,
//! `get jobs` and `describe job`.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_controllers::{Config, Controller, Controllers};
use berth_testkit::cluster::{Cluster, eventually};
use berth_testkit::kubectl::Kubectl;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const RUN_FOR: &str = "sim.berth.dev/run-for";
const EXIT_CODE: &str = "sim.berth.dev/exit-code";
const TRACKING: &str = "batch.kubernetes.io/job-tracking";

async fn start() -> (Cluster, Controllers) {
    let cluster = Cluster::start().await;
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::Job, Controller::ServiceAccount],
        ..Config::default()
    });
    (cluster, controllers)
}

/// A Go duration as the simulated runtime reads it ("100ms", "2s", "1m", "1h").
fn go_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

fn container_statuses(pod: &Pod, state: Value, ready: bool) -> Value {
    let containers = pod.spec.as_ref().map(|s| s.containers.clone()).unwrap_or_default();
    Value::Array(
        containers
            .iter()
            .map(|c| {
                json!({ "name": c.name, "image": c.image, "imageID": "", "ready": ready,
                        "restartCount": 0, "started": ready, "state": state })
            })
            .collect(),
    )
}

/// A stand-in kubelet: pending pods start (Running and Ready), running pods end after their
/// `run-for` with their `exit-code` (Succeeded on 0, Failed otherwise), pods being deleted end
/// Failed with 137; until the task is aborted.
async fn sim_kubelet(pods: Api<Pod>) {
    loop {
        if let Ok(list) = pods.list(&ListParams::default()).await {
            let now = Timestamp::now();
            for pod in list.items {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let status = pod.status.clone().unwrap_or_default();
                let phase = status.phase.clone().unwrap_or_default();
                let annotations = pod.metadata.annotations.clone().unwrap_or_default();
                let ended = |code: i64| {
                    let state = json!({ "terminated": { "exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
                        "startedAt": status.start_time.as_ref().map(|t| t.0.to_string()), "finishedAt": now.to_string() } });
                    json!({ "status": {
                        "phase": if code == 0 { "Succeeded" } else { "Failed" },
                        "conditions": [{ "type": "Ready", "status": "False", "lastTransitionTime": now.to_string(),
                                         "reason": "PodCompleted" }],
                        "containerStatuses": container_statuses(&pod, state, false),
                    } })
                };
                let patch = if phase == "Succeeded" || phase == "Failed" {
                    None
                } else if pod.metadata.deletion_timestamp.is_some() {
                    Some(ended(137))
                } else if phase == "Running" {
                    let started = status.start_time.as_ref().map(|t| t.0).unwrap_or(now);
                    let run_for = annotations.get(RUN_FOR).and_then(|d| go_duration(d));
                    let elapsed =
                        Duration::try_from(now.duration_since(started)).unwrap_or_default();
                    run_for.filter(|d| elapsed >= *d).map(|_| {
                        let code =
                            annotations.get(EXIT_CODE).and_then(|c| c.parse().ok()).unwrap_or(0);
                        ended(code)
                    })
                } else {
                    let state = json!({ "running": { "startedAt": now.to_string() } });
                    Some(json!({ "status": {
                        "phase": "Running", "startTime": now.to_string(),
                        "conditions": [{ "type": "Ready", "status": "True", "lastTransitionTime": now.to_string() }],
                        "containerStatuses": container_statuses(&pod, state, true),
                    } }))
                };
                if let Some(patch) = patch {
                    let _ = pods
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn job_manifest(name: &str, spec: Value, annotations: Value) -> Job {
    let mut base = json!({
        "metadata": { "name": name },
        "spec": {
            "template": {
                "metadata": { "annotations": annotations },
                "spec": { "restartPolicy": "Never",
                          "containers": [{ "name": "main", "image": "busybox", "command": ["true"] }] },
            },
        },
    });
    if let (Some(base), Value::Object(spec)) = (base["spec"].as_object_mut(), spec) {
        base.extend(spec);
    }
    serde_json::from_value(base).unwrap()
}

/// The (type, status, reason) of each condition, in order.
fn conditions(job: &Job) -> Vec<(String, String, String)> {
    let status = job.status.as_ref();
    status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone().unwrap_or_default()))
        .collect()
}

fn condition(type_: &str, status: &str, reason: &str) -> (String, String, String) {
    (type_.to_owned(), status.to_owned(), reason.to_owned())
}

/// Waits until the job has a condition of `type_` that is True.
async fn until_condition(jobs: &Api<Job>, name: &str, type_: &str) -> Job {
    eventually(&format!("job {name} {type_}"), || async {
        let job = jobs.get(name).await.ok()?;
        conditions(&job).iter().any(|(t, s, _)| t == type_ && s == "True").then_some(job)
    })
    .await
}

async fn pods_of(pods: &Api<Pod>, job: &str) -> Vec<Pod> {
    let params = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}"));
    pods.list(&params).await.map(|l| l.items).unwrap_or_default()
}

async fn event_reasons(client: &kube::Client, uid: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let list = events.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|e| e.involved_object.uid.as_deref() == Some(uid))
        .filter_map(|e| e.reason)
        .collect()
}

#[tokio::test]
async fn a_non_indexed_job_completes() {
    let (cluster, controllers) = start().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let jobs: Api<Job> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(sim_kubelet(pods.clone()));

    let job = job_manifest(
        "pi",
        json!({ "completions": 3, "parallelism": 2 }),
        json!({ RUN_FOR: "200ms" }),
    );
    let job = jobs.create(&PostParams::default(), &job).await.unwrap();
    let uid = job.metadata.uid.clone().unwrap();
    // At most `parallelism` pods run at once.
    eventually("two pods running", || async {
        let running = pods_of(&pods, "pi").await;
        assert!(running.len() <= 3, "{}", running.len());
        (!running.is_empty()).then_some(())
    })
    .await;
    let done = until_condition(&jobs, "pi", "Complete").await;
    assert_eq!(
        conditions(&done),
        [
            condition("SuccessCriteriaMet", "True", "CompletionsReached"),
            condition("Complete", "True", "CompletionsReached")
        ]
    );
    let status = done.status.clone().unwrap();
    assert_eq!(status.succeeded, Some(3));
    assert_eq!(status.failed, None);
    assert_eq!(status.active, None);
    assert_eq!((status.ready, status.terminating), (Some(0), Some(0)));
    assert!(status.completion_time.is_some() && status.start_time.is_some());
    let uncounted = status.uncounted_terminated_pods.unwrap();
    assert!(uncounted.succeeded.is_none() && uncounted.failed.is_none());
    let finished = pods_of(&pods, "pi").await;
    assert_eq!(finished.len(), 3);
    for pod in &finished {
        assert!(pod.metadata.name.as_deref().unwrap_or_default().starts_with("pi-"));
        assert!(
            pod.metadata.finalizers.as_ref().is_none_or(|f| !f.iter().any(|f| f == TRACKING)),
            "finalizer removed"
        );
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("Job", uid.as_str(), Some(true))
        );
    }
    let client = cluster.client();
    eventually("SuccessfulCreate and Completed events", || async {
        let reasons = event_reasons(&client, &uid).await;
        (reasons.iter().any(|r| r == "SuccessfulCreate")
            && reasons.iter().any(|r| r == "Completed"))
        .then_some(())
    })
    .await;

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn an_indexed_job_runs_one_pod_per_index() {
    let (cluster, controllers) = start().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let jobs: Api<Job> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(sim_kubelet(pods.clone()));

    let spec = json!({ "completions": 3, "parallelism": 3, "completionMode": "Indexed" });
    jobs.create(&PostParams::default(), &job_manifest("idx", spec, json!({ RUN_FOR: "300ms" })))
        .await
        .unwrap();
    let done = until_condition(&jobs, "idx", "Complete").await;
    let status = done.status.unwrap();
    assert_eq!(status.completed_indexes.as_deref(), Some("0-2"));
    assert_eq!(status.succeeded, Some(3));
    let mut by_index: BTreeMap<String, Pod> = BTreeMap::new();
    for pod in pods_of(&pods, "idx").await {
        let index =
            pod.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"]
                .clone();
        by_index.insert(index, pod);
    }
    assert_eq!(by_index.keys().collect::<Vec<_>>(), ["0", "1", "2"]);
    for (index, pod) in &by_index {
        let name = pod.metadata.name.clone().unwrap();
        assert!(name.starts_with(&format!("idx-{index}-")), "{name}");
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["batch.kubernetes.io/job-completion-index"], *index);
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(format!("idx-{index}").as_str()));
        let env = spec.containers[0].env.as_ref().unwrap();
        let from = env.iter().find(|e| e.name == "JOB_COMPLETION_INDEX").unwrap();
        let field = from.value_from.as_ref().unwrap().field_ref.as_ref().unwrap();
        assert_eq!(field.field_path, "metadata.labels['batch.kubernetes.io/job-completion-index']");
    }

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn exceeding_the_backoff_limit_fails_the_job_and_deletes_its_pods() {
    let (cluster, controllers) = start().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let jobs: Api<Job> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(sim_kubelet(pods.clone()));

    let spec = json!({ "completions": 2, "parallelism": 2, "backoffLimit": 0 });
    jobs.create(&PostParams::default(), &job_manifest("fail", spec, json!({ RUN_FOR: "1h" })))
        .await
        .unwrap();
    let running = eventually("two running pods", || async {
        let list = pods_of(&pods, "fail").await;
        let running: Vec<Pod> = list
            .into_iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .collect();
        (running.len() == 2).then_some(running)
    })
    .await;
    // One pod fails, as a kubelet would report it.
    let victim = running[0].metadata.name.clone().unwrap();
    let failed = json!({ "status": { "phase": "Failed", "containerStatuses": [{ "name": "main", "image": "busybox",
        "imageID": "", "ready": false, "restartCount": 0,
        "state": { "terminated": { "exitCode": 1, "reason": "Error" } } }] } });
    pods.patch_status(&victim, &PatchParams::default(), &Patch::Merge(&failed)).await.unwrap();
    let done = until_condition(&jobs, "fail", "Failed").await;
    assert_eq!(
        conditions(&done),
        [
            condition("FailureTarget", "True", "BackoffLimitExceeded"),
            condition("Failed", "True", "BackoffLimitExceeded")
        ]
    );
    let status = done.status.unwrap();
    assert_eq!(status.failed, Some(2), "the failed pod and the one deleted as the job failed");
    assert_eq!((status.active, status.terminating), (None, Some(0)));
    assert_eq!(status.completion_time, None);
    eventually("the other pod deleted", || async {
        let left = pods_of(&pods, "fail").await;
        left.iter().all(|p| p.metadata.name.as_deref() == Some(victim.as_str())).then_some(())
    })
    .await;
    let uid = done.metadata.uid.unwrap();
    let client = cluster.client();
    eventually("the BackoffLimitExceeded and SuccessfulDelete events", || async {
        let reasons = event_reasons(&client, &uid).await;
        (reasons.iter().any(|r| r == "BackoffLimitExceeded")
            && reasons.iter().any(|r| r == "SuccessfulDelete"))
        .then_some(())
    })
    .await;

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn the_active_deadline_fails_the_job() {
    let (cluster, controllers) = start().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let jobs: Api<Job> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(sim_kubelet(pods.clone()));

    let spec = json!({ "parallelism": 2, "completions": 2, "activeDeadlineSeconds": 2 });
    jobs.create(&PostParams::default(), &job_manifest("slow", spec, json!({ RUN_FOR: "1h" })))
        .await
        .unwrap();
    let done = until_condition(&jobs, "slow", "Failed").await;
    assert_eq!(
        conditions(&done),
        [
            condition("FailureTarget", "True", "DeadlineExceeded"),
            condition("Failed", "True", "DeadlineExceeded")
        ]
    );
    let failed = done.status.as_ref().unwrap().conditions.as_ref().unwrap()[1].clone();
    assert_eq!(failed.message.as_deref(), Some("Job was active longer than specified deadline"));
    eventually("its pods deleted", || async {
        pods_of(&pods, "slow").await.is_empty().then_some(())
    })
    .await;

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_suspended_job_runs_nothing_until_resumed() {
    let (cluster, controllers) = start().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let jobs: Api<Job> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(sim_kubelet(pods.clone()));

    let spec = json!({ "parallelism": 2, "completions": 2, "suspend": true });
    jobs.create(&PostParams::default(), &job_manifest("later", spec, json!({ RUN_FOR: "1h" })))
        .await
        .unwrap();
    let suspended = until_condition(&jobs, "later", "Suspended").await;
    assert_eq!(conditions(&suspended), [condition("Suspended", "True", "JobSuspended")]);
    assert_eq!(suspended.status.as_ref().unwrap().start_time, None);
    assert!(pods_of(&pods, "later").await.is_empty());

    let suspend = |on: bool| json!({ "spec": { "suspend": on } });
    jobs.patch("later", &PatchParams::default(), &Patch::Merge(&suspend(false))).await.unwrap();
    let resumed = eventually("resumed with two active pods", || async {
        let job = jobs.get("later").await.ok()?;
        let active = job.status.as_ref()?.active;
        (active == Some(2) && conditions(&job) == [condition("Suspended", "False", "JobResumed")])
            .then_some(job)
    })
    .await;
    assert!(resumed.status.unwrap().start_time.is_some());

    jobs.patch("later", &PatchParams::default(), &Patch::Merge(&suspend(true))).await.unwrap();
    eventually("suspended again, its pods deleted", || async {
        let job = jobs.get("later").await.ok()?;
        let gone = pods_of(&pods, "later").await.is_empty();
        (gone
            && job.status.as_ref()?.active.is_none()
            && conditions(&job) == [condition("Suspended", "True", "JobSuspended")])
        .then_some(())
    })
    .await;
    let uid = resumed.metadata.uid.unwrap();
    let reasons = event_reasons(&cluster.client(), &uid).await;
    assert!(
        reasons.iter().any(|r| r == "Suspended") && reasons.iter().any(|r| r == "Resumed"),
        "{reasons:?}"
    );
    let failed = jobs.get("later").await.unwrap().status.unwrap().failed;
    assert_eq!(failed, None, "pods deleted for a suspension are not failures");

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_fail_job_rule_on_an_exit_code_fails_the_job() {
    let (cluster, controllers) = start().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let jobs: Api<Job> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(sim_kubelet(pods.clone()));

    let spec = json!({ "completions": 1, "parallelism": 1, "podFailurePolicy": { "rules": [
        { "action": "FailJob", "onExitCodes": { "containerName": "main", "operator": "In", "values": [42] } }] } });
    let annotations = json!({ RUN_FOR: "100ms", EXIT_CODE: "42" });
    jobs.create(&PostParams::default(), &job_manifest("policy", spec, annotations)).await.unwrap();
    let done = until_condition(&jobs, "policy", "Failed").await;
    assert_eq!(
        conditions(&done),
        [
            condition("FailureTarget", "True", "PodFailurePolicy"),
            condition("Failed", "True", "PodFailurePolicy")
        ]
    );
    let pod = pods_of(&pods, "policy").await.remove(0);
    let message =
        done.status.as_ref().unwrap().conditions.as_ref().unwrap()[1].message.clone().unwrap();
    let expected = format!(
        "Container main for pod default/{} failed with exit code 42 matching FailJob rule at index 0",
        pod.metadata.name.unwrap()
    );
    assert_eq!(message, expected);
    assert_eq!(done.status.unwrap().failed, Some(1));

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_pod_deleted_while_running_is_replaced() {
    let (cluster, controllers) = start().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let jobs: Api<Job> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(sim_kubelet(pods.clone()));

    let spec = json!({ "completions": 1, "parallelism": 1 });
    jobs.create(&PostParams::default(), &job_manifest("keep", spec, json!({ RUN_FOR: "1h" })))
        .await
        .unwrap();
    let first = eventually("a pod", || async { pods_of(&pods, "keep").await.pop() }).await;
    let first_name = first.metadata.name.clone().unwrap();
    pods.delete(&first_name, &DeleteParams::default()).await.unwrap();
    let job = eventually("a replacement, the deleted pod counted as a failure", || async {
        let list = pods_of(&pods, "keep").await;
        let job = jobs.get("keep").await.ok()?;
        let status = job.status.clone()?;
        let replaced =
            list.len() == 1 && list[0].metadata.name.as_deref() != Some(first_name.as_str());
        (replaced && status.active == Some(1) && status.failed == Some(1)).then_some(job)
    })
    .await;
    let status = job.status.unwrap();
    assert_eq!(status.succeeded, None);
    assert!(
        conditions(&jobs.get("keep").await.unwrap()).is_empty(),
        "no condition: the job goes on"
    );

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

const MANIFEST: &str = "
apiVersion: batch/v1
kind: Job
metadata:
  name: x
spec:
  completions: 2
  parallelism: 2
  template:
    metadata:
      annotations:
        sim.berth.dev/run-for: 300ms
    spec:
      restartPolicy: Never
      containers:
      - name: x
        image: busybox
        command: [sh, -c, 'exit 0']
";

#[tokio::test]
async fn kubectl_apply_wait_get_and_describe() {
    let (cluster, controllers) = start().await;
    let Some(kubectl) = Kubectl::new(&cluster.kubeconfig()) else { return };
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(sim_kubelet(pods.clone()));

    let out = kubectl.apply(MANIFEST).await;
    assert!(out.contains("job.batch/x created"), "{out}");
    let out = kubectl.ok(&["wait", "--for=condition=complete", "job/x", "--timeout=60s"]).await;
    assert!(out.contains("job.batch/x condition met"), "{out}");
    let out = kubectl.ok(&["get", "jobs"]).await;
    let header: Vec<&str> = out.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], "{out}");
    let columns: Vec<&str> = out.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    assert_eq!(columns[..3], ["x", "Complete", "2/2"], "{out}");
    let out = kubectl.ok(&["describe", "job", "x"]).await;
    for expected in [
        "Completions:      2",
        "Pods Statuses:    0 Active (0 Ready) / 2 Succeeded / 0 Failed",
        "Completed",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    assert!(out.contains("SuccessfulCreate") && out.contains("job-controller"), "{out}");

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}
