//! The Deployment controller with the ReplicaSet controller, through real kubectl:
//! `create deployment`, `rollout status|history|undo|restart`, `set image`, `scale` and the
//! `get deploy,rs` columns, with a stand-in kubelet that makes every new pod Ready; and a
//! Recreate rollout through the API.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_controllers::{Config, Controller};
use berth_testkit::cluster::{Cluster, eventually, ready_kubelet};
use berth_testkit::kubectl::Kubectl;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn controllers() -> Config {
    Config {
        controllers: vec![
            Controller::Deployment,
            Controller::ReplicaSet,
            Controller::ServiceAccount,
        ],
        ..Config::default()
    }
}

/// Each set of `web`: name → (revision, spec replicas, image).
async fn sets_of(sets: &Api<ReplicaSet>) -> BTreeMap<String, (String, i32, String)> {
    let list = sets.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .map(|rs| {
            let revision = rs
                .metadata
                .annotations
                .unwrap_or_default()
                .get("deployment.kubernetes.io/revision")
                .cloned()
                .unwrap_or_default();
            let spec = rs.spec.unwrap();
            let image = spec.template.unwrap().spec.unwrap().containers[0].image.clone().unwrap();
            (rs.metadata.name.unwrap(), (revision, spec.replicas.unwrap_or(1), image))
        })
        .collect()
}

fn revisions(history: &str) -> Vec<String> {
    history.lines().skip(2).filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect()
}

#[tokio::test]
async fn kubectl_rollouts_of_a_deployment() {
    let cluster = Cluster::start().await;
    let Some(kubectl) = Kubectl::new(&cluster.kubeconfig()) else { return };
    let controllers = cluster.spawn_controllers(controllers());
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(cluster.client(), "default");
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(ready_kubelet(pods.clone()));

    kubectl.ok(&["create", "deployment", "web", "--image=nginx:1", "--replicas=3"]).await;
    let out = kubectl.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(out.contains("deployment \"web\" successfully rolled out"), "{out}");
    // The revision annotation is the controller's, written through the status subresource,
    // as on a cluster.
    let managers = "jsonpath={range .metadata.managedFields[*]}{.manager}:{.subresource}:{.fieldsV1.f:metadata}{\"\\n\"}{end}";
    let out =
        kubectl.ok(&["get", "deployment", "web", "--show-managed-fields", "-o", managers]).await;
    assert!(
        out.lines().any(|line| line
            == r#"kube-controller-manager:status:{"f:annotations":{".":{},"f:deployment.kubernetes.io/revision":{}}}"#),
        "{out}"
    );
    let first = sets_of(&sets).await;
    assert_eq!(first.len(), 1, "{first:?}");
    let (first_name, first_set) = first.iter().next().unwrap();
    assert_eq!(first_set, &("1".to_owned(), 3, "nginx:1".to_owned()));
    let hash = first_name.strip_prefix("web-").unwrap();
    let pod_list = pods
        .list(&ListParams::default().labels(&format!("pod-template-hash={hash}")))
        .await
        .unwrap();
    assert_eq!(pod_list.items.len(), 3);
    let d = deployments.get("web").await.unwrap();
    let annotations = d.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get("deployment.kubernetes.io/revision").map(String::as_str), Some("1"));

    kubectl.ok(&["set", "image", "deployment/web", "nginx=nginx:2"]).await;
    let out = kubectl.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(out.contains("deployment \"web\" successfully rolled out"), "{out}");
    let second = sets_of(&sets).await;
    let by_image: BTreeMap<String, (String, i32)> = second
        .values()
        .map(|(rev, replicas, image)| (image.clone(), (rev.clone(), *replicas)))
        .collect();
    assert_eq!(by_image.get("nginx:1"), Some(&("1".to_owned(), 0)), "{second:?}");
    assert_eq!(by_image.get("nginx:2"), Some(&("2".to_owned(), 3)), "{second:?}");
    let out = kubectl.ok(&["rollout", "history", "deployment/web"]).await;
    assert_eq!(revisions(&out), ["1", "2"], "{out}");

    let out = kubectl.ok(&["rollout", "undo", "deployment/web"]).await;
    assert!(out.contains("deployment.apps/web rolled back"), "{out}");
    kubectl.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    let third = sets_of(&sets).await;
    assert_eq!(third.len(), 2, "the old set is reused: {third:?}");
    assert_eq!(
        third.get(first_name),
        Some(&("3".to_owned(), 3, "nginx:1".to_owned())),
        "{third:?}"
    );
    let out = kubectl.ok(&["rollout", "history", "deployment/web"]).await;
    assert_eq!(revisions(&out), ["2", "3"], "{out}");

    let out = kubectl.ok(&["scale", "deployment", "web", "--replicas=5"]).await;
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    kubectl.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    eventually("5 available", || async {
        let d = deployments.get("web").await.ok()?;
        (d.status?.available_replicas == Some(5)).then_some(())
    })
    .await;
    // One listing of both kinds: `NAME READY UP-TO-DATE AVAILABLE AGE` for the deployment,
    // `NAME DESIRED CURRENT READY AGE` for each set.
    let out = kubectl.ok(&["get", "deploy,rs"]).await;
    let rows: BTreeMap<String, Vec<String>> = out
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("NAME"))
        .map(|l| {
            let cols: Vec<String> = l.split_whitespace().map(str::to_owned).collect();
            (cols[0].clone(), cols[1..4].to_vec())
        })
        .collect();
    assert_eq!(
        rows.get("deployment.apps/web"),
        Some(&vec!["5/5".into(), "5".into(), "5".into()]),
        "{out}"
    );
    let new_row = format!("replicaset.apps/{first_name}");
    assert_eq!(rows.get(&new_row), Some(&vec!["5".into(), "5".into(), "5".into()]), "{out}");
    assert_eq!(rows.values().filter(|r| *r == &["0", "0", "0"]).count(), 1, "{out}");
    assert_eq!(rows.len(), 3, "{out}");

    let out = kubectl.ok(&["rollout", "restart", "deployment/web"]).await;
    assert!(out.contains("deployment.apps/web restarted"), "{out}");
    let out = kubectl.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(out.contains("deployment \"web\" successfully rolled out"), "{out}");
    let fourth = sets_of(&sets).await;
    assert_eq!(fourth.len(), 3, "{fourth:?}");
    assert_eq!(
        fourth.values().map(|s| s.1).collect::<Vec<_>>().iter().sum::<i32>(),
        5,
        "{fourth:?}"
    );
    let d = deployments.get("web").await.unwrap();
    let status = d.status.unwrap();
    let conditions: Vec<(String, String)> = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.type_, c.reason.unwrap_or_default()))
        .collect();
    assert!(
        conditions.contains(&("Available".into(), "MinimumReplicasAvailable".into())),
        "{conditions:?}"
    );
    assert!(
        conditions.contains(&("Progressing".into(), "NewReplicaSetAvailable".into())),
        "{conditions:?}"
    );
    assert_eq!(
        (status.replicas, status.updated_replicas, status.ready_replicas),
        (Some(5), Some(5), Some(5))
    );
    assert_eq!(status.observed_generation, d.metadata.generation);

    // Paused, a new template makes no set; resumed, it rolls out.
    let out = kubectl.ok(&["rollout", "pause", "deployment/web"]).await;
    assert!(out.contains("deployment.apps/web paused"), "{out}");
    kubectl.ok(&["set", "image", "deployment/web", "nginx=nginx:3"]).await;
    eventually("the paused condition", || async {
        let d = deployments.get("web").await.ok()?;
        let status = d.status?;
        let progressing = status.conditions?.into_iter().find(|c| c.type_ == "Progressing")?;
        let observed = status.observed_generation == d.metadata.generation;
        (observed && progressing.reason.as_deref() == Some("DeploymentPaused")).then_some(())
    })
    .await;
    assert_eq!(sets_of(&sets).await.len(), 3);
    let out = kubectl.ok(&["rollout", "resume", "deployment/web"]).await;
    assert!(out.contains("deployment.apps/web resumed"), "{out}");
    let out = kubectl.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(out.contains("deployment \"web\" successfully rolled out"), "{out}");
    let fifth = sets_of(&sets).await;
    assert_eq!(fifth.values().filter(|s| s.2 == "nginx:3").map(|s| s.1).collect::<Vec<_>>(), [5]);

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn recreate_removes_old_pods_before_new_ones_and_history_is_limited() {
    let cluster = Cluster::start().await;
    let controllers = cluster.spawn_controllers(controllers());
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(cluster.client(), "default");
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), "default");
    let kubelet = tokio::spawn(ready_kubelet(pods.clone()));
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "db" },
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 1,
            "strategy": { "type": "Recreate" },
            "selector": { "matchLabels": { "app": "db" } },
            "template": { "metadata": { "labels": { "app": "db" } },
                          "spec": { "containers": [{ "name": "db", "image": "db:1" }] } },
        },
    }))
    .unwrap();
    deployments.create(&PostParams::default(), &deployment).await.unwrap();
    let complete = |image: &'static str| {
        let (deployments, sets) = (deployments.clone(), sets.clone());
        async move {
            eventually(image, || async {
                let d = deployments.get("db").await.ok()?;
                let status = d.status?;
                let done = status.updated_replicas == Some(2)
                    && status.replicas == Some(2)
                    && status.available_replicas == Some(2)
                    && status.observed_generation == d.metadata.generation;
                let all = sets_of(&sets).await;
                let current = all.values().any(|s| s.2 == image && s.1 == 2);
                (done && current).then_some(all)
            })
            .await
        }
    };
    complete("db:1").await;

    for image in ["db:2", "db:3"] {
        let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "db", "image": image }] } } } });
        deployments.patch("db", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
        // While the old pods are there, the new set has none.
        let started = tokio::time::Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            let list = pods.list(&ListParams::default()).await.unwrap();
            let images: Vec<String> = list
                .items
                .iter()
                .map(|p| p.spec.as_ref().unwrap().containers[0].image.clone().unwrap_or_default())
                .collect();
            assert!(
                !(images.iter().any(|i| i == image) && images.iter().any(|i| i != image)),
                "mixed pods: {images:?}"
            );
            if images.len() == 2 && images.iter().all(|i| i == image) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        complete(image).await;
    }
    // One old set kept (revisionHistoryLimit: 1), the oldest deleted.
    let all = eventually("history cleaned up", || async {
        let all = sets_of(&sets).await;
        (all.len() == 2).then_some(all)
    })
    .await;
    let mut images: Vec<&str> = all.values().map(|s| s.2.as_str()).collect();
    images.sort();
    assert_eq!(images, ["db:2", "db:3"], "{all:?}");

    kubelet.abort();
    controllers.shutdown().await;
    cluster.shutdown().await;
}
