//! kube-rs against berth's API server: the client library our own components are built on.

use berth_testkit::cluster::{Cluster, eventually};
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt as _, watcher};

#[tokio::test]
async fn list_create_patch_watch_delete() {
    let cluster = Cluster::start().await;
    let client = cluster.client();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect();
    assert!(names.contains(&"default".to_owned()), "{names:?}");
    assert!(names.contains(&"kube-system".to_owned()), "{names:?}");

    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut watch =
        watcher(configmaps.clone(), watcher::Config::default()).applied_objects().boxed();

    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("one".into());
    cm.data = Some([("a".to_owned(), "1".to_owned())].into());
    let created = configmaps.create(&PostParams::default(), &cm).await.unwrap();
    assert!(created.metadata.uid.is_some());

    let seen = watch.try_next().await.unwrap().unwrap();
    assert_eq!(seen.metadata.name.as_deref(), Some("one"));

    let patch = serde_json::json!({"data": {"b": "2"}});
    let patched =
        configmaps.patch("one", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    assert_eq!(patched.data.as_ref().unwrap().get("b").map(String::as_str), Some("2"));
    let seen = watch.try_next().await.unwrap().unwrap();
    assert_eq!(seen.data.as_ref().unwrap().len(), 2);

    configmaps.delete("one", &DeleteParams::default()).await.unwrap();
    eventually("the config map to be gone", || async {
        configmaps.get_opt("one").await.unwrap().is_none().then_some(())
    })
    .await;
    cluster.shutdown().await;
}
