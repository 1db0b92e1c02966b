//! The garbage collector on an in-process cluster: background, orphan and foreground
//! propagation through ownerReferences, owners matched by uid, unknown kinds, cross-namespace
//! references and the `OwnerRefInvalidNamespace` event, and a StatefulSet's pods and revisions
//! deleted with it or orphaned (`kubectl delete sts`, `--cascade=orphan`).
//!
//! The orphan and foreground tests end with the owner gone, which needs the apiserver to delete
//! a marked object when its last finalizer is removed (the finalizer contract).

use std::collections::BTreeMap;
use std::time::Duration;

use berth_controllers::{Config, Controller, Controllers};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Event, Namespace, Pod, PodSpec, PodTemplateSpec, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};

async fn start() -> (Cluster, Controllers) {
    let cluster = Cluster::start().await;
    let config = Config { controllers: vec![Controller::GarbageCollector], ..Config::default() };
    let controllers = cluster.spawn_controllers(config);
    (cluster, controllers)
}

fn reference(owner: &ConfigMap, block: Option<bool>) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.metadata.name.clone().unwrap_or_default(),
        uid: owner.metadata.uid.clone().unwrap_or_default(),
        block_owner_deletion: block,
        controller: None,
    }
}

async fn create(
    api: &Api<ConfigMap>,
    name: &str,
    owners: Vec<OwnerReference>,
    finalizers: &[&str],
) -> ConfigMap {
    let object = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            owner_references: Some(owners),
            finalizers: Some(finalizers.iter().map(|f| (*f).to_owned()).collect()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    api.create(&PostParams::default(), &object).await.expect("create")
}

async fn wait_gone(api: &Api<ConfigMap>, name: &str) {
    eventually(&format!("{name} to be deleted"), || async {
        api.get_opt(name).await.expect("get").is_none().then_some(())
    })
    .await;
}

fn delete_with(policy: PropagationPolicy) -> DeleteParams {
    DeleteParams { propagation_policy: Some(policy), ..DeleteParams::default() }
}

#[tokio::test]
async fn background_deletion_removes_the_dependents_of_a_deleted_owner() {
    let (cluster, controllers) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let owner = create(&api, "owner", vec![], &[]).await;
    create(&api, "child-a", vec![reference(&owner, None)], &[]).await;
    create(&api, "child-b", vec![reference(&owner, Some(true))], &[]).await;
    let grandchild_owner = create(&api, "child-c", vec![reference(&owner, None)], &[]).await;
    create(&api, "grandchild", vec![reference(&grandchild_owner, None)], &[]).await;
    create(&api, "bystander", vec![], &[]).await;

    api.delete("owner", &DeleteParams::default()).await.expect("delete owner");
    for name in ["child-a", "child-b", "child-c", "grandchild"] {
        wait_gone(&api, name).await;
    }
    assert!(api.get_opt("bystander").await.expect("get").is_some());
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_dependent_with_a_remaining_owner_only_loses_the_gone_reference() {
    let (cluster, controllers) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let first = create(&api, "first", vec![], &[]).await;
    let second = create(&api, "second", vec![], &[]).await;
    create(&api, "shared", vec![reference(&first, None), reference(&second, None)], &[]).await;

    api.delete("first", &DeleteParams::default()).await.expect("delete first");
    let second_uid = second.metadata.uid.clone();
    eventually("the reference to the deleted owner to be removed", || async {
        let shared = api.get_opt("shared").await.expect("get")?;
        let uids: Vec<Option<String>> =
            shared.metadata.owner_references?.into_iter().map(|r| Some(r.uid)).collect();
        (uids == [second_uid.clone()]).then_some(())
    })
    .await;
    api.delete("second", &DeleteParams::default()).await.expect("delete second");
    wait_gone(&api, "shared").await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn owners_are_matched_by_uid_not_by_name() {
    let (cluster, controllers) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let old = create(&api, "owner", vec![], &[]).await;
    api.delete("owner", &DeleteParams::default()).await.expect("delete");
    wait_gone(&api, "owner").await;
    let new = create(&api, "owner", vec![], &[]).await;
    assert_ne!(old.metadata.uid, new.metadata.uid);

    // A reference to the old incarnation: its owner is gone, whatever has its name now.
    create(&api, "stale", vec![reference(&old, None)], &[]).await;
    // A reference to the new one stays.
    create(&api, "current", vec![reference(&new, None)], &[]).await;
    // A reference to an owner that never existed.
    let mut never = reference(&new, None);
    never.name = "never-existed".into();
    never.uid = "00000000-0000-0000-0000-000000000001".into();
    create(&api, "dangling", vec![never], &[]).await;

    wait_gone(&api, "stale").await;
    wait_gone(&api, "dangling").await;
    assert!(api.get_opt("current").await.expect("get").is_some());
    assert!(api.get_opt("owner").await.expect("get").is_some());
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn unknown_kinds_and_namespaced_owners_of_cluster_objects_are_left_alone() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let unknown = OwnerReference {
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        name: "w".into(),
        uid: "00000000-0000-0000-0000-000000000002".into(),
        block_owner_deletion: None,
        controller: None,
    };
    create(&api, "widget-child", vec![unknown], &[]).await;
    // A cluster-scoped object naming a namespaced owner: Kubernetes never resolves it.
    let namespaced_owner = create(&api, "some-config", vec![], &[]).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some("owned-by-a-configmap".into()),
            owner_references: Some(vec![reference(&namespaced_owner, None)]),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces.create(&PostParams::default(), &namespace).await.expect("create namespace");
    api.delete("some-config", &DeleteParams::default()).await.expect("delete");
    // A sibling with a plainly missing owner shows the collector has looked at them all.
    let mut missing = reference(&namespaced_owner, None);
    missing.name = "missing".into();
    missing.uid = "00000000-0000-0000-0000-000000000003".into();
    create(&api, "sibling", vec![missing], &[]).await;
    wait_gone(&api, "sibling").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(api.get_opt("widget-child").await.expect("get").is_some());
    assert!(namespaces.get_opt("owned-by-a-configmap").await.expect("get").is_some());
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn an_owner_in_another_namespace_is_absent_and_reported() {
    let (cluster, controllers) = start().await;
    let client = cluster.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let other = Namespace {
        metadata: ObjectMeta { name: Some("other".into()), ..ObjectMeta::default() },
        ..Namespace::default()
    };
    namespaces.create(&PostParams::default(), &other).await.expect("create namespace");
    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "other");
    let owner = create(&elsewhere, "owner", vec![], &[]).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let dependent = create(&api, "cross", vec![reference(&owner, None)], &[]).await;

    wait_gone(&api, "cross").await;
    assert!(elsewhere.get_opt("owner").await.expect("get").is_some());
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let expected = format!(
        "ownerRef [v1/ConfigMap, namespace: default, name: owner, uid: {}] does not exist in namespace \"default\"",
        owner.metadata.uid.clone().unwrap_or_default()
    );
    let event = eventually("the OwnerRefInvalidNamespace event", || async {
        let list = events.list(&ListParams::default()).await.expect("list events");
        list.items.into_iter().find(|e| e.reason.as_deref() == Some("OwnerRefInvalidNamespace"))
    })
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.message.as_deref(), Some(expected.as_str()));
    assert_eq!(event.involved_object.uid, dependent.metadata.uid);
    assert_eq!(event.involved_object.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(
        event.source.and_then(|s| s.component).as_deref(),
        Some("garbage-collector-controller")
    );
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn orphan_deletion_releases_the_dependents() {
    let (cluster, controllers) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let owner = create(&api, "owner", vec![], &[]).await;
    let other = create(&api, "other-owner", vec![], &[]).await;
    create(&api, "kept-a", vec![reference(&owner, Some(true))], &[]).await;
    create(&api, "kept-b", vec![reference(&owner, None), reference(&other, None)], &[]).await;

    api.delete("owner", &delete_with(PropagationPolicy::Orphan)).await.expect("delete owner");
    let other_uid = other.metadata.uid.clone().unwrap_or_default();
    eventually("the dependents to be released", || async {
        let a = api.get_opt("kept-a").await.expect("get")?;
        let b = api.get_opt("kept-b").await.expect("get")?;
        let a_owners = a.metadata.owner_references.unwrap_or_default();
        let b_owners: Vec<String> =
            b.metadata.owner_references.unwrap_or_default().into_iter().map(|r| r.uid).collect();
        (a_owners.is_empty() && b_owners == [other_uid.clone()]).then_some(())
    })
    .await;
    wait_gone(&api, "owner").await;
    assert!(api.get_opt("kept-a").await.expect("get").is_some());
    assert!(api.get_opt("kept-b").await.expect("get").is_some());
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let (cluster, controllers) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let owner = create(&api, "owner", vec![], &[]).await;
    // Held by a finalizer of its own, so the owner must wait while it is being deleted.
    create(&api, "blocking", vec![reference(&owner, Some(true))], &["example.com/hold"]).await;
    create(&api, "loose", vec![reference(&owner, Some(false))], &[]).await;

    api.delete("owner", &delete_with(PropagationPolicy::Foreground)).await.expect("delete owner");
    wait_gone(&api, "loose").await;
    eventually("the blocking dependent to be marked for deletion", || async {
        let blocking = api.get_opt("blocking").await.expect("get")?;
        blocking.metadata.deletion_timestamp.map(drop)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = api.get_opt("owner").await.expect("get").expect("the owner waits");
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert!(
        waiting.metadata.finalizers.unwrap_or_default().contains(&"foregroundDeletion".to_owned())
    );

    let release = serde_json::json!({"metadata": {"finalizers": null}});
    api.patch("blocking", &PatchParams::default(), &Patch::Merge(&release)).await.expect("release");
    wait_gone(&api, "blocking").await;
    wait_gone(&api, "owner").await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn foreground_deletion_cascades_through_generations() {
    let (cluster, controllers) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let root = create(&api, "root", vec![], &[]).await;
    let middle = create(&api, "middle", vec![reference(&root, Some(true))], &[]).await;
    create(&api, "leaf", vec![reference(&middle, Some(true))], &[]).await;

    api.delete("root", &delete_with(PropagationPolicy::Foreground)).await.expect("delete root");
    for name in ["leaf", "middle", "root"] {
        wait_gone(&api, name).await;
    }
    controllers.shutdown().await;
    cluster.shutdown().await;
}

/// A StatefulSet that no controller runs, with pods and a revision owned as the StatefulSet
/// controller owns them.
async fn statefulset_with_pods(client: &kube::Client, name: &str) -> Vec<String> {
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let labels = BTreeMap::from([("app".to_owned(), name.to_owned())]);
    let set = StatefulSet {
        metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
        spec: Some(StatefulSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            service_name: Some(name.into()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec()),
            },
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    };
    let set = sets.create(&PostParams::default(), &set).await.expect("create statefulset");
    let owner = OwnerReference {
        api_version: "apps/v1".into(),
        kind: "StatefulSet".into(),
        name: name.into(),
        uid: set.metadata.uid.clone().unwrap_or_default(),
        block_owner_deletion: Some(true),
        controller: Some(true),
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut names = Vec::new();
    for ordinal in 0..3 {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(format!("{name}-{ordinal}")),
                labels: Some(labels.clone()),
                owner_references: Some(vec![owner.clone()]),
                ..ObjectMeta::default()
            },
            spec: Some(pod_spec()),
            ..Pod::default()
        };
        let pod = pods.create(&PostParams::default(), &pod).await.expect("create pod");
        names.push(pod.metadata.name.unwrap_or_default());
    }
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let revision = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{name}-1")),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        revision: 1,
        data: Some(k8s_openapi::apimachinery::pkg::runtime::RawExtension(serde_json::json!({}))),
    };
    revisions.create(&PostParams::default(), &revision).await.expect("create revision");
    names
}

fn pod_spec() -> PodSpec {
    PodSpec {
        containers: vec![Container {
            name: "web".into(),
            image: Some("registry.k8s.io/nginx-slim:0.21".into()),
            ..Container::default()
        }],
        ..PodSpec::default()
    }
}

#[tokio::test]
async fn statefulset_deletion_cascades_to_pods_or_orphans_them() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    // Pods need the namespace's default ServiceAccount (admission).
    let config = Config {
        controllers: vec![Controller::GarbageCollector, Controller::ServiceAccount],
        ..Config::default()
    };
    let controllers = cluster.spawn_controllers(config);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    eventually("the default ServiceAccount", || async {
        accounts.get_opt("default").await.expect("get account")
    })
    .await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");

    // kubectl delete statefulset web --cascade=orphan
    let orphaned = statefulset_with_pods(&client, "kept").await;
    sets.delete("kept", &delete_with(PropagationPolicy::Orphan)).await.expect("delete kept");
    eventually("the pods and revision to be released", || async {
        for name in &orphaned {
            let pod = pods.get_opt(name).await.expect("get pod")?;
            if !pod.metadata.owner_references.unwrap_or_default().is_empty() {
                return None;
            }
        }
        let revision = revisions.get_opt("kept-1").await.expect("get revision")?;
        revision.metadata.owner_references.unwrap_or_default().is_empty().then_some(())
    })
    .await;
    eventually("the statefulset to be gone", || async {
        sets.get_opt("kept").await.expect("get").is_none().then_some(())
    })
    .await;

    // kubectl delete statefulset web (background, the default)
    let cascaded = statefulset_with_pods(&client, "web").await;
    sets.delete("web", &DeleteParams::default()).await.expect("delete web");
    eventually("the pods and revision to be deleted", || async {
        for name in &cascaded {
            if pods.get_opt(name).await.expect("get pod").is_some() {
                return None;
            }
        }
        revisions.get_opt("web-1").await.expect("get revision").is_none().then_some(())
    })
    .await;
    for name in &orphaned {
        assert!(pods.get_opt(name).await.expect("get pod").is_some(), "{name} was orphaned");
    }
    controllers.shutdown().await;
    cluster.shutdown().await;
}
