//! The StatefulSet controller against an in-process API server, with the test acting as the
//! kubelet (it moves pods to Running/Ready through the status subresource).

use std::time::Duration;

use berth_controllers::{Config, Controller, Controllers};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn start_controller(cluster: &Cluster) -> Controllers {
    cluster.spawn_controllers(Config {
        controllers: vec![Controller::StatefulSet, Controller::ServiceAccount],
        ..Config::default()
    })
}

fn web(replicas: i32, extra_spec: serde_json::Value) -> StatefulSet {
    let mut spec = json!({
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "nginx"}},
        "serviceName": "nginx",
        "template": {"metadata": {"labels": {"app": "nginx"}},
                     "spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "www"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    });
    if let (Some(spec), serde_json::Value::Object(extra)) = (spec.as_object_mut(), extra_spec) {
        spec.extend(extra);
    }
    serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web"}, "spec": spec}))
    .unwrap()
}

/// Plays the kubelet for one pod: Running and Ready now.
async fn make_ready(pods: &Api<Pod>, name: &str) {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = json!({"status": {"phase": "Running", "podIP": "10.244.0.9", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
}

async fn set_phase(pods: &Api<Pod>, name: &str, phase: &str) {
    let status = json!({"status": {"phase": phase, "conditions": []}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
}

async fn pod(pods: &Api<Pod>, name: &str) -> Option<Pod> {
    pods.get_opt(name).await.unwrap()
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap()
}

fn revision_of(pod: &Pod) -> String {
    pod.metadata.labels.as_ref().unwrap()["controller-revision-hash"].clone()
}

async fn names(pods: &Api<Pod>) -> Vec<String> {
    let mut names: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

/// Waits for pod `name` to exist with a uid other than `not`, then makes it Ready.
async fn wait_and_ready(pods: &Api<Pod>, name: &str, not: Option<&str>) -> Pod {
    let created = eventually(&format!("pod {name}"), || async {
        pod(pods, name)
            .await
            .filter(|p| Some(uid(p).as_str()) != not && p.metadata.deletion_timestamp.is_none())
    })
    .await;
    make_ready(pods, name).await;
    created
}

async fn status_of(sets: &Api<StatefulSet>) -> k8s_openapi::api::apps::v1::StatefulSetStatus {
    sets.get("web").await.unwrap().status.unwrap_or_default()
}

async fn has_event(client: &kube::Client, reason: &str, message: &str) -> bool {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some(reason) && e.message.as_deref() == Some(message))
}

#[tokio::test]
async fn ordered_creation_with_stable_identity_claims_revisions_and_status() {
    let cluster = Cluster::start().await;
    let controllers = start_controller(&cluster);
    let client = cluster.client();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let set = sets.create(&PostParams::default(), &web(3, json!({}))).await.unwrap();

    let web0 = eventually("web-0", || async { pod(&pods, "web-0").await }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(pod(&pods, "web-1").await.is_none(), "web-1 before web-0 is Ready");
    make_ready(&pods, "web-0").await;
    // The claim exists before its pod and carries the selector's labels.
    let claim = claims.get("www-web-0").await.unwrap();
    assert_eq!(claim.metadata.labels.unwrap()["app"], "nginx");
    let labels = web0.metadata.labels.clone().unwrap();
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "web-0");
    assert_eq!(labels["apps.kubernetes.io/pod-index"], "0");
    assert_eq!(labels["app"], "nginx");
    let spec = web0.spec.clone().unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("web-0"));
    assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
    let volume = spec.volumes.unwrap().into_iter().find(|v| v.name == "www").unwrap();
    assert_eq!(volume.persistent_volume_claim.unwrap().claim_name, "www-web-0");
    let owner = &web0.metadata.owner_references.clone().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("StatefulSet", "web"));
    assert_eq!(owner.uid, set.metadata.uid.clone().unwrap());
    assert_eq!((owner.controller, owner.block_owner_deletion), (Some(true), Some(true)));

    // OrderedReady: web-1 only after web-0 is Ready, web-2 only after web-1.
    let web1 = eventually("web-1", || async { pod(&pods, "web-1").await }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(pod(&pods, "web-2").await.is_none(), "web-2 before web-1 is Ready");
    make_ready(&pods, "web-1").await;
    wait_and_ready(&pods, "web-2", None).await;

    let status = eventually("3 ready replicas", || async {
        let status = status_of(&sets).await;
        (status.ready_replicas == Some(3)).then_some(status)
    })
    .await;
    assert_eq!(status.replicas, 3);
    assert_eq!(status.available_replicas, Some(3));
    assert_eq!(status.current_replicas, Some(3));
    assert_eq!(status.updated_replicas, Some(3));
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.collision_count, Some(0));
    assert_eq!(status.current_revision, status.update_revision);
    let revision_name = status.update_revision.clone().unwrap();
    assert_eq!(revision_of(&web0), revision_name);
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let revision = revisions.get(&revision_name).await.unwrap();
    assert_eq!(revision.revision, 1);
    let hash = revision.metadata.labels.clone().unwrap()["controller.kubernetes.io/hash"].clone();
    assert_eq!(revision_name, format!("web-{hash}"));
    assert!(hash.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)), "{hash}");
    assert_eq!(names(&pods).await, ["web-0", "web-1", "web-2"]);

    assert!(
        has_event(&client, "SuccessfulCreate", "create Pod web-0 in StatefulSet web successful")
            .await
    );
    assert!(
        has_event(
            &client,
            "SuccessfulCreate",
            "create Claim www-web-0 Pod web-0 in StatefulSet web success"
        )
        .await
    );

    // A deleted pod comes back under the same name with a new uid, reusing its claim.
    let claim_uid = claims.get("www-web-1").await.unwrap().metadata.uid;
    pods.delete("web-1", &DeleteParams::default()).await.unwrap();
    let back = wait_and_ready(&pods, "web-1", Some(&uid(&web1))).await;
    assert_ne!(uid(&back), uid(&web1));
    assert_eq!(claims.get("www-web-1").await.unwrap().metadata.uid, claim_uid);
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn scale_down_in_reverse_order_and_failed_pods_are_replaced() {
    let cluster = Cluster::start().await;
    let controllers = start_controller(&cluster);
    let client = cluster.client();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    sets.create(&PostParams::default(), &web(3, json!({}))).await.unwrap();
    for name in ["web-0", "web-1", "web-2"] {
        wait_and_ready(&pods, name, None).await;
    }

    // A failed pod is deleted and recreated.
    let web0 = pod(&pods, "web-0").await.unwrap();
    set_phase(&pods, "web-0", "Failed").await;
    wait_and_ready(&pods, "web-0", Some(&uid(&web0))).await;

    sets.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 1}})))
        .await
        .unwrap();
    // web-2 goes first; web-1 stays until web-2 is gone.
    eventually("web-2 gone", || async { pod(&pods, "web-2").await.is_none().then_some(()) }).await;
    eventually("web-1 gone", || async { pod(&pods, "web-1").await.is_none().then_some(()) }).await;
    assert_eq!(names(&pods).await, ["web-0"]);
    assert!(
        has_event(&client, "SuccessfulDelete", "delete Pod web-2 in StatefulSet web successful")
            .await
    );
    let message = "StatefulSet default/web is recreating failed Pod web-0";
    assert!(has_event(&client, "RecreatingFailedPod", message).await);
    let status = eventually("status of 1 replica", || async {
        let status = status_of(&sets).await;
        (status.replicas == 1 && status.ready_replicas == Some(1)).then_some(status)
    })
    .await;
    assert_eq!(status.current_replicas, Some(1));
    // Claims outlive scale down (Retain).
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    assert!(claims.get_opt("www-web-2").await.unwrap().is_some());
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn rolling_update_and_a_reverted_template_repairs_the_stuck_pod() {
    let cluster = Cluster::start().await;
    let controllers = start_controller(&cluster);
    let client = cluster.client();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    sets.create(&PostParams::default(), &web(3, json!({}))).await.unwrap();
    for name in ["web-0", "web-1", "web-2"] {
        wait_and_ready(&pods, name, None).await;
    }
    let first = eventually("status", || async { status_of(&sets).await.update_revision }).await;
    let web2 = pod(&pods, "web-2").await.unwrap();

    // A broken image: web-2 is replaced at the new revision and never becomes Ready.
    let image = |image: &str| json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": image}]}}}});
    sets.patch("web", &PatchParams::default(), &Patch::Strategic(image("nginx:broken")))
        .await
        .unwrap();
    let broken = eventually("web-2 at the new revision", || async {
        pod(&pods, "web-2").await.filter(|p| uid(p) != uid(&web2) && revision_of(p) != first)
    })
    .await;
    let second = revision_of(&broken);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The rollout is stuck: web-1 keeps the old revision.
    assert_eq!(revision_of(&pod(&pods, "web-1").await.unwrap()), first);
    let status = status_of(&sets).await;
    assert_eq!(status.update_revision.as_deref(), Some(second.as_str()));
    assert_eq!(status.current_revision.as_deref(), Some(first.as_str()));

    // Reverting the template brings the first revision back, and the stuck pod is replaced.
    sets.patch("web", &PatchParams::default(), &Patch::Strategic(image("nginx:1"))).await.unwrap();
    let repaired = eventually("web-2 back at the first revision", || async {
        pod(&pods, "web-2").await.filter(|p| uid(p) != uid(&broken) && revision_of(p) == first)
    })
    .await;
    make_ready(&pods, "web-2").await;
    let status = eventually("rollout complete", || async {
        let status = status_of(&sets).await;
        (status.ready_replicas == Some(3)
            && status.update_revision.as_deref() == Some(first.as_str()))
        .then_some(status)
    })
    .await;
    assert_eq!(status.current_revision.as_deref(), Some(first.as_str()));
    assert_eq!(status.updated_replicas, Some(3));
    // The rollback reused the first revision, bumped past the second.
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    assert_eq!(revisions.get(&first).await.unwrap().revision, 3);
    assert_eq!(revision_of(&repaired), first);
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn rolling_update_honours_the_partition_then_completes() {
    let cluster = Cluster::start().await;
    let controllers = start_controller(&cluster);
    let client = cluster.client();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let spec =
        json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}});
    sets.create(&PostParams::default(), &web(3, spec)).await.unwrap();
    for name in ["web-0", "web-1", "web-2"] {
        wait_and_ready(&pods, name, None).await;
    }
    let first = eventually("status", || async { status_of(&sets).await.update_revision }).await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}}});
    sets.patch("web", &PatchParams::default(), &Patch::Strategic(patch)).await.unwrap();
    let updated = eventually("web-2 updated", || async {
        pod(&pods, "web-2")
            .await
            .filter(|p| revision_of(p) != first && p.metadata.deletion_timestamp.is_none())
    })
    .await;
    make_ready(&pods, "web-2").await;
    let status = eventually("partitioned status", || async {
        let s = status_of(&sets).await;
        (s.updated_replicas == Some(1) && s.ready_replicas == Some(3)).then_some(s)
    })
    .await;
    assert_eq!(status.current_replicas, Some(2));
    assert_eq!(status.current_revision.as_deref(), Some(first.as_str()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(revision_of(&pod(&pods, "web-1").await.unwrap()), first);

    // Lowering the partition rolls the rest, highest first.
    let patch = json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}});
    sets.patch("web", &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
    for name in ["web-1", "web-0"] {
        eventually(&format!("{name} updated"), || async {
            pod(&pods, name).await.filter(|p| revision_of(p) == revision_of(&updated))
        })
        .await;
        make_ready(&pods, name).await;
    }
    let status = eventually("rollout complete", || async {
        let s = status_of(&sets).await;
        (s.current_revision == s.update_revision && s.ready_replicas == Some(3)).then_some(s)
    })
    .await;
    assert_eq!(status.current_replicas, Some(3));
    assert_eq!(status.updated_replicas, Some(3));
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn parallel_pods_and_claim_retention_on_scale_down() {
    let cluster = Cluster::start().await;
    let controllers = start_controller(&cluster);
    let client = cluster.client();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let spec = json!({"podManagementPolicy": "Parallel", "ordinals": {"start": 1},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"}});
    let set = sets.create(&PostParams::default(), &web(3, spec)).await.unwrap();
    // All three at once, before any is Ready.
    eventually("3 pods", || async {
        (names(&pods).await == ["web-1", "web-2", "web-3"]).then_some(())
    })
    .await;
    for name in ["web-1", "web-2", "web-3"] {
        make_ready(&pods, name).await;
    }
    // whenDeleted=Delete: in-range claims belong to the set.
    let owned_by = |claim: &PersistentVolumeClaim, kind: &str| {
        claim
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.kind == kind && r.controller == Some(true))
    };
    let claim = eventually("www-web-1 owned by the set", || async {
        claims.get("www-web-1").await.ok().filter(|c| owned_by(c, "StatefulSet"))
    })
    .await;
    assert_eq!(claim.metadata.owner_references.unwrap()[0].uid, set.metadata.uid.clone().unwrap());

    // whenScaled=Delete: a condemned pod's claim is handed to the pod before the pod goes.
    let web3 = pod(&pods, "web-3").await.unwrap();
    sets.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2}})))
        .await
        .unwrap();
    eventually("web-3 gone", || async { pod(&pods, "web-3").await.is_none().then_some(()) }).await;
    let claim = claims.get("www-web-3").await.unwrap();
    let refs = claim.metadata.owner_references.unwrap();
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert_eq!((refs[0].kind.as_str(), refs[0].uid.as_str()), ("Pod", uid(&web3).as_str()));
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn recovers_after_an_api_and_controller_restart_without_duplicates() {
    let mut cluster = Cluster::start().await;
    let controllers = start_controller(&cluster);
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(cluster.client(), "default");
    sets.create(&PostParams::default(), &web(3, json!({}))).await.unwrap();
    wait_and_ready(&pods, "web-0", None).await;
    eventually("web-1", || async { pod(&pods, "web-1").await }).await;
    controllers.shutdown().await;

    cluster.restart_api().await;
    let controllers = start_controller(&cluster);
    let client = cluster.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    make_ready(&pods, "web-1").await;
    wait_and_ready(&pods, "web-2", None).await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    eventually("3 ready", || async {
        (status_of(&sets).await.ready_replicas == Some(3)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(names(&pods).await, ["web-0", "web-1", "web-2"]);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let mut claim_names: Vec<String> = claims
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    claim_names.sort();
    assert_eq!(claim_names, ["www-web-0", "www-web-1", "www-web-2"]);
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    assert_eq!(revisions.list(&ListParams::default()).await.unwrap().items.len(), 1);
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn orphans_matching_the_selector_are_adopted() {
    let cluster = Cluster::start().await;
    let controllers = start_controller(&cluster);
    let client = cluster.client();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // A pod left behind by `kubectl delete statefulset web --cascade=orphan`.
    let orphan: Pod =
        serde_json::from_value(json!({"metadata": {"name": "web-0", "labels": {"app": "nginx"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}}))
        .unwrap();
    let orphan = pods.create(&PostParams::default(), &orphan).await.unwrap();
    make_ready(&pods, "web-0").await;
    let set = sets.create(&PostParams::default(), &web(2, json!({}))).await.unwrap();
    let adopted = eventually("web-0 adopted", || async {
        pod(&pods, "web-0")
            .await
            .filter(|p| p.metadata.owner_references.as_ref().is_some_and(|r| !r.is_empty()))
    })
    .await;
    assert_eq!(uid(&adopted), uid(&orphan));
    assert_eq!(adopted.metadata.owner_references.unwrap()[0].uid, set.metadata.uid.unwrap());
    // The adopted pod had no identity labels; they are put back.
    eventually("web-0 labelled", || async {
        let pod = pod(&pods, "web-0").await?;
        let labels = pod.metadata.labels?;
        (labels.get("statefulset.kubernetes.io/pod-name").map(String::as_str) == Some("web-0"))
            .then_some(())
    })
    .await;
    wait_and_ready(&pods, "web-1", None).await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn min_ready_seconds_gates_the_next_pod_and_availability() {
    let cluster = Cluster::start().await;
    let controllers = start_controller(&cluster);
    let client = cluster.client();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    sets.create(&PostParams::default(), &web(2, json!({"minReadySeconds": 2}))).await.unwrap();
    wait_and_ready(&pods, "web-0", None).await;
    let status = eventually("web-0 ready, not yet available", || async {
        let s = status_of(&sets).await;
        (s.ready_replicas == Some(1)).then_some(s)
    })
    .await;
    assert_eq!(status.available_replicas, Some(0));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(pod(&pods, "web-1").await.is_none(), "web-1 before web-0 is available");
    // After minReadySeconds the controller comes back by itself.
    wait_and_ready(&pods, "web-1", None).await;
    eventually("1 available", || async {
        (status_of(&sets).await.available_replicas == Some(1)).then_some(())
    })
    .await;
    eventually("2 available", || async {
        (status_of(&sets).await.available_replicas == Some(2)).then_some(())
    })
    .await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn on_delete_updates_only_the_pods_the_user_deletes() {
    let cluster = Cluster::start().await;
    let controllers = start_controller(&cluster);
    let client = cluster.client();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    sets.create(&PostParams::default(), &web(2, json!({"updateStrategy": {"type": "OnDelete"}})))
        .await
        .unwrap();
    wait_and_ready(&pods, "web-0", None).await;
    wait_and_ready(&pods, "web-1", None).await;
    let first = eventually("status", || async {
        let s = status_of(&sets).await;
        (s.ready_replicas == Some(2)).then_some(s.update_revision).flatten()
    })
    .await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}}});
    sets.patch("web", &PatchParams::default(), &Patch::Strategic(patch)).await.unwrap();
    let status = eventually("new update revision", || async {
        let s = status_of(&sets).await;
        (s.update_revision.as_deref() != Some(first.as_str())).then_some(s)
    })
    .await;
    let second = status.update_revision.clone().unwrap();
    assert_eq!(status.current_revision.as_deref(), Some(first.as_str()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    for name in ["web-0", "web-1"] {
        assert_eq!(revision_of(&pod(&pods, name).await.unwrap()), first, "{name}");
    }
    let web1 = pod(&pods, "web-1").await.unwrap();
    pods.delete("web-1", &DeleteParams::default()).await.unwrap();
    let web1 = wait_and_ready(&pods, "web-1", Some(&uid(&web1))).await;
    assert_eq!(revision_of(&web1), second);
    let status = eventually("one updated", || async {
        let s = status_of(&sets).await;
        (s.updated_replicas == Some(1) && s.ready_replicas == Some(2)).then_some(s)
    })
    .await;
    // OnDelete never advances the current revision.
    assert_eq!(status.current_revision.as_deref(), Some(first.as_str()));
    assert_eq!(revision_of(&pod(&pods, "web-0").await.unwrap()), first);
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_rollout_resumes_after_an_api_and_controller_restart() {
    let mut cluster = Cluster::start().await;
    let controllers = start_controller(&cluster);
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(cluster.client(), "default");
    sets.create(&PostParams::default(), &web(3, json!({}))).await.unwrap();
    for name in ["web-0", "web-1", "web-2"] {
        wait_and_ready(&pods, name, None).await;
    }
    let first = eventually("status", || async {
        let s = status_of(&sets).await;
        (s.ready_replicas == Some(3)).then_some(s.update_revision).flatten()
    })
    .await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}}});
    sets.patch("web", &PatchParams::default(), &Patch::Strategic(patch)).await.unwrap();
    eventually("web-2 updated", || async {
        pod(&pods, "web-2")
            .await
            .filter(|p| revision_of(p) != first && p.metadata.deletion_timestamp.is_none())
    })
    .await;
    // berth restarts mid-rollout.
    controllers.shutdown().await;
    cluster.restart_api().await;
    let controllers = start_controller(&cluster);
    let client = cluster.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    make_ready(&pods, "web-2").await;
    for name in ["web-1", "web-0"] {
        eventually(&format!("{name} updated"), || async {
            pod(&pods, name)
                .await
                .filter(|p| revision_of(p) != first && p.metadata.deletion_timestamp.is_none())
        })
        .await;
        make_ready(&pods, name).await;
    }
    let status = eventually("rollout complete", || async {
        let s = status_of(&sets).await;
        (s.current_revision == s.update_revision && s.ready_replicas == Some(3)).then_some(s)
    })
    .await;
    assert_ne!(status.current_revision.as_deref(), Some(first.as_str()));
    assert_eq!(names(&pods).await, ["web-0", "web-1", "web-2"]);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    assert_eq!(claims.list(&ListParams::default()).await.unwrap().items.len(), 3);
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    assert_eq!(revisions.list(&ListParams::default()).await.unwrap().items.len(), 2);
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn the_controller_acts_as_its_service_account() {
    use k8s_openapi::api::authorization::v1::SubjectAccessReview;
    use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    let cluster = Cluster::start().await;
    let client = cluster.client();
    // Without the bootstrap binding of `system:controller:statefulset-controller`, the
    // controller's ServiceAccount may do nothing, so no pod appears.
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let name = "system:controller:statefulset-controller";
    let mut binding = bindings.get(name).await.unwrap();
    let subjects = binding.subjects.clone().unwrap();
    assert_eq!(
        (subjects[0].kind.as_str(), subjects[0].name.as_str()),
        ("ServiceAccount", "statefulset-controller")
    );
    bindings.delete(name, &DeleteParams::default()).await.unwrap();
    // The authorizer follows the bindings through a watch: wait until it has seen this one go.
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    let review: SubjectAccessReview = serde_json::from_value(json!({
        "spec": {"user": "system:serviceaccount:kube-system:statefulset-controller",
                 "resourceAttributes": {"namespace": "default", "verb": "create",
                                        "resource": "pods"}}
    }))
    .unwrap();
    eventually("the binding's rights gone", || async {
        let answer = reviews.create(&PostParams::default(), &review).await.unwrap();
        (!answer.status.unwrap().allowed).then_some(())
    })
    .await;
    let controllers = start_controller(&cluster);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    sets.create(&PostParams::default(), &web(1, json!({}))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(pod(&pods, "web-0").await.is_none(), "a pod without the controller's role");
    assert!(revisions.list(&ListParams::default()).await.unwrap().items.is_empty());

    // With the binding back, the same controller gets on with it.
    binding.metadata = kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() };
    bindings.create(&PostParams::default(), &binding).await.unwrap();
    eventually("web-0 once the role is bound", || async { pod(&pods, "web-0").await }).await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}
