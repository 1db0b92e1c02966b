//! In-process cluster tests of the ReplicaSet controller, with a stand-in kubelet that makes
//! every new pod Running and Ready: a set gets its pods and status, replaces a deleted pod,
//! scales up and down, adopts a matching orphan and releases a pod relabeled out of it; a
//! refused create is reported (`ReplicaFailure`, `FailedCreate`) until creates succeed; and
//! real kubectl's `apply`, `scale rs` and `get rs`.

use berth_controllers::{Config, Controller};
use berth_testkit::cluster::{Cluster, eventually, ready_kubelet};
use berth_testkit::kubectl::Kubectl;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn ready() -> serde_json::Value {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now}]}})
}

/// The pods of the set (by controller reference) that are not being deleted.
async fn pods_of(pods: &Api<Pod>, uid: &str) -> Vec<Pod> {
    let list = pods.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.metadata.owner_references.iter().flatten().any(|r| {
                r.uid == uid && r.controller == Some(true) && r.block_owner_deletion == Some(true)
            })
        })
        .collect()
}

/// Waits until the set has `n` pods and its status says `n` of each.
async fn settled(sets: &Api<ReplicaSet>, pods: &Api<Pod>, uid: &str, n: i32) -> Vec<Pod> {
    eventually(&format!("{n} pods, all ready and available"), || async {
        let set = sets.get("web").await.ok()?;
        let status = set.status?;
        let counts = (
            status.replicas,
            status.fully_labeled_replicas.unwrap_or(0),
            status.ready_replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0),
        );
        let observed = status.observed_generation == set.metadata.generation;
        let found = pods_of(pods, uid).await;
        (counts == (n, n, n, n) && observed && found.len() == n as usize).then_some(found)
    })
    .await
}

fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

async fn scale(sets: &Api<ReplicaSet>, replicas: i32) {
    let patch = json!({"spec": {"replicas": replicas}});
    sets.patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

#[tokio::test]
async fn a_replica_set_keeps_its_pods() {
    let cluster = Cluster::start().await;
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::ReplicaSet, Controller::ServiceAccount],
        ..Config::default()
    });
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(ready_kubelet(pods.clone()));

    let set: ReplicaSet = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 3,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "nginx", "image": "nginx" }] },
            },
        },
    }))
    .unwrap();
    let set = sets.create(&PostParams::default(), &set).await.unwrap();
    let uid = set.metadata.uid.clone().unwrap();
    let three = settled(&sets, &pods, &uid, 3).await;
    assert!(three.iter().all(|p| name(p).starts_with("web-")), "generateName web-");

    // A deleted pod is replaced.
    let victim = name(&three[0]);
    pods.delete(&victim, &DeleteParams::default()).await.unwrap();
    eventually("the deleted pod replaced", || async {
        let found = settled(&sets, &pods, &uid, 3).await;
        found.iter().all(|p| name(p) != victim).then_some(())
    })
    .await;

    scale(&sets, 5).await;
    settled(&sets, &pods, &uid, 5).await;
    scale(&sets, 1).await;
    settled(&sets, &pods, &uid, 1).await;

    // An orphan that comes to match is adopted; its deletion cost keeps it over the other pod.
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {
            "name": "orphan",
            "labels": { "app": "other" },
            "annotations": { "controller.kubernetes.io/pod-deletion-cost": "1000" },
        },
        "spec": { "containers": [{ "name": "nginx", "image": "nginx" }] },
    }))
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.unwrap();
    pods.patch_status("orphan", &PatchParams::default(), &Patch::Merge(&ready())).await.unwrap();
    let relabel = |app: &str| json!({"metadata": {"labels": {"app": app}}});
    pods.patch("orphan", &PatchParams::default(), &Patch::Merge(&relabel("web"))).await.unwrap();
    eventually("the orphan adopted, the other pod deleted", || async {
        let found = settled(&sets, &pods, &uid, 1).await;
        (found.len() == 1 && name(&found[0]) == "orphan").then_some(())
    })
    .await;

    // Relabeled out of the set, it is released and replaced.
    pods.patch("orphan", &PatchParams::default(), &Patch::Merge(&relabel("gone"))).await.unwrap();
    eventually("the pod released", || async {
        let pod = pods.get("orphan").await.ok()?;
        pod.metadata.owner_references.unwrap_or_default().is_empty().then_some(())
    })
    .await;
    let found = settled(&sets, &pods, &uid, 1).await;
    assert_ne!(name(&found[0]), "orphan");

    let events: Api<Event> = Api::namespaced(cluster.client(), "default");
    eventually("SuccessfulCreate and SuccessfulDelete events", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        let of_set = |reason: &str| {
            list.items.iter().any(|e| {
                e.reason.as_deref() == Some(reason)
                    && e.involved_object.uid.as_deref() == Some(uid.as_str())
                    && e.source.as_ref().and_then(|s| s.component.as_deref())
                        == Some("replicaset-controller")
            })
        };
        (of_set("SuccessfulCreate") && of_set("SuccessfulDelete")).then_some(())
    })
    .await;

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn failed_creates_are_reported_until_they_succeed() {
    let cluster = Cluster::start().await;
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::ReplicaSet, Controller::ServiceAccount],
        ..Config::default()
    });
    let client = cluster.client();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    // The ServiceAccount admission refuses pods of an account that does not exist.
    let set: ReplicaSet = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": {
                    "serviceAccountName": "later",
                    "containers": [{ "name": "nginx", "image": "nginx" }],
                },
            },
        },
    }))
    .unwrap();
    let uid = sets.create(&PostParams::default(), &set).await.unwrap().metadata.uid.unwrap();
    let condition = eventually("a ReplicaFailure condition", || async {
        let set = sets.get("web").await.ok()?;
        let conditions = set.status?.conditions?;
        conditions.into_iter().find(|c| c.type_ == "ReplicaFailure")
    })
    .await;
    assert_eq!(condition.status, "True");
    assert_eq!(condition.reason.as_deref(), Some("FailedCreate"));
    let message = condition.message.unwrap_or_default();
    assert!(message.contains("error looking up service account default/later"), "{message}");
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually("a FailedCreate event", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("FailedCreate")
                    && e.involved_object.uid.as_deref() == Some(uid.as_str())
                    && e.message.as_deref().is_some_and(|m| m.starts_with("Error creating: "))
            })
            .then_some(())
    })
    .await;

    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), "default");
    let account = serde_json::from_value(json!({ "metadata": { "name": "later" } })).unwrap();
    accounts.create(&PostParams::default(), &account).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually("two pods and the condition gone", || async {
        let set = sets.get("web").await.ok()?;
        let status = set.status?;
        let failing = status.conditions.iter().flatten().any(|c| c.type_ == "ReplicaFailure");
        let found = pods_of(&pods, &uid).await;
        (!failing && status.replicas == 2 && found.len() == 2).then_some(())
    })
    .await;

    controllers.shutdown().await;
    cluster.shutdown().await;
}

const MANIFEST: &str = "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: registry.k8s.io/nginx-slim:0.24
";

#[tokio::test]
async fn kubectl_apply_scale_and_get() {
    let cluster = Cluster::start().await;
    let Some(kubectl) = Kubectl::new(&cluster.kubeconfig()) else { return };
    let kubectl = &kubectl;
    let controllers = cluster.spawn_controllers(Config {
        controllers: vec![Controller::ReplicaSet, Controller::ServiceAccount],
        ..Config::default()
    });
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(ready_kubelet(pods.clone()));

    let out = kubectl.apply(MANIFEST).await;
    assert!(out.contains("replicaset.apps/web created"), "{out}");
    // NAME DESIRED CURRENT READY AGE
    let columns = |out: &str| -> Vec<String> {
        out.lines().nth(1).unwrap_or_default().split_whitespace().map(str::to_owned).collect()
    };
    let header = kubectl.ok(&["get", "rs", "web"]).await;
    assert_eq!(
        header.lines().next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "{header}"
    );
    eventually("2 desired, current and ready", || async move {
        let out = kubectl.ok(&["get", "rs", "web"]).await;
        (columns(&out)[1..4] == ["2", "2", "2"]).then_some(())
    })
    .await;

    let out = kubectl.ok(&["scale", "rs", "web", "--replicas=4"]).await;
    assert!(out.contains("replicaset.apps/web scaled"), "{out}");
    eventually("4 desired, current and ready", || async move {
        let out = kubectl.ok(&["get", "rs", "web"]).await;
        (columns(&out)[1..4] == ["4", "4", "4"]).then_some(())
    })
    .await;
    let out = kubectl.ok(&["get", "pods", "-l", "app=web", "-o", "name"]).await;
    assert_eq!(out.lines().count(), 4, "{out}");

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}
