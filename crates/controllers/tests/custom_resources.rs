//! Custom resources through kube-rs on an in-process cluster: a CustomResourceDefinition created
//! with k8s-openapi's type and established by the API server, its objects as `DynamicObject`s
//! (create, get, list, watch, status, delete), and the controllers that find resources through
//! discovery treating them as any other: the garbage collector deletes one whose owner went, the
//! namespace controller empties a deleted namespace of them.

use std::time::Duration;

use berth_controllers::{Config, Controller};
use berth_testkit::cluster::{Cluster, eventually};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
    WatchEvent, WatchParams,
};
use serde_json::json;

fn crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.berth.dev"},
        "spec": {
            "group": "example.berth.dev",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["size"],
                            "properties": {
                                "size": {"type": "integer", "minimum": 1},
                                "colour": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                            },
                        },
                        "status": {
                            "type": "object",
                            "properties": {"ready": {"type": "boolean"}},
                        },
                    },
                }},
            }],
        },
    }))
    .expect("a CRD")
}

fn widget(name: &str, size: i64) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "example.berth.dev/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size},
    }))
    .expect("a widget")
}

fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.berth.dev", "v1", "Widget"),
        "widgets",
    )
}

async fn established(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &crd()).await.expect("create the CRD");
    eventually("the CRD to be established", || async {
        let crd = crds.get("widgets.example.berth.dev").await.expect("get the CRD");
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        conditions.iter().any(|c| c.type_ == "Established" && c.status == "True").then_some(())
    })
    .await;
    // Once established, the controllers leave it alone: no write goes round in a loop.
    let version = |crd: CustomResourceDefinition| crd.metadata.resource_version;
    let before = version(crds.get("widgets.example.berth.dev").await.expect("get the CRD"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = version(crds.get("widgets.example.berth.dev").await.expect("get the CRD"));
    assert_eq!(before, after, "the CRD is still being written");
}

#[tokio::test]
async fn kube_rs_reads_writes_and_watches_custom_resources() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    established(&client).await;
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource());

    let mut watch = widgets.watch(&WatchParams::default(), "0").await.expect("watch").boxed();
    let created =
        widgets.create(&PostParams::default(), &widget("small", 2)).await.expect("create");
    // The schema's default is applied.
    assert_eq!(created.data["spec"], json!({"colour": "red", "size": 2}));
    assert_eq!(created.metadata.generation, Some(1));
    match watch.try_next().await.expect("a watch event") {
        Some(WatchEvent::Added(object)) => {
            assert_eq!(object.metadata.name.as_deref(), Some("small"))
        }
        other => panic!("expected ADDED, got {other:?}"),
    }

    // A refusal the schema makes comes back as kube's 422.
    let refused = widgets.create(&PostParams::default(), &widget("none", 0)).await;
    match refused {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422);
            assert_eq!(
                status.message,
                "Widget.example.berth.dev \"none\" is invalid: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
            );
        }
        other => panic!("expected a 422, got {other:?}"),
    }

    // Status through its subresource.
    let mut with_status = widgets.get("small").await.expect("get");
    with_status.data["status"] = json!({"ready": true});
    let written = widgets
        .replace_status("small", &PostParams::default(), &with_status)
        .await
        .expect("status");
    assert_eq!(written.data["status"], json!({"ready": true}));
    assert_eq!(written.metadata.generation, Some(1));
    match watch.try_next().await.expect("a watch event") {
        Some(WatchEvent::Modified(object)) => assert_eq!(object.data["status"]["ready"], true),
        other => panic!("expected MODIFIED, got {other:?}"),
    }

    // A default added to the schema later shows on objects stored before it, as they are
    // read (apiextensions-apiserver defaults what it reads from storage).
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut defined =
        serde_json::to_value(crds.get("widgets.example.berth.dev").await.expect("get"))
            .expect("JSON");
    defined["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["shape"] = json!({"type": "string", "default": "round"});
    let defined: CustomResourceDefinition = serde_json::from_value(defined).expect("a CRD");
    crds.replace("widgets.example.berth.dev", &PostParams::default(), &defined)
        .await
        .expect("add a default");
    eventually("the new default on the stored widget", || async {
        let read = widgets.get("small").await.expect("get");
        (read.data["spec"]["shape"] == "round").then_some(())
    })
    .await;
    let listed = widgets.list(&ListParams::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].data["spec"]["shape"], "round");
    widgets.delete("small", &DeleteParams::default()).await.expect("delete");
    match watch.try_next().await.expect("a watch event") {
        Some(WatchEvent::Deleted(object)) => {
            assert_eq!(object.metadata.name.as_deref(), Some("small"))
        }
        other => panic!("expected DELETED, got {other:?}"),
    }

    // When the CRD goes, open watches on its resource end, as kube-apiserver ends them.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = "widgets.example.berth.dev";
    crds.delete(name, &DeleteParams::default()).await.expect("delete the CRD");
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(_)) = watch.try_next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the watch outlived its CRD");
    cluster.shutdown().await;
}

#[tokio::test]
async fn discovery_driven_controllers_handle_custom_resources() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    established(&client).await;
    let config = Config {
        controllers: vec![Controller::GarbageCollector, Controller::Namespace],
        ..Config::default()
    };
    let controllers = cluster.spawn_controllers(config);

    // The garbage collector deletes a widget whose owner is gone.
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let owner: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "owner"}})).expect("a map");
    let owner = maps.create(&PostParams::default(), &owner).await.expect("create the owner");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource());
    let mut owned = widget("owned", 1);
    owned.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.metadata.uid.clone().expect("a uid"),
        ..OwnerReference::default()
    }]);
    widgets.create(&PostParams::default(), &owned).await.expect("create the owned widget");
    maps.delete("owner", &DeleteParams::default()).await.expect("delete the owner");
    eventually("the owned widget to be collected", || async {
        widgets.get_opt("owned").await.expect("get").is_none().then_some(())
    })
    .await;

    // The namespace controller deletes a terminating namespace's widgets.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "gadgets"}})).expect("a namespace");
    namespaces.create(&PostParams::default(), &namespace).await.expect("create the namespace");
    let inside: Api<DynamicObject> = Api::namespaced_with(client.clone(), "gadgets", &resource());
    inside.create(&PostParams::default(), &widget("inside", 3)).await.expect("create inside");
    namespaces.delete("gadgets", &DeleteParams::default()).await.expect("delete the namespace");
    eventually("the namespace to be gone", || async {
        namespaces.get_opt("gadgets").await.expect("get").is_none().then_some(())
    })
    .await;
    let everywhere: Api<DynamicObject> = Api::all_with(client.clone(), &resource());
    let left = everywhere.list(&ListParams::default()).await.expect("list");
    assert!(left.items.is_empty(), "{:?}", left.items);

    tokio::time::sleep(Duration::from_millis(10)).await;
    controllers.shutdown().await;
    cluster.shutdown().await;
}
