//! In-process cluster tests of the disruption controller: PodDisruptionBudgets over pods whose
//! readiness the test sets by hand, and the status the controller writes for evictions.

use berth_controllers::{Config, Controller};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// Creates a pod labelled `app: web` (owned by `owner`, a StatefulSet's name and uid) and
/// sets its Ready condition through the status subresource.
async fn pod(pods: &Api<Pod>, name: &str, ready: bool, owner: Option<(&str, &str)>) {
    let owners: Vec<Value> = owner
        .into_iter()
        .map(|(name, uid)| {
            json!({ "apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": uid,
                    "controller": true })
        })
        .collect();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "app": "web" }, "ownerReferences": owners },
        "spec": { "containers": [{ "name": "web", "image": "nginx" }] },
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    set_ready(pods, name, ready).await;
}

async fn set_ready(pods: &Api<Pod>, name: &str, ready: bool) {
    let mut pod = pods.get(name).await.unwrap();
    pod.status = Some(
        serde_json::from_value(json!({
            "phase": "Running",
            "conditions": [{
                "type": "Ready",
                "status": if ready { "True" } else { "False" },
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }],
        }))
        .unwrap(),
    );
    pods.replace_status(name, &PostParams::default(), &pod).await.unwrap();
}

async fn budget(budgets: &Api<PodDisruptionBudget>, name: &str, spec: Value) {
    let budget: PodDisruptionBudget =
        serde_json::from_value(json!({ "metadata": { "name": name }, "spec": spec })).unwrap();
    budgets.create(&PostParams::default(), &budget).await.unwrap();
}

/// (expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed, condition
/// "status/reason") of a budget's status, once it has one for its generation.
async fn summary(
    budgets: &Api<PodDisruptionBudget>,
    name: &str,
) -> Option<(i32, i32, i32, i32, String)> {
    let budget = budgets.get(name).await.ok()?;
    let status = budget.status?;
    let condition = status.conditions?.into_iter().find(|c| c.type_ == "DisruptionAllowed")?;
    (status.observed_generation == budget.metadata.generation).then(|| {
        (
            status.expected_pods,
            status.desired_healthy,
            status.current_healthy,
            status.disruptions_allowed,
            format!("{}/{}", condition.status, condition.reason),
        )
    })
}

fn outcome(
    expected: i32,
    desired: i32,
    healthy: i32,
    allowed: i32,
    condition: &str,
) -> Option<(i32, i32, i32, i32, String)> {
    Some((expected, desired, healthy, allowed, condition.to_owned()))
}

async fn wait_for(
    budgets: &Api<PodDisruptionBudget>,
    name: &str,
    what: &str,
    wanted: Option<(i32, i32, i32, i32, String)>,
) {
    eventually(what, || async { (summary(budgets, name).await == wanted).then_some(()) }).await;
}

/// The disruption controller, and the `default` ServiceAccount pods need.
async fn spawn(cluster: &Cluster) -> berth_controllers::Controllers {
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::Disruption, Controller::ServiceAccount],
        ..Config::default()
    });
    let accounts: Api<ServiceAccount> = Api::namespaced(cluster.client(), "default");
    eventually("the default ServiceAccount", || async {
        accounts.get_opt("default").await.ok().flatten()
    })
    .await;
    controllers
}

#[tokio::test]
async fn a_budget_follows_readiness_and_disrupted_pods() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let controllers = spawn(&cluster).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    for name in ["web-0", "web-1", "web-2"] {
        pod(&pods, name, true, None).await;
    }
    budget(
        &budgets,
        "web",
        json!({ "selector": { "matchLabels": { "app": "web" } }, "minAvailable": 2 }),
    )
    .await;
    wait_for(&budgets, "web", "one disruption allowed", outcome(3, 2, 3, 1, "True/SufficientPods"))
        .await;

    // A pod that is no longer Ready takes the allowed disruption away.
    set_ready(&pods, "web-2", false).await;
    wait_for(
        &budgets,
        "web",
        "no disruption allowed",
        outcome(3, 2, 2, 0, "False/InsufficientPods"),
    )
    .await;
    set_ready(&pods, "web-2", true).await;
    wait_for(&budgets, "web", "allowed again", outcome(3, 2, 3, 1, "True/SufficientPods")).await;

    // A pod an eviction let go two seconds before the deletion timeout does not count as
    // healthy until its entry expires; then the entry is dropped.
    let mut current = budgets.get("web").await.unwrap();
    let disrupted_at = Timestamp::now().checked_sub(SignedDuration::from_secs(118)).unwrap();
    let status = current.status.as_mut().unwrap();
    status.disrupted_pods = Some([("web-0".to_owned(), Time(disrupted_at))].into());
    budgets.replace_status("web", &PostParams::default(), &current).await.unwrap();
    wait_for(&budgets, "web", "web-0 disrupted", outcome(3, 2, 2, 0, "False/InsufficientPods"))
        .await;
    let entries = budgets.get("web").await.unwrap().status.unwrap().disrupted_pods;
    assert_eq!(entries.unwrap().keys().collect::<Vec<_>>(), ["web-0"]);
    wait_for(&budgets, "web", "web-0's entry expired", outcome(3, 2, 3, 1, "True/SufficientPods"))
        .await;
    let status = budgets.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.disrupted_pods, None);

    // Converged means no more writes.
    let settled = budgets.get("web").await.unwrap().metadata.resource_version;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(budgets.get("web").await.unwrap().metadata.resource_version, settled);
    controllers.shutdown().await;
}

#[tokio::test]
async fn max_unavailable_follows_the_stateful_set_scale_and_fails_safe_without_it() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let controllers = spawn(&cluster).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    // No statefulset controller runs: the pods are the test's.
    let set: StatefulSet = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 3,
            "serviceName": "web",
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "nginx" }] },
            },
        },
    }))
    .unwrap();
    let set = sets.create(&PostParams::default(), &set).await.unwrap();
    let uid = set.metadata.uid.clone().unwrap();
    for name in ["web-0", "web-1"] {
        pod(&pods, name, true, Some(("web", &uid))).await;
    }
    budget(
        &budgets,
        "web",
        json!({ "selector": { "matchLabels": { "app": "web" } }, "maxUnavailable": 1 }),
    )
    .await;
    // Three expected (the scale), two healthy: the one unavailable is already spent.
    wait_for(&budgets, "web", "the scale counted", outcome(3, 2, 2, 0, "False/InsufficientPods"))
        .await;

    // Scaling down to 2 is a re-sync: one disruption allowed.
    let scale_down = json!({ "spec": { "replicas": 2 } });
    sets.patch("web", &PatchParams::default(), &Patch::Merge(&scale_down)).await.unwrap();
    wait_for(&budgets, "web", "scaled down", outcome(2, 1, 2, 1, "True/SufficientPods")).await;

    // A pod whose StatefulSet is not there fails the sync: nothing allowed.
    pod(&pods, "stray-0", true, Some(("gone", "uid-of-nothing"))).await;
    let failed = eventually("SyncFailed", || async {
        let status = budgets.get("web").await.ok()?.status?;
        let condition = status.conditions?.into_iter().find(|c| c.reason == "SyncFailed")?;
        Some((status.disruptions_allowed, condition))
    })
    .await;
    assert_eq!(failed.0, 0);
    assert_eq!(failed.1.status, "False");
    assert_eq!(failed.1.message, "found no controllers for pod \"stray-0\"");
    controllers.shutdown().await;
}
